/**
 * Reconcile benchmark, at the CLI's default settings (adaptive concurrency starting at 8 with a
 * ceiling of 32, adaptive task polling capped at 2 s, farm discovery `auto`), against the
 * simulator with 50 ms per call and 300 ms refresh tasks. Each run is a process of its own
 * (bench/reconcile-run.ts), the simulator a thread of the benchmark's, so that each run's peak
 * resident memory (RSS) is its own.
 *
 *   main: 2,000 farms (20 services × 3 zones, a third drifted): discovery + plan + apply, next to
 *     the critical-path bound for the concurrency it reached and (a) the same work one call at a
 *     time; 8,000 farms: the same, with (a) estimated from its calls (a measured run would take
 *     10 minutes); plan only (discovery), with and without OVH's aggregated farm listing; then the
 *     bursts case;
 *   bursts: 2,000 farms under 429 bursts (2% of calls start a burst of 8 answered 429 with
 *     `Retry-After: 1`): the run slows down (its concurrency decreases) instead of failing, at the
 *     CLI's defaults and, in the same run, at the fixed concurrency of 8 (the yardstick: its time
 *     does not depend on how the limit adapts);
 *   faults: 2,000 farms with 1% and 10% of calls answered 503 or 429 at random (each call
 *     eventually answered within its retries), with and without the aggregated listing, at the
 *     CLI's defaults and, in the same run, at the fixed concurrency of 8 stickler used before
 *     adaptive concurrency;
 *   memory: the CLI's apply (discovery + plan + apply) at 2,000, 8,000 and 16,000 farms of 100
 *     farms per service, with and without OVH's aggregated listing: its peak RSS with Node's
 *     default heap (which lets garbage pile up on a large machine), and again in a heap of
 *     STICKLER_BENCH_APPLY_HEAP MiB (128 by default), which it must finish in, every farm applied;
 *   compliance: the compliance-run function's bundled handler (report, then enforce) at 8,000,
 *     16,000 and 32,000 farms, run by Node with the heap Lambda gives the function, its peak RSS
 *     against the function's memory in serverless.yml.
 *
 * Targets: calls at the lower bound, zero writes when compliant, the 2,000-farm run at least 15×
 * faster than one call at a time and within 1.2× of its bound, the 8,000-farm plan in seconds with
 * the aggregated listing, and call counts exactly as before without it; under random faults at
 * least as fast as the fixed 8 with every farm applied in one run; the compliance run at 32,000
 * farms within its memory with a margin (at most 80% of it); the apply at 16,000 farms finished in
 * a 128 MiB heap with every farm applied.
 *
 * Run: npm run bench:reconcile [-- --quick]   (--quick: 1,000 farms, no 8,000-farm run)
 * STICKLER_BENCH_CASES=main,faults,memory,compliance chooses the parts (all by default; main runs the
 *   bursts case too, `bursts` alone runs it alone, about 2 minutes; traffic-only: the plan with and
 *   without the traffic lookup at 2,000 farms alone, about 30 s, as in main);
 * STICKLER_BENCH_COMPLIANCE_FARMS=8000,16000,32000 the compliance run's sizes;
 * STICKLER_BENCH_APPLY_FARMS=2000,8000,16000 the memory case's sizes (multiples of 100);
 * STICKLER_BENCH_LAMBDA_HEAP=0 runs the handler with Node's default heap for this machine.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { buildSync } from 'esbuild';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_APPLY_OPTIONS } from '../lib/app/apply-plan';
import { DEFAULT_CONCURRENCY_CEILING } from '../lib/cli/session';
import { GENERATED_FLEET_POLICY } from '../lib/simulator/fleet';
import {
  type CallKind,
  type FaultOptions,
  SIMULATOR_CREDENTIALS,
  type SimulatorStats,
} from '../lib/simulator/server';
import { TEST_AWS_CREDENTIALS } from '../test/helpers/aws-signature';
import { startFakeAws } from '../test/helpers/fake-aws';
import type { ClientKind, RunJob, RunResult } from './reconcile-run';
import { reconcileSvg } from './reconcile-svg';

const { values } = parseArgs({
  options: {
    latency: { type: 'string', default: '50' },
    'task-ms': { type: 'string', default: '300' },
    quick: { type: 'boolean', default: false },
  },
});
const quick = values.quick;
const L = Number(values.latency);
const TASK = Number(values['task-ms']);
const ZONES = 3;
const INITIAL = 8;
const POLL_MS = DEFAULT_APPLY_OPTIONS.pollIntervalMs;
const CASES = new Set((process.env.STICKLER_BENCH_CASES ?? 'main,faults,memory,compliance').split(','));
const APPLY_HEAP = Number(process.env.STICKLER_BENCH_APPLY_HEAP ?? '128');
const APPLY_FARMS = (process.env.STICKLER_BENCH_APPLY_FARMS ?? (quick ? '2000' : '2000,8000,16000'))
  .split(',')
  .map(Number);
const COMPLIANCE_FARMS = (
  process.env.STICKLER_BENCH_COMPLIANCE_FARMS ?? (quick ? '8000' : '8000,16000,32000')
)
  .split(',')
  .map(Number);

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

/** Runs one job in a process of its own (bench/reconcile-run.ts), so that its peak memory is its own. */
const inChild = (job: RunJob, plain?: { script: string; flags: string[] }): Promise<RunResult> =>
  new Promise((resolve, reject) => {
    const child = fork(plain?.script ?? join(__dirname, 'reconcile-run.ts'), [JSON.stringify(job)], {
      execArgv: plain ? plain.flags : ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let answered = false;
    child.on('message', (m: { ok: boolean; result?: RunResult; error?: string }) => {
      answered = true;
      if (m.ok) resolve(m.result!);
      else reject(new Error(m.error));
    });
    child.on('exit', (code) => {
      if (!answered) reject(new Error(`the run's process ended (exit ${code}) without a result`));
    });
  });

/**
 * What one call takes on this machine, end to end (this client, loopback HTTP, the simulator's
 * thread), with `inFlight` calls at a time: rounds of a cheap documented call (the list of load
 * balancers), the mean time per round. The simulator adds the nominal latency; the rest is the
 * machine's HTTP stack, which no scheduling can remove.
 */
const callTime = async (baseUrl: string, inFlight: number, rounds = 30) =>
  (await inChild({ job: 'call-time', baseUrl, inFlight, rounds })).callMs!;

type Reconciled = Awaited<ReturnType<typeof reconcile>>;

const reconcile = async (
  size: Size,
  opts: {
    client?: ClientKind;
    faults?: Partial<FaultOptions>;
    aggregatedListing?: boolean;
    measureCalls?: boolean;
    /** Run it again on the fleet it left compliant (true unless said). */
    compliantRun?: boolean;
  } = {},
) => {
  const sim = await simulator(size, {
    ...(opts.faults ? { faults: opts.faults } : {}),
    ...(opts.aggregatedListing ? { aggregatedListing: true } : {}),
  });
  try {
    const client = opts.client ?? { kind: 'cli-default' };
    const run = await inChild({ job: 'reconcile', baseUrl: sim.baseUrl, client });
    const first = await sim.stats();
    // Measured after the run (the calls read nothing it changed), at the concurrency it reached.
    const callMs = opts.measureCalls ? await callTime(sim.baseUrl, run.concurrency!.peak) : undefined;
    let compliant: { calls: Calls; applied: number; failed: number } | undefined;
    if (opts.compliantRun !== false) {
      await sim.reset();
      const again = await inChild({ job: 'reconcile', baseUrl: sim.baseUrl, client });
      compliant = { calls: (await sim.stats()).calls, applied: again.applied!, failed: again.failed! };
    }
    return { ...run, calls: first.calls, callMs, faults: first.faults, compliant };
  } finally {
    await sim.close();
  }
};

const planOnly = async (size: Size, aggregatedListing: boolean, withTraffic = false) => {
  const sim = await simulator(size, { aggregatedListing });
  try {
    const run = await inChild({ job: 'plan', baseUrl: sim.baseUrl, withTraffic });
    return { ...run, calls: (await sim.stats()).calls };
  } finally {
    await sim.close();
  }
};

/** The calls the work needs, with the documented API (one probe of the aggregated listing per run). */
const lowerBound = (size: Size, run: Reconciled) => {
  const D = run.changes!;
  const batches = run.zones!;
  const Z = batches.length;
  const St = run.changedServices!;
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

const mib = (n: number) => `${Math.round(n)} MiB`;

/** The main case: the reconcile at 2,000 and 8,000 farms (1,000 with --quick), plan only. */
const mainCase = async (checks: [string, boolean][]) => {
  const sizes: Size[] = quick
    ? [{ services: 10, perService: 100 }]
    : [
        { services: 20, perService: 100 },
        { services: 40, perService: 200 },
      ];
  for (const [i, size] of sizes.entries()) {
    const N = size.services * size.perService;
    const run = await reconcile(size, { measureCalls: true });
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
    const P = run.concurrency!.peak;
    const nominal = criticalPath(size, b, P, L);
    const callMs = run.callMs ?? L;
    const bound = criticalPath(size, b, P, callMs);
    console.log(
      `  applied ${run.applied}, failed ${run.failed}, refused ${run.refused}; concurrency reached ${P}; peak RSS ${mib(run.peakRssMiB)}`,
    );
    console.log(
      `  stickler: ${fmt(run.ms)}; critical-path bound at concurrency ${P}: ${fmt(nominal)} with calls of the nominal ${L} ms (${(run.ms / nominal).toFixed(2)}x), ` +
        `${fmt(bound)} with calls as long as they take here, ${callMs.toFixed(1)} ms with ${P} in flight, measured in this run (${(run.ms / bound).toFixed(2)}x)`,
    );
    if (i === 0 && run.timeline) {
      const file = join(__dirname, '..', 'docs', `reconcile-${N}.svg`);
      writeFileSync(
        file,
        reconcileSvg({
          title: `Reconcile of ${N.toLocaleString('en')} farms at the CLI's defaults, ${L} ms per call (${new Date().toISOString().slice(0, 10)})`,
          ms: run.ms,
          boundMs: bound,
          ...run.timeline,
        }),
      );
      console.log(`  its course: ${file}`);
    }
    let serialMs: number;
    if (i === 0) {
      const serial = await reconcile(size, { client: { kind: 'fixed', concurrency: 1 } });
      serialMs = serial.ms;
      console.log(`  (a) one call at a time: ${fmt(serialMs)} (${(serialMs / run.ms).toFixed(1)}x slower)`);
    } else {
      // The same calls one after another, each L, plus each zone's task, once measured at 2,000 farms.
      serialMs = (total(run.calls) - polls) * L + b.Z * (TASK + L);
      console.log(
        `  (a) one call at a time, estimated from its calls: ${fmt(serialMs)} (${(serialMs / run.ms).toFixed(1)}x slower)`,
      );
    }
    const compliantWrites = run.compliant!.calls['put-farm'] + run.compliant!.calls.refresh;
    checks.push([`${N} farms: calls at the lower bound`, callsOk]);
    checks.push([
      `${N} farms: zero writes when compliant`,
      compliantWrites === 0 && run.compliant!.applied === 0,
    ]);
    checks.push([
      `${N} farms: every drifted farm applied, nothing failed`,
      run.applied === b.D && run.failed === 0,
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
      `  plan only: ${fmt(on.ms)} with OVH's aggregated listing (${total(on.calls)} calls, peak RSS ${mib(on.peakRssMiB)}), ` +
        `${fmt(off.ms)} without (${total(off.calls)} calls, peak RSS ${mib(off.peakRssMiB)})\n`,
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
};

/** 429 bursts as the simulator answers them: 2% of calls start a burst of 8 answered 429 (`Retry-After: 1`). */
const BURSTS: Partial<FaultOptions> = { throttleRate: 0.02, throttleBurst: 8, retryAfterSeconds: 1 };

/**
 * Under 429 bursts: the run slows down (its concurrency decreases) instead of failing, at the CLI's
 * defaults and, in the same run, at the fixed concurrency of 8, whose time does not depend on how
 * the limit adapts: the yardstick that makes runs at different times comparable.
 */
const burstCase = async (checks: [string, boolean][]) => {
  const size: Size = quick ? { services: 10, perService: 100 } : { services: 20, perService: 100 };
  const N = size.services * size.perService;
  console.log(
    `Under 429 bursts, ${N} farms (${BURSTS.throttleRate! * 100}% of calls start a burst of ${BURSTS.throttleBurst} answered 429, Retry-After: ${BURSTS.retryAfterSeconds} s), in the same run`,
  );
  console.log('  client      time      answered 429  decreases  peak  end  applied/failed');
  const runs: Reconciled[] = [];
  for (const client of [{ kind: 'cli-default' }, { kind: 'fixed', concurrency: 8 }] as ClientKind[]) {
    const run = await reconcile(size, { client, faults: BURSTS, compliantRun: false });
    runs.push(run);
    const c = run.concurrency!;
    console.log(
      `  ${(client.kind === 'fixed' ? `fixed ${client.concurrency}` : 'defaults').padEnd(10)}${fmt(run.ms).padStart(8)}  ${String(run.faults.throttled).padStart(12)}  ${String(c.decreases).padStart(9)}  ${String(c.peak).padStart(4)}  ${String(c.current).padStart(3)}  ${`${run.applied}/${run.failed}`.padStart(14)}`,
    );
  }
  const [adaptive, fixed] = runs as [Reconciled, Reconciled];
  console.log(`  defaults / fixed 8: ${(adaptive.ms / fixed.ms).toFixed(2)}x\n`);
  checks.push([
    'under 429 bursts: it backs off and applies everything',
    adaptive.concurrency!.decreases > 0 && adaptive.failed === 0 && adaptive.applied === adaptive.changes,
  ]);
};

/**
 * Random faults: a share of the calls answered 503 (no Retry-After) or 429 (Retry-After: 1 s, as
 * the simulator answers throttling), one at a time, never several in a row on purpose: noise,
 * not overload. Each call is tried again up to its retries (5 attempts), and the simulator faults
 * one call at most 4 times in a row, so every call succeeds within its retries: a run is expected
 * to apply everything.
 */
const faultCase = async (checks: [string, boolean][]) => {
  const size: Size = quick ? { services: 10, perService: 100 } : { services: 20, perService: 100 };
  const N = size.services * size.perService;
  console.log(
    `\nRandom faults, ${N} farms: the CLI's defaults (adaptive, 8 up to ${DEFAULT_CONCURRENCY_CEILING}) next to the fixed concurrency of 8, in the same run`,
  );
  console.log(
    '  fault         listing      defaults: time  applied/failed  decreases  peak  end  RSS     fixed 8: time  applied/failed  RSS     defaults / fixed 8',
  );
  for (const kind of ['503', '429'] as const) {
    for (const rate of [0.01, 0.1]) {
      for (const aggregatedListing of [false, true]) {
        // At most 4 faults in a row for one call: each call succeeds within its 5 attempts.
        const faults: Partial<FaultOptions> =
          kind === '503'
            ? { serverErrorRate: rate, serverErrorStatuses: [503], maxFaultsPerCall: 4 }
            : { throttleRate: rate, throttleBurst: 1, retryAfterSeconds: 1, maxFaultsPerCall: 4 };
        const runs: Reconciled[] = [];
        for (const client of [{ kind: 'cli-default' }, { kind: 'fixed', concurrency: 8 }] as ClientKind[])
          runs.push(await reconcile(size, { client, faults, aggregatedListing }));
        const [adaptive, fixed] = runs as [Reconciled, Reconciled];
        const c = adaptive.concurrency!;
        const ratio = adaptive.ms / fixed.ms;
        console.log(
          `  ${`${(rate * 100).toFixed(0)}% ${kind}`.padEnd(14)}${(aggregatedListing ? 'aggregated' : 'per farm').padEnd(13)}` +
            `${fmt(adaptive.ms).padStart(14)}  ${`${adaptive.applied}/${adaptive.failed}`.padStart(14)}  ${String(c.decreases).padStart(9)}  ${String(c.peak).padStart(4)}  ${String(c.current).padStart(3)}  ${mib(adaptive.peakRssMiB).padEnd(7)} ` +
            `${fmt(fixed.ms).padStart(13)}  ${`${fixed.applied}/${fixed.failed}`.padStart(14)}  ${mib(fixed.peakRssMiB).padEnd(7)} ${ratio.toFixed(2)}x` +
            `${(adaptive.failed ?? 0) + (fixed.failed ?? 0) > 0 ? `   failed: ${[...new Set([...adaptive.failedCodes!, ...fixed.failedCodes!])].join(', ')}` : ''}`,
        );
        const what = `${(rate * 100).toFixed(0)}% random ${kind}s, ${aggregatedListing ? 'aggregated listing' : 'farm by farm'}`;
        checks.push([`${what}: at least as fast as the fixed 8 (within 5%)`, ratio <= 1.05]);
        checks.push([
          `${what}: every farm applied in one run`,
          adaptive.failed === 0 && adaptive.applied === adaptive.changes,
        ]);
      }
    }
  }
};

/** The compliance-run function's memory, from serverless.yml (the function's own, or the provider's). */
const complianceMemoryMiB = (): number => {
  const doc = parseYaml(readFileSync(join(__dirname, '../serverless.yml'), 'utf8'), {
    logLevel: 'silent',
  }) as { provider: { memorySize?: number }; functions: Record<string, { memorySize?: number }> };
  return doc.functions['compliance-run']?.memorySize ?? doc.provider.memorySize ?? 1024;
};

/**
 * The compliance-run handler, as Lambda runs it (report, then enforce), in a process of its own
 * against the simulator (aggregated listing off: farm by farm, the most calls and the longest
 * run) and stand-ins for S3 (the policy), SSM (the OVH credentials) and EventBridge.
 */
const complianceCase = async (checks: [string, boolean][]) => {
  const memory = complianceMemoryMiB();
  // The heap Lambda's Node runtime gives a function of this memory (its bootstrap: a tenth for the
  // new space, half of that per semi-space, the rest for the old space); STICKLER_BENCH_LAMBDA_HEAP=0
  // runs with Node's defaults for this machine instead (a far larger heap, collected later).
  const lambdaHeap = process.env.STICKLER_BENCH_LAMBDA_HEAP !== '0';
  const newSpace = Math.floor(memory / 10);
  const flags = lambdaHeap
    ? [`--max-semi-space-size=${Math.floor(newSpace / 2)}`, `--max-old-space-size=${memory - newSpace}`]
    : [];
  console.log(
    `\nThe compliance-run handler (memory in serverless.yml: ${memory} MB; its client: ${INITIAL} calls in flight, as deployed), farm by farm, ` +
      `node ${flags.length ? flags.join(' ') : "with this machine's default heap"}`,
  );
  console.log(
    '  farms     mode      time     farms checked  drifted  requested  events    peak RSS   of its memory',
  );
  // The function's bundle, built as serverless.yml builds it, run by plain Node as Lambda runs it.
  const dir = mkdtempSync(join(tmpdir(), 'stickler-bench-'));
  const bundle = join(dir, 'compliance-run.js');
  buildSync({
    entryPoints: [join(__dirname, '../functions/compliance-run.ts')],
    outfile: bundle,
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    mainFields: ['module', 'main'],
    external: ['@aws-sdk/*'],
    logLevel: 'error',
  });
  const runner = join(dir, 'run.js');
  writeFileSync(runner, COMPLIANCE_RUNNER.replace('BUNDLE', JSON.stringify(bundle)));
  const [s3, ssm, eventBridge] = await Promise.all([
    startFakeAws({ service: 's3' }),
    startFakeAws({ service: 'ssm' }),
    startFakeAws({ service: 'events' }),
  ]);
  let events = 0;
  s3.on('GET /stickler-bench-policies/*', () => ({
    body: GENERATED_FLEET_POLICY,
    headers: { 'x-amz-version-id': 'bench' },
  }));
  ssm.on('AmazonSSM.GetParameter', () => ({
    body: { Parameter: { Value: JSON.stringify(SIMULATOR_CREDENTIALS) } },
  }));
  eventBridge.on('AWSEvents.PutEvents', (input) => {
    const entries = (input as { Entries: unknown[] }).Entries;
    events += entries.length;
    eventBridge.calls.length = 0; // kept by the stand-in for tests; not needed here
    return { body: { FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: 'e' })) } };
  });
  try {
    for (const farms of COMPLIANCE_FARMS) {
      const size: Size = { services: Math.max(1, Math.round(farms / 200)), perService: 200 };
      const sim = await simulator(size);
      try {
        for (const mode of ['report', 'enforce'] as const) {
          events = 0;
          const run = await inChild(
            {
              job: 'compliance',
              mode,
              env: {
                STAGE: 'bench',
                AWS_REGION: 'eu-west-3',
                AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
                AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
                AWS_ENDPOINT_URL_S3: s3.url,
                AWS_ENDPOINT_URL_SSM: ssm.url,
                AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.url,
                // No table answers here: the look for stickler's own unapplied writes finds no zone
                // holding unapplied changes in this fleet, so it reads no table.
                AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
                EVENT_BUS_NAME: 'stickler-bench',
                IDEMPOTENCY_TABLE: 'stickler-bench-idempotency',
                POLICY_BUCKET: 'stickler-bench-policies',
                POLICY_KEY: 'policy.yaml',
                OVH_ENDPOINT: sim.baseUrl,
                OVH_CREDENTIALS_PARAMETER: '/stickler/bench/ovh-credentials',
                POWERTOOLS_LOG_LEVEL: 'SILENT',
                POWERTOOLS_METRICS_DISABLED: 'true',
              },
            },
            { script: runner, flags },
          );
          const share = run.peakRssMiB / memory;
          const r = run.compliance!;
          console.log(
            `  ${String(size.services * size.perService).padEnd(9)} ${mode.padEnd(9)} ${fmt(run.ms).padStart(7)}  ${String(r.farmsChecked).padStart(13)}  ${String(r.drifted).padStart(7)}  ${String(r.requested).padStart(9)}  ${String(events).padStart(6)}   ${mib(run.peakRssMiB).padStart(8)}   ${(share * 100).toFixed(0)}%`,
          );
          checks.push([
            `compliance run (${mode}) at ${size.services * size.perService} farms: ${mib(run.peakRssMiB)}, within ${memory} MB with a margin (at most 80%)`,
            share <= 0.8 && r.farmsChecked === size.services * size.perService,
          ]);
        }
      } finally {
        await sim.close();
      }
    }
  } finally {
    await Promise.all([s3.close(), ssm.close(), eventBridge.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
};

/** Runs the bundled handler once (job in argv[2], as reconcile-run.ts takes it), and answers as it does. */
const COMPLIANCE_RUNNER = `
const job = JSON.parse(process.argv[2]);
Object.assign(process.env, job.env);
const { handler } = require(BUNDLE);
const started = performance.now();
handler({ mode: job.mode }, { awsRequestId: 'bench-' + job.mode, functionName: 'compliance-run' }).then(
  (r) => process.send({ ok: true, result: { ms: performance.now() - started, peakRssMiB: process.resourceUsage().maxRSS / 1024,
    compliance: { farmsChecked: r.farmsChecked, drifted: r.drifted, requested: r.requested } } }, () => process.exit(0)),
  (e) => process.send({ ok: false, error: String(e && e.stack || e) }, () => process.exit(1)),
);
`;

/** Plan time with and without the traffic lookup (documented listing, as by default). */
/**
 * The memory case: the apply's peak RSS as the fleet grows (100 farms per service, a third
 * drifted), each run in a process of its own, with and without the aggregated listing, with
 * Node's default heap and in a heap of APPLY_HEAP MiB.
 */
const memoryCase = async (checks: [string, boolean][]) => {
  console.log(
    `\nMemory: the apply (discovery + plan + apply) at the CLI defaults, 100 farms per service; Node's default heap, then a ${APPLY_HEAP} MiB heap`,
  );
  console.log(
    '  farms     listing        default heap: time  peak RSS    bounded heap: time  applied/failed  peak RSS',
  );
  for (const farms of APPLY_FARMS) {
    for (const aggregatedListing of [false, true]) {
      const size = { services: Math.max(1, Math.round(farms / 100)), perService: 100 };
      const job = (baseUrl: string) => ({
        job: 'reconcile' as const,
        baseUrl,
        client: { kind: 'cli-default' as const },
      });
      // A simulator for each run: the first leaves the fleet compliant.
      const fresh = async <T>(run: (baseUrl: string) => Promise<T>) => {
        const sim = await simulator(size, { aggregatedListing });
        try {
          return await run(sim.baseUrl);
        } finally {
          await sim.close();
        }
      };
      {
        const free = await fresh((baseUrl) => inChild(job(baseUrl)));
        const bounded = await fresh((baseUrl) =>
          inChild(job(baseUrl), {
            script: join(__dirname, 'reconcile-run.ts'),
            flags: ['--import', 'tsx', `--max-old-space-size=${APPLY_HEAP}`],
          }),
        ).catch((error: Error) => ({ failedToFinish: error.message }));
        const ok = !('failedToFinish' in bounded) && bounded.failed === 0 && bounded.applied === free.applied;
        console.log(
          `  ${String(farms).padEnd(9)} ${(aggregatedListing ? 'aggregated' : 'per farm').padEnd(14)} ${fmt(free.ms).padStart(18)}  ${mib(free.peakRssMiB).padStart(8)}    ` +
            ('failedToFinish' in bounded
              ? `did not finish: ${bounded.failedToFinish}`
              : `${fmt(bounded.ms).padStart(18)}  ${`${bounded.applied}/${bounded.failed}`.padStart(14)}  ${mib(bounded.peakRssMiB).padStart(8)}`),
        );
        if (farms === Math.max(...APPLY_FARMS))
          checks.push([
            `the apply at ${farms} farms finished in a ${APPLY_HEAP} MiB heap with every farm applied (${aggregatedListing ? 'aggregated' : 'per-farm'} listing)`,
            ok,
          ]);
      }
    }
  }
};

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
  if (CASES.has('traffic-only')) {
    const size = { services: 20, perService: 100 };
    console.log(
      `stickler plan and the traffic lookup, CLI defaults, ${L} ms per call; ${size.services * size.perService} farms`,
    );
    const { on } = await trafficCost(size);
    if (on.known !== size.services) process.exitCode = 1;
    return;
  }
  console.log(
    `stickler reconcile benchmark, CLI defaults (concurrency ${INITIAL} adapting up to ${DEFAULT_CONCURRENCY_CEILING}, ` +
      `task polls adaptive up to ${POLL_MS} ms), ${L} ms per call, refresh tasks ${TASK} ms; Node ${process.version}; ` +
      `each run in a process of its own (peak RSS is the run's)\n`,
  );
  const checks: [string, boolean][] = [];
  if (CASES.has('main')) await mainCase(checks);
  if (CASES.has('main') || CASES.has('bursts')) await burstCase(checks);
  if (CASES.has('faults')) await faultCase(checks);
  if (CASES.has('memory')) await memoryCase(checks);
  if (CASES.has('compliance')) await complianceCase(checks);
  console.log('\nTargets');
  for (const [name, ok] of checks) console.log(`  ${verdict(ok)}  ${name}`);
  if (checks.some(([, ok]) => !ok)) process.exitCode = 1;
};

void main();
