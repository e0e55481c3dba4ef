/**
 * The `stickler` command line: show, plan, apply, set, simulate, and demo (the main job on the
 * embedded example fleet and policy, against the local simulator).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { ovhConfigFromEnv } from '../adapters/ovh/config';
import { OvhHttpClient } from '../adapters/ovh/http-client';
import { OvhLoadBalancerApi } from '../adapters/ovh/ovh-load-balancer-api';
import {
  type ApplyOptions,
  type ApplyProgress,
  type ApplyReport,
  DEFAULT_APPLY_OPTIONS,
  makeApplyPlan,
} from '../app/apply-plan';
import { makeApplyRequests } from '../app/apply-requests';
import { makeDiscoverFleet } from '../app/discover-fleet';
import { makeZoneRefresher } from '../app/refresh-zone';
import { type ChangeRequest, ChangeRequestSchema } from '../domain/change-request';
import { describeIssues } from '../domain/describe-issue';
import { SticklerError } from '../domain/errors';
import { assertWithinLimits, type Plan, planFromPolicy } from '../domain/plan';
import { parsePolicy } from '../domain/policy-file';
import { batchByZone, dirtyZones, type PendingChange } from '../domain/zones';
import { startLocalPipeline } from '../local/pipeline';
import { systemClock } from '../ports/clock';
import type { LoadBalancerApi } from '../ports/load-balancer-api';
import { parseFleet } from '../simulator/fleet';
import { SIMULATOR_CREDENTIALS, simulatorEnv, startSimulator } from '../simulator/server';
import { describeEvent, runPipelineDemo } from './demo-pipeline';
import { renderApplyReport, renderFleet, renderPlan, SESSION_LOSS_WARNING } from './render';
import { applyJson, planJson, refreshJson } from './report-json';

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  /** True when a person is at a terminal who can answer a prompt. */
  interactive: boolean;
  cwd: string;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM); used by `simulate`. */
  untilStopped?: () => Promise<void>;
  /** Calls `listener` on the first interrupt (Ctrl-C) of a run; returns a function that stops listening. */
  onInterrupt?: (listener: () => void) => () => void;
}

export class UsageError extends SticklerError {
  constructor(message: string) {
    super('usage', message);
  }
}

export const EXIT = { ok: 0, error: 1, drift: 2, refused: 2 } as const;

const USAGE = `stickler — change-controlled session stickiness for OVHcloud Load Balancers

Usage:
  stickler show [SERVICE...] [--json]
  stickler plan --policy FILE [--service NAME]... [--json]
  stickler apply --policy FILE [--service NAME]... [--yes] [--allow-foreign-pending] [--json]
  stickler set SERVICE TYPE/FARM_ID STICKINESS [--ticket KEY] [--reason TEXT] [--allow-foreign-pending] [--json]
  stickler refresh SERVICE ZONE [--yes] [--json]    apply a zone's unapplied changes, whoever made them
  stickler simulate [--fleet FILE] [--port N] [--pipeline] [--latency MS] [--seed N] [--error-rate R]
                    [--throttle-rate R] [--hang-rate R] [--task-error-rate R] [--task-ms MS]
  stickler demo     run plan and apply of the example policy on the example fleet, in the simulator

Stickiness words: cookie (HTTP farms only), sourceIp, none.
Connection: OVH_ENDPOINT (ovh-eu, ovh-ca, ovh-us or a base URL), OVH_APPLICATION_KEY,
OVH_APPLICATION_SECRET, OVH_CONSUMER_KEY.
Tuning: --concurrency N (8), --timeout MS per call (15000), --poll-interval MS (2000),
--task-timeout MS (600000).

Exit codes: 0 done (plan: compliant); 2 plan: drift found, apply/set: something refused;
1 error or a change failed.`;

const OPTIONS = {
  json: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  help: { type: 'boolean', short: 'h' },
  policy: { type: 'string', short: 'p' },
  service: { type: 'string', multiple: true },
  ticket: { type: 'string' },
  reason: { type: 'string' },
  'allow-foreign-pending': { type: 'boolean' },
  concurrency: { type: 'string' },
  timeout: { type: 'string' },
  'poll-interval': { type: 'string' },
  'task-timeout': { type: 'string' },
  fleet: { type: 'string' },
  pipeline: { type: 'boolean' },
  port: { type: 'string' },
  latency: { type: 'string' },
  seed: { type: 'string' },
  'error-rate': { type: 'string' },
  'throttle-rate': { type: 'string' },
  'hang-rate': { type: 'string' },
  'task-error-rate': { type: 'string' },
  'task-ms': { type: 'string' },
} as const;

type Flags = ReturnType<typeof parse>['values'];
const parse = (argv: string[]) =>
  parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });

const number = (
  flags: Flags,
  name: keyof Flags,
  fallback: number,
  { min = 0, max = Number.MAX_SAFE_INTEGER } = {},
) => {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    throw new UsageError(
      `--${String(name)} must be a number between ${min} and ${max}, got '${String(raw)}'`,
    );
  }
  return value;
};

/** The folder holding package.json, found from this file whether bundled (dist/) or not (lib/cli/). */
export const packageRoot = (): string => {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'examples'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the stickler package folder');
    dir = up;
  }
  return dir;
};

const readInput = (cwd: string, file: string, what: string): string => {
  try {
    return readFileSync(resolve(cwd, file), 'utf8');
  } catch (error) {
    throw new UsageError(
      `cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
};

interface Session {
  api: LoadBalancerApi;
  applyOptions: ApplyOptions;
}

const connect = (env: NodeJS.ProcessEnv, flags: Flags): Session => {
  const config = ovhConfigFromEnv(env);
  const client = new OvhHttpClient({
    baseUrl: config.baseUrl,
    credentials: config.credentials,
    concurrency: number(flags, 'concurrency', 8, { min: 1, max: 64 }),
    timeoutMs: number(flags, 'timeout', 15_000, { min: 100 }),
  });
  return {
    api: new OvhLoadBalancerApi(client),
    applyOptions: {
      allowForeignPending: flags['allow-foreign-pending'] ?? false,
      pollIntervalMs: number(flags, 'poll-interval', DEFAULT_APPLY_OPTIONS.pollIntervalMs, { min: 10 }),
      taskTimeoutMs: number(flags, 'task-timeout', DEFAULT_APPLY_OPTIONS.taskTimeoutMs, { min: 100 }),
    },
  };
};

/**
 * Runs `work` with an AbortSignal tied to Ctrl-C: the first interrupt lets the zones already
 * being written finish (nothing is left stored but not applied) and starts no others.
 */
const interruptible = async <T>(io: CliIo, work: (signal: AbortSignal) => Promise<T>): Promise<T> => {
  const controller = new AbortController();
  const stop = io.onInterrupt?.(() => {
    controller.abort();
    io.stderr.write(
      '\nInterrupted: finishing the zones already being written, starting no others. Ctrl-C again stops at once\n' +
        '(and may leave changes stored but not applied).\n',
    );
  });
  try {
    return await work(controller.signal);
  } finally {
    stop?.();
  }
};

/** Progress lines on stderr: every refresh, and writes in 10% steps. */
const progressPrinter = (io: CliIo) => {
  let lastStep = -1;
  return (event: ApplyProgress) => {
    switch (event.kind) {
      case 'written': {
        const step = Math.floor((event.done / event.total) * 10);
        if (step !== lastStep && (event.total >= 20 || event.done === event.total)) {
          lastStep = step;
          io.stderr.write(`  stored ${event.done}/${event.total} farm changes\n`);
        }
        break;
      }
      case 'waiting-for-running-tasks':
        io.stderr.write(
          `  ${event.service}: waiting for refresh task(s) ${event.taskIds.join(', ')} already running\n`,
        );
        break;
      case 'refresh-started':
        io.stderr.write(
          `  ${event.service} zone ${event.zone}: applying ${event.changes} change(s), task ${event.taskId}\n`,
        );
        break;
      case 'refresh-finished':
        io.stderr.write(
          `  ${event.result.service} zone ${event.result.zone}: ${event.result.status}${event.result.error ? ` (${event.result.error})` : ''}\n`,
        );
        break;
    }
  };
};

const confirm = async (io: CliIo, question: string): Promise<boolean> => {
  const rl = createInterface({
    input: io.stdin,
    output: io.stderr as NodeJS.WritableStream,
    terminal: false,
  });
  try {
    const answer = await rl.question(question);
    return answer.trim().toLowerCase() === 'yes';
  } finally {
    rl.close();
  }
};

const applyExitCode = (report: ApplyReport): number =>
  report.failed.length > 0 ? EXIT.error : report.refused.length > 0 ? EXIT.refused : EXIT.ok;

/** Reads the fleet; a listed load balancer stickler cannot use is skipped with a warning on stderr. */
const discover = (session: Session, io: CliIo, services: readonly string[] | undefined) =>
  makeDiscoverFleet({ api: session.api })({
    services,
    onSkipped: (service, reason) => io.stderr.write(`WARNING: skipped ${service}: ${reason}\n`),
  });

const planPolicy = async (session: Session, io: CliIo, flags: Flags) => {
  if (!flags.policy) throw new UsageError('--policy FILE is required');
  const policy = parsePolicy(readInput(io.cwd, flags.policy, 'policy'), flags.policy);
  const fleet = await discover(session, io, flags.service);
  return { policy, fleet, plan: planFromPolicy(fleet, policy) };
};

const cmdShow = async (session: Session, io: CliIo, flags: Flags, services: string[]) => {
  const fleet = await discover(session, io, services);
  const names = [...new Set(fleet.map((f) => f.service))];
  const pending = new Map<string, PendingChange[]>(
    await Promise.all(names.map(async (s) => [s, await session.api.pendingChanges(s)] as const)),
  );
  if (flags.json) {
    io.stdout.write(
      `${JSON.stringify(
        {
          services: names.map((service) => ({
            service,
            pendingChanges: pending.get(service) ?? [],
            farms: fleet
              .filter((f) => f.service === service)
              .map((f) => ({
                type: f.type,
                farmId: f.farmId,
                zone: f.zone,
                displayName: f.displayName,
                stickiness: f.type === 'udp' ? null : (f.stickiness ?? 'none'),
              })),
          })),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    io.stdout.write(renderFleet(fleet, pending));
    io.stdout.write(
      'STICKINESS is the stored value. OVH does not expose the applied configuration: a farm is live as shown\n' +
        "unless its zone has unapplied changes ('stickler refresh SERVICE ZONE' applies them).\n",
    );
  }
  return EXIT.ok;
};

const cmdPlan = async (session: Session, io: CliIo, flags: Flags) => {
  const { plan, policy } = await planPolicy(session, io, flags);
  io.stdout.write(flags.json ? `${JSON.stringify(planJson(plan), null, 2)}\n` : renderPlan(plan));
  try {
    assertWithinLimits(plan, policy);
  } catch (error) {
    // The same check apply makes, said before anyone tries.
    io.stderr.write(`WARNING: apply would refuse this plan: ${(error as Error).message}\n`);
  }
  return plan.changes.length > 0 || plan.invalid.length > 0 ? EXIT.drift : EXIT.ok;
};

const executeWithConfirmation = async (
  io: CliIo,
  flags: Flags,
  plan: Plan,
  run: () => Promise<ApplyReport>,
): Promise<number> => {
  if (!flags.json) io.stdout.write(renderPlan(plan));
  if (plan.changes.length > 0) {
    const zones = batchByZone(plan.changes);
    if (!flags.json) {
      io.stdout.write(
        `\nWARNING: ${SESSION_LOSS_WARNING}\nZones to apply: ${zones.map((z) => `${z.service} ${z.zone}`).join(', ')}\n\n`,
      );
    }
    if (!flags.yes) {
      if (!io.interactive) {
        throw new UsageError(
          'refusing to apply without confirmation: not on a terminal, pass --yes to apply',
        );
      }
      if (
        !(await confirm(
          io,
          `Apply ${plan.changes.length} change(s) in ${zones.length} zone(s)? Type 'yes' to go on: `,
        ))
      ) {
        io.stderr.write('Nothing applied.\n');
        return EXIT.error;
      }
    }
  }
  const report = await run();
  io.stdout.write(
    flags.json ? `${JSON.stringify(applyJson(plan, report), null, 2)}\n` : renderApplyReport(report),
  );
  return applyExitCode(report);
};

const cmdApply = async (session: Session, io: CliIo, flags: Flags) => {
  const { policy, plan } = await planPolicy(session, io, flags);
  assertWithinLimits(plan, policy);
  const apply = makeApplyPlan({ api: session.api, clock: systemClock, onProgress: progressPrinter(io) });
  return executeWithConfirmation(io, flags, plan, () =>
    interruptible(io, (signal) => apply(plan, { ...session.applyOptions, signal })),
  );
};

const parseFarmArg = (value: string): { farmType: string; farmId: number } => {
  const match = /^(http|tcp|udp)\/(\d+)$/.exec(value);
  if (!match)
    throw new UsageError(`farm must be TYPE/FARM_ID, for example http/123 or tcp/45, got '${value}'`);
  return { farmType: match[1]!, farmId: Number(match[2]) };
};

const cmdSet = async (session: Session, io: CliIo, flags: Flags, args: string[]) => {
  if (args.length !== 3) throw new UsageError('usage: stickler set SERVICE TYPE/FARM_ID STICKINESS');
  const [service, farm, stickiness] = args as [string, string, string];
  const candidate = {
    requestId: `cli-${randomUUID()}`,
    service,
    ...parseFarmArg(farm),
    stickiness,
    actor: { kind: 'cli', id: io.env.USER || io.env.LOGNAME || 'unknown' },
    ...(flags.ticket ? { ticket: flags.ticket } : {}),
    ...(flags.reason ? { reason: flags.reason } : {}),
    requestedAt: systemClock.now().toISOString(),
  };
  const parsed = ChangeRequestSchema.safeParse(candidate);
  if (!parsed.success)
    throw new UsageError(`invalid change: ${describeIssues(parsed.error.issues, candidate)}`);
  const request: ChangeRequest = parsed.data;
  const apply = makeApplyRequests({ api: session.api, clock: systemClock, onProgress: progressPrinter(io) });
  const { plan, report } = await interruptible(io, (signal) =>
    apply([request], { ...session.applyOptions, signal }),
  );
  if (!flags.json && plan.changes.length > 0) io.stderr.write(`WARNING: ${SESSION_LOSS_WARNING}\n`);
  io.stdout.write(
    flags.json ? `${JSON.stringify(applyJson(plan, report), null, 2)}\n` : renderApplyReport(report),
  );
  return applyExitCode(report);
};

/**
 * Applies one zone's unapplied changes, whoever made them: the way to finish a zone left
 * "stored but not applied", or to push a control-panel edit, deliberately and visibly.
 */
const cmdRefresh = async (session: Session, io: CliIo, flags: Flags, args: string[]) => {
  if (args.length !== 2) throw new UsageError('usage: stickler refresh SERVICE ZONE');
  const [service, zone] = args as [string, string];
  const pending = dirtyZones(await session.api.pendingChanges(service))(zone);
  const report = (body: Record<string, unknown>) => {
    if (flags.json)
      io.stdout.write(`${JSON.stringify({ service, zone, pendingChanges: pending, ...body }, null, 2)}\n`);
  };
  if (pending === 0) {
    report({ applied: false, refreshes: [] });
    if (!flags.json)
      io.stdout.write(`Zone ${zone} of ${service} has no unapplied changes: nothing to apply.\n`);
    return EXIT.ok;
  }
  if (!flags.json) {
    io.stdout.write(
      `Zone ${zone} of ${service} holds ${pending} unapplied change(s), made by stickler or anyone else.\n` +
        `WARNING: ${SESSION_LOSS_WARNING}\n`,
    );
  }
  if (!flags.yes) {
    if (!io.interactive)
      throw new UsageError('refusing to apply without confirmation: not on a terminal, pass --yes to apply');
    if (!(await confirm(io, `Apply zone ${zone} of ${service}? Type 'yes' to go on: `))) {
      io.stderr.write('Nothing applied.\n');
      return EXIT.error;
    }
  }
  const refresher = makeZoneRefresher({
    api: session.api,
    clock: systemClock,
    onProgress: progressPrinter(io),
  });
  const running = await refresher.runningRefreshes(service);
  if (running.length > 0) {
    io.stderr.write(`  ${service}: waiting for refresh task(s) ${running.join(', ')} already running\n`);
    await Promise.all(running.map((id) => refresher.waitForTask(service, id, session.applyOptions)));
  }
  const outcome = await refresher.refreshZone(service, zone, pending, session.applyOptions);
  report({
    applied: outcome.applied,
    refreshes: outcome.attempts.map(refreshJson),
    ...(outcome.error ? { error: outcome.error } : {}),
    ...(outcome.queryId ? { queryId: outcome.queryId } : {}),
  });
  if (!flags.json) {
    io.stdout.write(
      outcome.applied
        ? `Zone ${zone} of ${service} applied.\n`
        : `Zone ${zone} of ${service} NOT applied: ${outcome.error}${outcome.queryId ? ` (query id ${outcome.queryId})` : ''}\n`,
    );
  }
  return outcome.applied ? EXIT.ok : EXIT.error;
};

const startSimulatorFromFlags = (flags: Flags, fleetText: string, fleetSource: string) =>
  startSimulator({
    fleet: parseFleet(fleetText, fleetSource),
    port: number(flags, 'port', 0, { max: 65_535 }),
    task: {
      todoMs: number(flags, 'task-ms', 1_000) / 4,
      doingMs: (number(flags, 'task-ms', 1_000) * 3) / 4,
    },
    faults: {
      seed: number(flags, 'seed', 1),
      latencyMs: number(flags, 'latency', 0),
      serverErrorRate: number(flags, 'error-rate', 0, { max: 1 }),
      throttleRate: number(flags, 'throttle-rate', 0, { max: 1 }),
      hangRate: number(flags, 'hang-rate', 0, { max: 1 }),
      taskErrorRate: number(flags, 'task-error-rate', 0, { max: 1 }),
    },
  });

const cmdSimulate = async (io: CliIo, flags: Flags) => {
  const file = flags.fleet ?? join(packageRoot(), 'examples', 'fleet.yaml');
  const sim = await startSimulatorFromFlags(flags, readInput(io.cwd, file, 'fleet'), file);
  const farms = [...sim.state.services.values()].reduce((n, s) => n + s.farms.size, 0);
  let env = simulatorEnv(sim.baseUrl);
  const pipeline = flags.pipeline
    ? await startLocalPipeline({
        ovhBaseUrl: sim.baseUrl,
        ovhCredentials: SIMULATOR_CREDENTIALS,
        onEvent: (e) => io.stdout.write(`bus: ${describeEvent(e)}\n`),
        onBatch: (records, result) =>
          io.stdout.write(
            `apply-worker: batch of ${records.length} record(s), ${result?.batchItemFailures.length ?? 0} handed back\n`,
          ),
      })
    : undefined;
  if (pipeline) env = { ...pipeline.env, AWS_ENDPOINT_URL_EVENTBRIDGE: pipeline.bus.url };
  io.stdout.write(
    `OVH IPLB simulator: ${sim.state.services.size} load balancers, ${farms} farms, listening on ${sim.baseUrl}\n` +
      (pipeline
        ? `Local pipeline: bus ${env.EVENT_BUS_NAME} at ${pipeline.bus.url} → queue → apply-worker; DynamoDB (dynalite) at ${env.AWS_ENDPOINT_URL_DYNAMODB}\n`
        : '') +
      `From another shell (these credentials only open the simulator):\n\n` +
      Object.entries(env)
        .map(([k, v]) => `  export ${k}=${v}\n`)
        .join('') +
      `\nCtrl-C stops it.\n`,
  );
  await (io.untilStopped?.() ?? new Promise<void>(() => undefined));
  await pipeline?.close();
  await sim.close();
  return EXIT.ok;
};

const cmdDemo = async (io: CliIo, flags: Flags) => {
  const root = packageRoot();
  const fleetFile = join(root, 'examples', 'fleet.yaml');
  const policyFile = join(root, 'examples', 'policy.yaml');
  const sim = await startSimulatorFromFlags(
    { ...flags, latency: flags.latency ?? '5', 'task-ms': flags['task-ms'] ?? '800' },
    readFileSync(fleetFile, 'utf8'),
    fleetFile,
  );
  const say = (text: string) => io.stdout.write(`\n=== ${text}\n\n`);
  try {
    const env = { ...io.env, ...simulatorEnv(sim.baseUrl) };
    const session = connect(env, { ...flags, 'poll-interval': flags['poll-interval'] ?? '200' });
    // Progress goes to stdout here so the story reads in order.
    const sub = (argv: string[]) => dispatch(argv, { ...io, env, stderr: io.stdout }, session);
    io.stdout.write(
      `stickler demo: the OVH IPLB simulator runs the example fleet (${fleetFile}) on ${sim.baseUrl};\nno OVH or AWS account is used.\n`,
    );
    say('stickler show — the fleet as stored');
    await sub(['show']);
    say(`stickler plan --policy examples/policy.yaml`);
    const planned = await sub(['plan', '--policy', policyFile]);
    say('stickler apply --policy examples/policy.yaml --yes');
    const applied = await sub(['apply', '--policy', policyFile, '--yes']);
    say('stickler plan again — every farm the policy can reach now complies');
    const after = await sub(['plan', '--policy', policyFile]);
    say('stickler set loadbalancer-7f3a9c21 tcp/201 cookie — refused before any write');
    const puts = sim.stats.calls['put-farm'];
    await sub(['set', 'loadbalancer-7f3a9c21', 'tcp/201', 'cookie', '--ticket', 'OPS-1234']);
    io.stdout.write(`(PUT calls made by that set: ${sim.stats.calls['put-farm'] - puts})\n`);
    say('the serverless pipeline, locally: EventBridge bus → SQS queue → apply-worker → audit events');
    io.stdout.write(
      'Stood in locally: the bus and its rule, the queue and its event source mapping, EventBridge Scheduler,\n' +
        'SSM. Real: the apply-worker handler and its own AWS client (fetch + SigV4) over HTTP, the AWS SDK\n' +
        'EventBridge client publishing requests as other systems do, DynamoDB (dynalite), the OVH API (simulator).\n\n',
    );
    const pipelineOk = await runPipelineDemo(sim, SIMULATOR_CREDENTIALS, (t) => io.stdout.write(t), {
      batchWindowMs: 500,
      pollIntervalMs: number(
        { ...flags, 'poll-interval': flags['poll-interval'] ?? '200' },
        'poll-interval',
        200,
      ),
    });
    const calls = Object.entries(sim.stats.calls)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    say('what happened');
    io.stdout.write(
      `plan exit ${planned} (drift), apply exit ${applied}, plan after exit ${after}: the one farm still reported\n` +
        `is a TCP farm the policy asks cookie of, which no apply can fix; the policy needs a rule for it.\n` +
        `OVH API calls served by the simulator: ${calls}.\n`,
    );
    return applied === EXIT.error || !pipelineOk ? EXIT.error : EXIT.ok;
  } finally {
    await sim.close();
  }
};

const dispatch = async (argv: string[], io: CliIo, session?: Session): Promise<number> => {
  const { values: flags, positionals } = parse(argv);
  const [command, ...args] = positionals;
  if (flags.help || !command) {
    io.stdout.write(`${USAGE}\n`);
    return command || flags.help ? EXIT.ok : EXIT.error;
  }
  const live = () => session ?? connect(io.env, flags);
  switch (command) {
    case 'show':
      return cmdShow(live(), io, flags, args);
    case 'plan':
      return cmdPlan(live(), io, flags);
    case 'apply':
      return cmdApply(live(), io, flags);
    case 'set':
      return cmdSet(live(), io, flags, args);
    case 'refresh':
      return cmdRefresh(live(), io, flags, args);
    case 'simulate':
      return cmdSimulate(io, flags);
    case 'demo':
      return cmdDemo(io, flags);
    default:
      throw new UsageError(
        `unknown command '${command}' (try: show, plan, apply, set, refresh, simulate, demo)`,
      );
  }
};

/** Runs one CLI invocation and returns its exit code; errors are printed, never thrown. */
export const runCli = async (argv: string[], io: CliIo): Promise<number> => {
  try {
    return await dispatch(argv, io);
  } catch (error) {
    const message =
      error instanceof SticklerError
        ? error.message
        : (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
          ? `${(error as Error).message} (see stickler --help)`
          : `unexpected error: ${(error as Error)?.message ?? String(error)}`;
    io.stderr.write(`stickler: ${message}\n`);
    return EXIT.error;
  }
};
