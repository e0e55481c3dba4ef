/**
 * Reconcile benchmark: a fleet of 2,000 farms over 20 services and 3 zones, about a third
 * drifted, against the simulator with 50 ms latency per call. Compares, in one run:
 *   stickler            discovery + plan + apply at the configured concurrency
 *   (a) one at a time   the same code with concurrency 1
 *   (b) naive guide     update one farm, apply its zone, wait, next farm (sampled, extrapolated)
 * and checks the targets: calls at the lower bound, zero writes when compliant, wall time within
 * 1.3x of the critical-path bound, at least 10x faster than (a).
 *
 * Run: npm run bench [-- --services 20 --farms 100 --concurrency 16 --quick]
 */
import { parseArgs } from 'node:util';
import { OvhHttpClient } from '../lib/adapters/ovh/http-client';
import { OvhLoadBalancerApi } from '../lib/adapters/ovh/ovh-load-balancer-api';
import { type ApplyOptions, makeApplyPlan } from '../lib/app/apply-plan';
import { makeDiscoverFleet } from '../lib/app/discover-fleet';
import { planFromPolicy } from '../lib/domain/plan';
import { parsePolicy } from '../lib/domain/policy-file';
import { batchByZone } from '../lib/domain/zones';
import { systemClock } from '../lib/ports/clock';
import { GENERATED_FLEET_POLICY, generateFleet } from '../lib/simulator/fleet';
import { type CallKind, SIMULATOR_CREDENTIALS, startSimulator } from '../lib/simulator/server';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '20' },
    farms: { type: 'string', default: '100' },
    zones: { type: 'string', default: '3' },
    latency: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '16' },
    'task-ms': { type: 'string', default: '1000' },
    'poll-ms': { type: 'string', default: '250' },
    'naive-sample': { type: 'string', default: '20' },
    quick: { type: 'boolean', default: false },
  },
});
const quick = values.quick;
const S = Number(quick ? '5' : values.services);
const PER = Number(values.farms);
const ZONES = Number(values.zones);
const L = Number(values.latency);
const C = Number(values.concurrency);
const TASK = Number(values['task-ms']);
const POLL = Number(values['poll-ms']);
const NAIVE_SAMPLE = Number(values['naive-sample']);

const fleet = generateFleet({ services: S, zonesPerService: ZONES, farmsPerService: PER });
const policy = parsePolicy(GENERATED_FLEET_POLICY, 'generated');
const applyOptions: ApplyOptions = {
  allowForeignPending: false,
  taskTimeoutMs: 60_000,
  pollIntervalMs: POLL,
};

const simulator = () =>
  startSimulator({ fleet, task: { todoMs: TASK / 4, doingMs: (TASK * 3) / 4 }, faults: { latencyMs: L } });

const clientFor = (baseUrl: string, concurrency: number) =>
  new OvhLoadBalancerApi(
    new OvhHttpClient({ baseUrl, credentials: SIMULATOR_CREDENTIALS, concurrency, timeoutMs: 30_000 }),
  );

type Calls = Record<CallKind, number>;
const total = (c: Calls) => Object.values(c).reduce((a, b) => a + b, 0);

const reconcile = async (concurrency: number) => {
  const sim = await simulator();
  try {
    const api = clientFor(sim.baseUrl, concurrency);
    const started = performance.now();
    const farms = await makeDiscoverFleet({ api })();
    const plan = planFromPolicy(farms, policy);
    const report = await makeApplyPlan({ api, clock: systemClock })(plan, applyOptions);
    const ms = performance.now() - started;
    const calls = { ...sim.stats.calls };
    // A second run on the now-compliant fleet must write nothing.
    sim.resetStats();
    const again = planFromPolicy(await makeDiscoverFleet({ api })(), policy);
    const againReport = await makeApplyPlan({ api, clock: systemClock })(again, applyOptions);
    return { ms, calls, plan, report, compliantRun: { calls: { ...sim.stats.calls }, report: againReport } };
  } finally {
    await sim.close();
  }
};

/** The OVH guide's flow: for each farm, update it, apply its zone, wait for the task; then the next. */
const naive = async (sample: number) => {
  const sim = await simulator();
  try {
    const api = clientFor(sim.baseUrl, C);
    const t0 = performance.now();
    const plan = planFromPolicy(await makeDiscoverFleet({ api })(), policy);
    const discoverMs = performance.now() - t0;
    const subset = plan.changes.slice(0, sample);
    const t1 = performance.now();
    for (const change of subset) {
      await api.setStickiness(change.farm, change.to);
      const task = await api.refresh(change.farm.service, change.farm.zone);
      for (let status = task.status; status !== 'done'; ) {
        await systemClock.sleep(POLL);
        status = (await api.getTask(change.farm.service, task.id)).status;
        if (status === 'error' || status === 'cancelled' || status === 'blocked') throw new Error(status);
      }
    }
    const perFarm = (performance.now() - t1) / subset.length;
    return {
      ms: discoverMs + perFarm * plan.changes.length,
      measured: subset.length,
      of: plan.changes.length,
      perFarm,
    };
  } finally {
    await sim.close();
  }
};

const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

const main = async () => {
  const farmsTotal = S * PER;
  console.log(
    `stickler reconcile benchmark — ${farmsTotal} farms, ${S} services × ${ZONES} zones, ${L} ms per call, ` +
      `concurrency ${C}, refresh tasks ${TASK} ms, polled every ${POLL} ms; Node ${process.version}\n`,
  );

  const main = await reconcile(C);
  const D = main.plan.changes.length;
  const batches = batchByZone(main.plan.changes);
  const Z = batches.length;
  const St = new Set(main.plan.changes.map((c) => c.farm.service)).size;
  // Poll j of a task is answered at j*(POLL+L) after the task exists; done once that reaches TASK.
  const pollsPerTask = Math.ceil(TASK / (POLL + L));
  const lower: Partial<Calls> = {
    'auth-time': 1,
    'list-services': 1,
    'defined-farms': S,
    'get-farm': farmsTotal,
    // One read per service before writing, and one per zone just before its refresh (a second
    // operator's writes or refresh), each with the running-task check.
    'pending-changes': St + Z,
    'list-tasks': 2 * St + 2 * Z,
    'put-farm': D,
    refresh: Z,
    'get-task': Z * pollsPerTask,
  };
  console.log(`Drifted farms: ${D} of ${farmsTotal}; touched (service, zone) pairs: ${Z}\n`);
  console.log('API calls by kind        made   lower bound');
  let callsOk = true;
  for (const [kind, bound] of Object.entries(lower) as [CallKind, number][]) {
    const made = main.calls[kind];
    if (made > bound) callsOk = false;
    console.log(
      `  ${kind.padEnd(22)}${String(made).padStart(6)}${String(bound).padStart(14)}${made > bound ? '   over' : ''}`,
    );
  }
  const other = total(main.calls) - Object.keys(lower).reduce((n, k) => n + main.calls[k as CallKind], 0);
  console.log(`  ${'other'.padEnd(22)}${String(other).padStart(6)}${'0'.padStart(14)}`);
  if (other > 0) callsOk = false;
  console.log(
    `  applied ${main.report.applied.length}, failed ${main.report.failed.length}, refused ${main.report.refused.length}\n`,
  );

  // Critical path at concurrency C: discovery is throughput-bound (reads / C per latency), the
  // apply phase is bound by its calls / C or by the longest service chain: pending and task
  // check, PUT, then its zones one after another (refresh + polls), whichever is longer.
  const reads = 1 + S + farmsTotal;
  const discoverBound = Math.max(3, Math.ceil(reads / C)) * L + L; // + /auth/time
  const applyCalls = St * 3 + D + Z + Z * pollsPerTask;
  const zonesPerService = Math.max(
    ...[...new Set(batches.map((b) => b.service))].map((s) => batches.filter((b) => b.service === s).length),
  );
  // pendingChanges and the task check together (L), the first zone's writes (L), then its zones one by one.
  const chain = 2 * L + zonesPerService * (L + pollsPerTask * (POLL + L));
  const applyBound = Math.max(chain, Math.ceil(applyCalls / C) * L);
  const bound = discoverBound + applyBound;

  const serial = await reconcile(1);
  const naiveRun = await naive(NAIVE_SAMPLE);

  console.log('Wall time                                  time      vs stickler');
  console.log(`  stickler (concurrency ${C})`.padEnd(43) + fmt(main.ms).padStart(9));
  console.log(
    `  critical-path bound at concurrency ${C}`.padEnd(43) +
      fmt(bound).padStart(9) +
      `   ${(main.ms / bound).toFixed(2)}x of bound`,
  );
  console.log(
    `  (a) same work, one call at a time`.padEnd(43) +
      fmt(serial.ms).padStart(9) +
      `   ${(serial.ms / main.ms).toFixed(1)}x slower`,
  );
  console.log(
    `  (b) naive guide flow (${naiveRun.measured}/${naiveRun.of} farms timed)`.padEnd(43) +
      fmt(naiveRun.ms).padStart(9) +
      `   ${(naiveRun.ms / main.ms).toFixed(1)}x slower (extrapolated at ${fmt(naiveRun.perFarm)}/farm)`,
  );
  const rss = process.memoryUsage().rss / 2 ** 20;
  console.log(`\nPeak resident memory of this process (client and simulator): ${rss.toFixed(0)} MiB`);

  const compliantWrites = main.compliantRun.calls['put-farm'] + main.compliantRun.calls.refresh;
  const checks: [string, boolean][] = [
    ['calls at the lower bound', callsOk],
    ['zero writes when compliant', compliantWrites === 0 && main.compliantRun.report.applied.length === 0],
    ['wall time within 1.3x of the critical-path bound', main.ms <= 1.3 * bound],
    ['at least 10x faster than one call at a time (a)', serial.ms >= 10 * main.ms],
    [
      'every drifted farm applied, nothing failed',
      main.report.applied.length === D && main.report.failed.length === 0,
    ],
  ];
  console.log('\nTargets');
  for (const [name, ok] of checks) console.log(`  ${verdict(ok)}  ${name}`);
  if (checks.some(([, ok]) => !ok)) process.exitCode = 1;
};

void main();
