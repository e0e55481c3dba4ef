/**
 * One run of the reconcile benchmark, in a process of its own (bench/reconcile.bench.ts starts
 * it), so that its peak resident memory is its own: not the simulator's, nor an earlier run's.
 * The job comes as JSON in argv[2]; the result goes back over IPC, with the process's peak RSS.
 *
 * Jobs: `reconcile` (discover, plan and apply, as `stickler apply` does), `plan` (discover and
 * plan only), `call-time` (what one call takes here, see callTime); the `compliance` job (the
 * compliance-run function's bundled handler) runs under plain Node, as Lambda runs it.
 */
import { OvhHttpClient } from '../lib/adapters/ovh/http-client';
import { OvhLoadBalancerApi } from '../lib/adapters/ovh/ovh-load-balancer-api';
import { OvhMetricsTraffic } from '../lib/adapters/ovh/ovh-metrics-traffic';
import { type ApplyOptions, DEFAULT_APPLY_OPTIONS, makeApplyPlan } from '../lib/app/apply-plan';
import { makeDiscoverFleet } from '../lib/app/discover-fleet';
import { makeReadTraffic } from '../lib/app/read-traffic';
import { DEFAULT_CONCURRENCY_CEILING } from '../lib/cli/session';
import { planFromPolicy } from '../lib/domain/plan';
import { parsePolicy } from '../lib/domain/policy-file';
import { DAY_MS } from '../lib/domain/traffic';
import { batchByZone } from '../lib/domain/zones';
import { systemClock } from '../lib/ports/clock';
import { GENERATED_FLEET_POLICY } from '../lib/simulator/fleet';
import { SIMULATOR_CREDENTIALS } from '../lib/simulator/server';

/** How the client is built: the CLI's default (adaptive from 8 up to 32), a fixed number, or one call at a time. */
export type ClientKind = { kind: 'cli-default' } | { kind: 'fixed'; concurrency: number };

export type RunJob =
  | { job: 'reconcile'; baseUrl: string; client: ClientKind }
  | { job: 'plan'; baseUrl: string; withTraffic?: boolean }
  | { job: 'call-time'; baseUrl: string; inFlight: number; rounds: number }
  | { job: 'compliance'; mode: 'report' | 'enforce'; env: Record<string, string> };

export interface RunResult {
  ms: number;
  /** Peak resident memory of this process, MiB. */
  peakRssMiB: number;
  farms?: number;
  changes?: number;
  /** Distinct services and (service, zone) pairs the changes touch, for the call bound. */
  changedServices?: number;
  zones?: { service: string; zone: string }[];
  applied?: number;
  failed?: number;
  failedCodes?: string[];
  refused?: number;
  concurrency?: { current: number; peak: number; decreases: number };
  callMs?: number;
  /** Plan with the traffic lookup: load balancers whose quietest slot was found. */
  known?: number;
  compliance?: { farmsChecked: number; drifted: number; requested: number };
  /**
   * A reconcile's course: OVH calls in flight sampled every 20 ms ([ms since start, calls]), and
   * each zone refresh asked and done ([ms since start, service/zone]).
   */
  timeline?: { inFlight: [number, number][]; refreshes: { zone: string; asked: number; done?: number }[] };
}

const INITIAL = 8;
const policy = parsePolicy(GENERATED_FLEET_POLICY, 'generated');
// The CLI's defaults, as `stickler apply` runs them.
const applyOptions: ApplyOptions = { ...DEFAULT_APPLY_OPTIONS, taskTimeoutMs: 60_000 };

/** Calls in flight now (every fetch of this process is an OVH call). */
let inFlight = 0;
const countingFetch: typeof fetch = async (input, init) => {
  inFlight++;
  try {
    return await fetch(input, init);
  } finally {
    inFlight--;
  }
};

const clientFor = (baseUrl: string, client: ClientKind) =>
  new OvhHttpClient({
    fetch: countingFetch,
    baseUrl,
    credentials: SIMULATOR_CREDENTIALS,
    timeoutMs: 30_000,
    ...(client.kind === 'fixed'
      ? { concurrency: client.concurrency }
      : { concurrency: DEFAULT_CONCURRENCY_CEILING, adaptive: { initial: INITIAL } }),
  });

const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;

const run = async (job: RunJob): Promise<Omit<RunResult, 'peakRssMiB'>> => {
  if (job.job === 'call-time') {
    const http = clientFor(job.baseUrl, { kind: 'fixed', concurrency: job.inFlight });
    await http.get('/ipLoadbalancing'); // the clock offset, and a connection
    const started = performance.now();
    await Promise.all(Array.from({ length: job.inFlight * job.rounds }, () => http.get('/ipLoadbalancing')));
    const ms = performance.now() - started;
    return { ms, callMs: ms / job.rounds };
  }
  if (job.job === 'compliance')
    throw new Error('the compliance job runs the bundled handler (reconcile.bench.ts)');
  const http = clientFor(job.baseUrl, job.job === 'reconcile' ? job.client : { kind: 'cli-default' });
  const api = new OvhLoadBalancerApi(http);
  const started = performance.now();
  // The course of the run: calls in flight every 20 ms (discovery included), and each zone's refresh.
  const at = () => Math.round(performance.now() - started);
  const samples: [number, number][] = [];
  const sampler = job.job === 'reconcile' ? setInterval(() => samples.push([at(), inFlight]), 20) : undefined;
  const farms = await makeDiscoverFleet({ api })();
  const plan = planFromPolicy(farms, policy);
  if (job.job === 'plan') {
    // As `stickler plan` does: the traffic of each load balancer the plan would refresh.
    const report = job.withTraffic
      ? await makeReadTraffic({ traffic: new OvhMetricsTraffic(http), clock: systemClock })({
          services: plan.changes.map((c) => c.farm.service),
          window: { start: Date.now(), end: Date.now() + DAY_MS },
        })
      : undefined;
    return {
      ms: performance.now() - started,
      farms: farms.length,
      ...(report ? { known: report.services.filter((t) => t.known && t.quietest).length } : {}),
    };
  }
  const refreshes = new Map<string, { zone: string; asked: number; done?: number }>();
  const report = await makeApplyPlan({
    api,
    clock: systemClock,
    onProgress: (event) => {
      if (event.kind === 'refresh-started')
        refreshes.set(`${event.service}/${event.zone}`, {
          zone: `${event.service}/${event.zone}`,
          asked: at(),
        });
      if (event.kind === 'refresh-finished') {
        const r = refreshes.get(`${event.result.service}/${event.result.zone}`);
        if (r) r.done = at();
      }
    },
  })(plan, applyOptions);
  clearInterval(sampler);
  const ms = performance.now() - started;
  return {
    ms,
    farms: farms.length,
    changes: plan.changes.length,
    changedServices: new Set(plan.changes.map((c) => c.farm.service)).size,
    zones: batchByZone(plan.changes).map((b) => ({ service: b.service, zone: b.zone })),
    applied: report.applied.length,
    failed: report.failed.length,
    failedCodes: [...new Set(report.failed.map((f) => f.code))],
    refused: report.refused.length,
    concurrency: http.concurrency(),
    timeline: { inFlight: samples, refreshes: [...refreshes.values()] },
  };
};

if (require.main === module) {
  const job = JSON.parse(process.argv[2]!) as RunJob;
  run(job).then(
    (result) => {
      process.send!({ ok: true, result: { ...result, peakRssMiB: peakRssMiB() } }, () => process.exit(0));
    },
    (error: unknown) => {
      process.send!({ ok: false, error: String((error as Error)?.stack ?? error) }, () => process.exit(1));
    },
  );
}
