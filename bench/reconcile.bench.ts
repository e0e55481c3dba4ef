/**
 * Reconcile benchmark, at the CLI's default settings (adaptive concurrency starting at 8 with a
 * ceiling of 32, adaptive task polling capped at 2 s, farm discovery `auto`), against the
 * simulator with 50 ms per call and 300 ms refresh tasks:
 *
 *   2,000 farms (20 services × 3 zones, a third drifted): discovery + plan + apply, next to the
 *     critical-path bound for the concurrency it reached and (a) the same work one call at a time;
 *   8,000 farms: the same, with (a) estimated from its calls (a measured run would take 10 minutes);
 *   plan only (discovery), with and without OVH's aggregated farm listing;
 *   under 429 bursts: the run slows down (its concurrency halves) instead of failing;
 *   plan with and without the traffic lookup (`plan`'s metrics token and Prometheus queries for
 *     each load balancer it would refresh), at 2,000 farms.
 *
 * Targets: calls at the lower bound, zero writes when compliant, the 2,000-farm run at least 15×
 * faster than one call at a time and within 1.2× of its bound, the 8,000-farm plan in seconds with
 * the aggregated listing, and call counts exactly as before without it.
 *
 * Run: npm run bench:reconcile [-- --quick]   (--quick: 1,000 farms, no 8,000-farm run)
 *      npm run bench:reconcile -- --traffic-only   (the traffic lookup at 2,000 farms alone, ~30 s)
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
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
import {
  type CallKind,
  type FaultOptions,
  SIMULATOR_CREDENTIALS,
  type SimulatorStats,
} from '../lib/simulator/server';

const { values } = parseArgs({
  options: {
    latency: { type: 'string', default: '50' },
    'task-ms': { type: 'string', default: '300' },
    quick: { type: 'boolean', default: false },
    'traffic-only': { type: 'boolean', default: false },
  },
});
const quick = values.quick;
const L = Number(values.latency);
const TASK = Number(values['task-ms']);
const ZONES = 3;
const INITIAL = 8;
const policy = parsePolicy(GENERATED_FLEET_POLICY, 'generated');
// The CLI's defaults, as `stickler apply` runs them.
const applyOptions: ApplyOptions = { ...DEFAULT_APPLY_OPTIONS, taskTimeoutMs: 60_000 };

type Calls = Record<CallKind, number>;
const total = (c: Calls) => Object.values(c).reduce((a, b) => a + b, 0);
const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

interface Size {
  services: number;
  perService: number;
}

/**
 * The simulator in a thread of its own (bench/simulator-thread.ts): OVH answers from its own
 * servers, so the client under test does not share its event loop with the API it calls.
 */
const simulator = async (
  size: Size,
  extra: { aggregatedListing?: boolean; faults?: Partial<FaultOptions> } = {},
) => {
  const worker = new Worker(join(__dirname, 'simulator-thread.ts'), {
    workerData: {
      fleetShape: { services: size.services, zonesPerService: ZONES, farmsPerService: size.perService },
      task: { todoMs: TASK / 4, doingMs: (TASK * 3) / 4 },
      faults: { latencyMs: L, ...extra.faults },
      ...(extra.aggregatedListing ? { aggregatedListing: true } : {}),
    },
  });
  const next = <T>(kind: string) =>
    new Promise<T>((resolve) => {
      const on = (m: { kind: string } & T) => {
        if (m.kind !== kind) return;
        worker.off('message', on);
        resolve(m);
      };
      worker.on('message', on);
    });
  const { baseUrl } = await next<{ baseUrl: string }>('ready');
  return {
    baseUrl,
    stats: async () => {
      const answer = next<{ stats: SimulatorStats }>('stats');
      worker.postMessage('stats');
      return (await answer).stats;
    },
    reset: async () => {
      const answer = next('reset');
      worker.postMessage('reset');
      await answer;
    },
    close: async () => {
      const answer = next('closed');
      worker.postMessage('close');
      await answer;
      await worker.terminate();
    },
  };
};

/** A client as the CLI builds it by default (or with one call at a time: no adaptation, concurrency 1). */
const clientFor = (baseUrl: string, serial = false) => {
  const http = new OvhHttpClient({
    baseUrl,
    credentials: SIMULATOR_CREDENTIALS,
    timeoutMs: 30_000,
    ...(serial
      ? { concurrency: 1 }
      : { concurrency: DEFAULT_CONCURRENCY_CEILING, adaptive: { initial: INITIAL } }),
  });
  return { http, api: new OvhLoadBalancerApi(http), traffic: new OvhMetricsTraffic(http) };
};

/**
 * What one call takes on this machine, end to end (this client, loopback HTTP, the simulator's
 * thread), with `inFlight` calls at a time: rounds of a cheap documented call (the list of load
 * balancers), the mean time per round. The simulator adds the nominal latency; the rest is the
 * machine's HTTP stack, which no scheduling can remove.
 */
const callTime = async (baseUrl: string, inFlight: number, rounds = 30) => {
  const http = new OvhHttpClient({
    baseUrl,
    credentials: SIMULATOR_CREDENTIALS,
    timeoutMs: 30_000,
    concurrency: inFlight,
  });
  await http.get('/ipLoadbalancing'); // the clock offset, and a connection
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight * rounds }, () => http.get('/ipLoadbalancing')));
  return (performance.now() - started) / rounds;
};

const reconcile = async (size: Size, opts: { serial?: boolean; faults?: Partial<FaultOptions> } = {}) => {
  const sim = await simulator(size, opts.faults ? { faults: opts.faults } : {});
  try {
    const { http, api } = clientFor(sim.baseUrl, opts.serial);
    const started = performance.now();
    const farms = await makeDiscoverFleet({ api })();
    const plan = planFromPolicy(farms, policy);
    const report = await makeApplyPlan({ api, clock: systemClock })(plan, applyOptions);
    const ms = performance.now() - started;
    const first = await sim.stats();
    const concurrency = http.concurrency();
    // Measured after the run (the calls read nothing it changed), at the concurrency it reached.
    const callMs = opts.serial ? undefined : await callTime(sim.baseUrl, concurrency.peak);
    await sim.reset();
    const again = planFromPolicy(await makeDiscoverFleet({ api })(), policy);
    const againReport = await makeApplyPlan({ api, clock: systemClock })(again, applyOptions);
    const second = await sim.stats();
    return {
      ms,
      calls: first.calls,
      plan,
      report,
      concurrency,
      callMs,
      faults: first.faults,
      compliant: { calls: second.calls, report: againReport },
    };
  } finally {
    await sim.close();
  }
};

const planOnly = async (size: Size, aggregatedListing: boolean, withTraffic = false) => {
  const sim = await simulator(size, { aggregatedListing });
  try {
    const { api, traffic } = clientFor(sim.baseUrl);
    const started = performance.now();
    const farms = await makeDiscoverFleet({ api })();
    const plan = planFromPolicy(farms, policy);
    // As `stickler plan` does: the traffic of each load balancer the plan would refresh.
    const report = withTraffic
      ? await makeReadTraffic({ traffic, clock: systemClock })({
          services: plan.changes.map((c) => c.farm.service),
          window: { start: Date.now(), end: Date.now() + DAY_MS },
        })
      : undefined;
    const ms = performance.now() - started;
    return {
      ms,
      calls: (await sim.stats()).calls,
      farms: farms.length,
      known: report?.services.filter((t) => t.known && t.quietest).length ?? 0,
    };
  } finally {
    await sim.close();
  }
};

/** The calls the work needs, with the documented API (one probe of the aggregated listing per run). */
const lowerBound = (size: Size, run: Awaited<ReturnType<typeof reconcile>>) => {
  const D = run.plan.changes.length;
  const batches = batchByZone(run.plan.changes);
  const Z = batches.length;
  const St = new Set(run.plan.changes.map((c) => c.farm.service)).size;
  return {
    D,
    Z,
    St,
    batches,
    calls: {
      'auth-time': 1,
      'list-services': 1,
      'list-farms': 1, // the listing probe: ids, so farm by farm from then on
      'defined-farms': size.services,
      'get-farm': size.services * size.perService,
      'pending-changes': St + Z,
      'list-tasks': 2 * St + 2 * Z,
      'put-farm': D,
      refresh: Z,
    } as Partial<Calls>,
  };
};

/**
 * The critical path at the concurrency the run reached (P): discovery is throughput-bound; the
 * apply phase is bound by its calls / P, or by the longest service's chain (its pending and task
 * check, its first zone's writes, then its zones one after another: refresh, task, one look).
 */
const criticalPath = (size: Size, b: ReturnType<typeof lowerBound>, P: number, L: number) => {
  const reads = 2 + size.services + size.services * size.perService;
  const discover = Math.max(3, Math.ceil(reads / P)) * L + L;
  const applyCalls = b.St * 3 + b.D + b.Z * 3;
  const zonesPerService = Math.max(
    ...[...new Set(b.batches.map((x) => x.service))].map(
      (s) => b.batches.filter((x) => x.service === s).length,
    ),
  );
  const chain = 2 * L + zonesPerService * (2 * L + TASK + L);
  return discover + Math.max(chain, Math.ceil(applyCalls / P) * L);
};

/** Plan time with and without the traffic lookup, at the first size (documented listing, as by default). */
const trafficCost = async (size: Size) => {
  const off = await planOnly(size, false);
  const on = await planOnly(size, false, true);
  const metrics = on.calls['metrics-token'] + on.calls['metrics-query'];
  console.log(
    `  plan with the traffic lookup: ${fmt(on.ms)} (${metrics} metrics calls: ${on.calls['metrics-token']} tokens, ${on.calls['metrics-query']} queries; ` +
      `${on.known} of ${size.services} load balancers with a quietest slot), without: ${fmt(off.ms)} (+${fmt(on.ms - off.ms)})\n`,
  );
  return { on, off };
};

const main = async () => {
  if (values['traffic-only']) {
    console.log(
      `stickler plan and the traffic lookup, CLI defaults, ${L} ms per call; Node ${process.version}\n`,
    );
    const size = quick ? { services: 10, perService: 100 } : { services: 20, perService: 100 };
    console.log(`${size.services * size.perService} farms (${size.services} services × ${ZONES} zones)`);
    const { on } = await trafficCost(size);
    if (on.known !== size.services) process.exitCode = 1;
    return;
  }
  const sizes: Size[] = quick
    ? [{ services: 10, perService: 100 }]
    : [
        { services: 20, perService: 100 },
        { services: 40, perService: 200 },
      ];
  console.log(
    `stickler reconcile benchmark, CLI defaults (concurrency ${INITIAL} adapting up to ${DEFAULT_CONCURRENCY_CEILING}, ` +
      `task polls adaptive up to ${applyOptions.pollIntervalMs} ms), ${L} ms per call, refresh tasks ${TASK} ms; Node ${process.version}\n`,
  );
  const checks: [string, boolean][] = [];
  for (const [i, size] of sizes.entries()) {
    const N = size.services * size.perService;
    const run = await reconcile(size);
    const b = lowerBound(size, run);
    console.log(
      `${N} farms (${size.services} services × ${ZONES} zones): ${b.D} drifted, ${b.Z} (service, zone) pairs touched`,
    );
    console.log('  API calls by kind        made   lower bound');
    let callsOk = true;
    for (const [kind, bound] of Object.entries(b.calls) as [CallKind, number][]) {
      const made = run.calls[kind];
      if (made > bound) callsOk = false;
      console.log(
        `    ${kind.padEnd(22)}${String(made).padStart(6)}${String(bound).padStart(14)}${made > bound ? '   over' : ''}`,
      );
    }
    const polls = run.calls['get-task'];
    console.log(
      `    ${'get-task (task polls)'.padEnd(22)}${String(polls).padStart(6)}${'≤ 6 per zone'.padStart(14)}`,
    );
    if (polls > 6 * b.Z) callsOk = false;
    const counted = Object.keys(b.calls).reduce((n, k) => n + run.calls[k as CallKind], 0) + polls;
    const other = total(run.calls) - counted;
    console.log(`    ${'other'.padEnd(22)}${String(other).padStart(6)}${'0'.padStart(14)}`);
    if (other > 0) callsOk = false;
    const P = run.concurrency.peak;
    const nominal = criticalPath(size, b, P, L);
    const callMs = run.callMs ?? L;
    const bound = criticalPath(size, b, P, callMs);
    console.log(
      `  applied ${run.report.applied.length}, failed ${run.report.failed.length}, refused ${run.report.refused.length}; concurrency reached ${P}`,
    );
    console.log(
      `  stickler: ${fmt(run.ms)}; critical-path bound at concurrency ${P}: ${fmt(nominal)} with calls of the nominal ${L} ms (${(run.ms / nominal).toFixed(2)}x), ` +
        `${fmt(bound)} with calls as long as they take here, ${callMs.toFixed(1)} ms with ${P} in flight, measured in this run (${(run.ms / bound).toFixed(2)}x)`,
    );
    let serialMs: number;
    if (i === 0) {
      const serial = await reconcile(size, { serial: true });
      serialMs = serial.ms;
      console.log(`  (a) one call at a time: ${fmt(serialMs)} (${(serialMs / run.ms).toFixed(1)}x slower)`);
    } else {
      // The same calls one after another, each L, plus each zone's task, once measured at 2,000 farms.
      serialMs = (total(run.calls) - polls) * L + b.Z * (TASK + L);
      console.log(
        `  (a) one call at a time, estimated from its calls: ${fmt(serialMs)} (${(serialMs / run.ms).toFixed(1)}x slower)`,
      );
    }
    const compliantWrites = run.compliant.calls['put-farm'] + run.compliant.calls.refresh;
    checks.push([`${N} farms: calls at the lower bound`, callsOk]);
    checks.push([
      `${N} farms: zero writes when compliant`,
      compliantWrites === 0 && run.compliant.report.applied.length === 0,
    ]);
    checks.push([
      `${N} farms: every drifted farm applied, nothing failed`,
      run.report.applied.length === b.D && run.report.failed.length === 0,
    ]);
    if (i === 0) {
      const speedup = quick ? 10 : 15;
      checks.push([
        `${N} farms: at least ${speedup}x faster than one call at a time`,
        serialMs >= speedup * run.ms,
      ]);
      checks.push([
        `${N} farms: within 1.2x of the critical-path bound at the concurrency reached (calls as long as they take here)`,
        run.ms <= 1.2 * bound,
      ]);
    }
    const on = await planOnly(size, true);
    const off = await planOnly(size, false);
    console.log(
      `  plan only: ${fmt(on.ms)} with OVH's aggregated listing (${total(on.calls)} calls), ${fmt(off.ms)} without (${total(off.calls)} calls)\n`,
    );
    if (i === 0) {
      const cost = await trafficCost(size);
      checks.push([
        `${N} farms: plan with the traffic lookup finds a quietest slot for every load balancer it would refresh`,
        cost.on.known === size.services,
      ]);
    }
    if (i === sizes.length - 1)
      checks.push([
        `${N} farms: a plan with the aggregated listing takes seconds (under 10 s)`,
        on.ms < 10_000 && on.farms === N,
      ]);
  }
  // Under 429 bursts: the run slows down instead of failing.
  const size = sizes[0]!;
  const throttled = await reconcile(size, {
    faults: { throttleRate: 0.02, throttleBurst: 8, retryAfterSeconds: 1 },
  });
  console.log(
    `Under 429 bursts (${throttled.faults.throttled} answered 429): ${fmt(throttled.ms)}, concurrency halved ${throttled.concurrency.decreases} time(s) ` +
      `(peak ${throttled.concurrency.peak}, ending at ${throttled.concurrency.current}); applied ${throttled.report.applied.length}, failed ${throttled.report.failed.length}`,
  );
  checks.push([
    'under 429 bursts: it backs off and applies everything',
    throttled.concurrency.decreases > 0 &&
      throttled.report.failed.length === 0 &&
      throttled.report.applied.length === throttled.plan.changes.length,
  ]);
  const rss = process.memoryUsage().rss / 2 ** 20;
  console.log(`\nPeak resident memory of this process (client and simulator): ${rss.toFixed(0)} MiB`);
  console.log('\nTargets');
  for (const [name, ok] of checks) console.log(`  ${verdict(ok)}  ${name}`);
  if (checks.some(([, ok]) => !ok)) process.exitCode = 1;
};

void main();
