/** `stickler simulate [--pipeline]`: the OVH IPLB simulator (and the local pipeline) until Ctrl-C. */
import { chmodSync, lstatSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../../domain/errors';
import { PORT_OFFSETS } from '../../local/listen';
import { startLocalPipeline } from '../../local/pipeline';
import { parseFleet } from '../../simulator/fleet';
import {
  METRICS_MODES,
  type MetricsMode,
  SIMULATOR_CREDENTIALS,
  SIMULATOR_SERVICE_ACCOUNT,
  simulatorEnv,
  startSimulator,
} from '../../simulator/server';
import { type Flags, number, packageRoot, readInput } from '../args';
import { describeEvent } from '../demo-pipeline';
import { type CliIo, EXIT, UsageError } from '../io';

/** `--metrics`: what the simulator's metrics endpoint answers. */
const metricsMode = (flags: Flags): MetricsMode => {
  const value = flags.metrics ?? 'on';
  if (!(METRICS_MODES as readonly string[]).includes(value))
    throw new UsageError(`--metrics must be one of ${METRICS_MODES.join(', ')}, got '${value.slice(0, 20)}'`);
  return value as MetricsMode;
};

export const startSimulatorFromFlags = (
  flags: Flags,
  fleetText: string,
  fleetSource: string,
  port?: number,
) =>
  startSimulator({
    fleet: parseFleet(fleetText, fleetSource),
    metrics: metricsMode(flags),
    port: port ?? number(flags, 'port', 0, { max: 65_535 }),
    task: {
      todoMs: number(flags, 'task-ms', 1_000) / 4,
      doingMs: (number(flags, 'task-ms', 1_000) * 3) / 4,
    },
    faults: {
      seed: number(flags, 'seed', 1, { max: Number.MAX_SAFE_INTEGER }),
      latencyMs: number(flags, 'latency', 0),
      serverErrorRate: number(flags, 'error-rate', 0, { max: 1, fraction: true }),
      throttleRate: number(flags, 'throttle-rate', 0, { max: 1, fraction: true }),
      hangRate: number(flags, 'hang-rate', 0, { max: 1, fraction: true }),
      taskErrorRate: number(flags, 'task-error-rate', 0, { max: 1, fraction: true }),
    },
  });

/** `--port-base N`: the simulator on N, the pipeline's parts on N+1 to N+6 (lib/local/listen.ts). */
const portBaseOf = (flags: Flags): number | undefined => {
  if (flags['port-base'] === undefined) return undefined;
  if (!flags.pipeline)
    throw new UsageError('--port-base goes with --pipeline (the simulator alone takes --port)');
  if (flags.port !== undefined) throw new UsageError('give --port or --port-base, not both');
  const last = Math.max(...Object.values(PORT_OFFSETS));
  return number(flags, 'port-base', 0, { min: 1024, max: 65_535 - last });
};

/** The exports, as lines a shell can `source` (a value with anything but plain characters quoted: nothing in it runs). */
const exportLines = (env: Record<string, string>) =>
  Object.entries(env).map(
    ([k, v]) => `export ${k}=${/^[\w@%+=:,./-]*$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`}\n`,
  );

/** The simulator, on the base port when --port-base gives one (a port in use said in its words). */
const startSimulatorOn = (
  flags: Flags,
  fleetText: string,
  fleetSource: string,
  portBase: number | undefined,
) =>
  startSimulatorFromFlags(flags, fleetText, fleetSource, portBase).catch((error: unknown) => {
    // With --port-base, the simulator's port is the base: say so, not --port (refused with it).
    if (portBase !== undefined && error instanceof ConfigError && /is in use/.test(error.message))
      throw new ConfigError(
        `port ${portBase} (the simulator) is in use: choose another --port-base, or leave it out for free ports`,
      );
    throw error;
  });

/**
 * What another shell needs: the exports, after clearing the other kind of OVH credentials it may
 * hold from an earlier start (both set is refused). POWERTOOLS_* set how the functions running
 * here log; exported, they would make the other shell's `stickler compliance` print its logs.
 */
const exportsOf = (env: Record<string, string>): string[] => [
  env.OVH_CLIENT_ID
    ? 'unset OVH_APPLICATION_KEY OVH_APPLICATION_SECRET OVH_CONSUMER_KEY\n'
    : 'unset OVH_CLIENT_ID OVH_CLIENT_SECRET\n',
  ...exportLines(Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('POWERTOOLS_')))),
];

/** Writes the exports where --exports-file says: not through a link, readable by the user only. */
const writeExportsFile = (written: string, exported: string[]) => {
  // A link is not followed: in a shared folder it could point at someone else's file.
  if (lstatSync(written, { throwIfNoEntry: false })?.isSymbolicLink())
    throw new UsageError(`--exports-file: ${written} is a symbolic link; give the file itself`);
  try {
    // Only the user may read it: it holds the local pipeline's (development) secrets.
    writeFileSync(
      written,
      `# stickler simulate --pipeline, ${new Date().toISOString()}\n${exported.join('')}`,
      {
        mode: 0o600,
      },
    );
    chmodSync(written, 0o600);
  } catch (error) {
    throw new UsageError(
      `--exports-file: cannot write ${written}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
};

export async function simulateCommand(io: CliIo, flags: Flags): Promise<number> {
  const portBase = portBaseOf(flags);
  const envFile = flags['exports-file'];
  if (envFile !== undefined && !flags.pipeline) throw new UsageError('--exports-file goes with --pipeline');
  if (envFile !== undefined && !envFile.trim())
    throw new UsageError('--exports-file: give the file to write the exports to');
  const file = flags.fleet ?? join(packageRoot(), 'examples', 'fleet.yaml');
  const sim = await startSimulatorOn(flags, readInput(io.cwd, file, 'fleet'), file, portBase);
  const farms = [...sim.state.services.values()].reduce((n, s) => n + s.farms.size, 0);
  // The simulator takes both kinds of credentials at once; the exports name one, as stickler takes one.
  const credentials = flags['service-account'] ? SIMULATOR_SERVICE_ACCOUNT : SIMULATOR_CREDENTIALS;
  let env = simulatorEnv(sim.baseUrl, credentials);
  // A pipeline that cannot start (a configuration error) stops the simulator too: the process ends
  // with the error, never left running half started.
  const pipeline = flags.pipeline
    ? await startLocalPipeline({
        ovhBaseUrl: sim.baseUrl,
        ovhCredentials: credentials,
        onEvent: (e) => io.stdout.write(`bus: ${describeEvent(e)}\n`),
        onNote: (n) =>
          io.stdout.write(
            `${n.system === 'jira' ? 'Jira (local stand-in): comment on' : 'ServiceNow (local stand-in): work note on'} ${n.ticket}: ${n.text}\n`,
          ),
        onBatch: (records, result) =>
          io.stdout.write(
            `apply-worker: batch of ${records.length} record(s), ${result?.batchItemFailures.length ?? 0} handed back\n`,
          ),
        ...(portBase !== undefined ? { portBase } : {}),
      }).catch(async (error: unknown) => {
        await sim.close();
        throw error;
      })
    : undefined;
  if (pipeline) env = { ...pipeline.env, AWS_ENDPOINT_URL_EVENTBRIDGE: pipeline.bus.url };
  const exported = exportsOf(env);
  const written = envFile !== undefined ? resolve(io.cwd, envFile) : undefined;
  if (written)
    try {
      writeExportsFile(written, exported);
    } catch (error) {
      await pipeline?.close();
      await sim.close();
      throw error;
    }
  io.stdout.write(
    `OVH IPLB simulator: ${sim.state.services.size} load balancers, ${farms} farms, listening on ${sim.baseUrl}\n` +
      (pipeline
        ? `Local pipeline: bus ${env.EVENT_BUS_NAME} at ${pipeline.bus.url} → queue → apply-worker; DynamoDB (dynalite) at ${env.AWS_ENDPOINT_URL_DYNAMODB}\n` +
          `HTTP API: POST ${pipeline.api.url}/webhooks/{jira,servicenow,generic} (signed with the STICKLER_WEBHOOK_SECRET_* below)\n` +
          `          POST ${pipeline.api.url}/slack/commands and /slack/interactions (signed with SLACK_SIGNING_SECRET; ` +
          `set: ${pipeline.env.STICKLER_SLACK_SETTERS ? `users ${pipeline.env.STICKLER_SLACK_SETTERS} in ${pipeline.env.STICKLER_SLACK_CHANNELS || 'no channel'}` : 'nobody, until STICKLER_SLACK_SETTERS and STICKLER_SLACK_CHANNELS are set'})\n` +
          (pipeline.ticketing
            ? `Outcomes go back to local stand-ins of a Jira site and a ServiceNow instance, printed here as they arrive\n`
            : `Outcomes go back to the Jira site and ServiceNow instance of JIRA_BASE_URL and SERVICENOW_BASE_URL\n`)
        : '') +
      `From another shell (these credentials and secrets only open the simulator and the local pipeline):\n\n` +
      (written ? `  source ${written}\n` : exported.map((line) => `  ${line}`).join('')) +
      `\nCtrl-C stops it.\n`,
  );
  await (io.untilStopped?.() ?? new Promise<void>(() => undefined));
  await pipeline?.close();
  await sim.close();
  return EXIT.ok;
}
