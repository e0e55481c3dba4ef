/**
 * Cold start: each function's bundle, built as serverless.yml builds it (esbuild, minified, any
 * AWS SDK v3 import left to the Lambda runtime), and its module load time, side by side with
 * `node -e 0` on the same Node, alternating runs so that machine noise hits both alike.
 * Targets: every bundle under 250 KB; load time within 2x of bare Node for the functions that
 * answer people or queues (compliance-run runs on a schedule and parses YAML policies: its load
 * time is reported, not held to 2x).
 *
 * Run: npm run bench:cold-start [-- --runs 40]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildSync } from 'esbuild';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '40' } } });
const runs = Number(values.runs);
const root = join(__dirname, '..');
const out = mkdtempSync(join(tmpdir(), 'stickler-cold-'));

// Enough configuration for each handler's module scope to load, as it does in Lambda.
const env = {
  ...process.env,
  STAGE: 'local',
  AWS_REGION: 'eu-west-3',
  EVENT_BUS_NAME: 'stickler-bench',
  IDEMPOTENCY_TABLE: 'stickler-bench-idempotency',
  EVENT_BUS_ARN: 'arn:aws:events:eu-west-3:000000000000:event-bus/stickler-bench',
  DEFERRAL_SCHEDULE_GROUP: 'stickler-bench',
  DEFERRAL_ROLE_ARN: 'arn:aws:iam::000000000000:role/stickler-bench-deferral',
  POLICY_BUCKET: 'stickler-bench-policies',
  POLICY_KEY: 'policy.yaml',
  OVH_ENDPOINT: 'http://127.0.0.1:9/1.0',
  OVH_APPLICATION_KEY: 'bench',
  OVH_APPLICATION_SECRET: 'bench',
  OVH_CONSUMER_KEY: 'bench',
  NODE_PATH: join(root, 'node_modules'), // where the runtime's AWS SDK would be
};

const time = (args: string[]): number => {
  const started = process.hrtime.bigint();
  execFileSync(process.execPath, args, { env, stdio: 'ignore' });
  return Number(process.hrtime.bigint() - started) / 1e6;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Times `args` against bare `node -e 0` in pairs, after a few unmeasured runs of each (disk
 * cache). The pair's order alternates, and the ratio reported is the median of the pairs'
 * ratios: a slow moment of this shared machine slows both runs of a pair, and cancels out.
 */
const versusBare = (args: string[]) => {
  for (let i = 0; i < 3; i++) {
    time(args);
    time(['-e', '0']);
  }
  const load: number[] = [];
  const bare: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < runs; i++) {
    // Alternate which of the pair runs first.
    const first = i % 2 === 0 ? time(args) : time(['-e', '0']);
    const second = i % 2 === 0 ? time(['-e', '0']) : time(args);
    const [l, b] = i % 2 === 0 ? [first, second] : [second, first];
    load.push(l);
    bare.push(b);
    ratios.push(l / b);
  }
  return { load, bare, ratio: median(ratios) };
};

const functions = readdirSync(join(root, 'functions')).filter((f) => f.endsWith('.ts'));
console.log(
  `Cold start — Node ${process.version}, ${runs} pairs of runs, medians (min-max); ratio: median of the pairs' ratios\n`,
);
console.log('function          bundle   AWS SDK     load              node -e 0          ratio');
let ok = true;
const range = (xs: number[]) =>
  `${median(xs).toFixed(0)} ms (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`;
try {
  for (const file of functions) {
    const name = file.replace(/\.ts$/, '');
    const outfile = join(out, `${name}.js`);
    const result = buildSync({
      entryPoints: [join(root, 'functions', file)],
      outfile,
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node24',
      format: 'cjs',
      mainFields: ['module', 'main'],
      external: ['@aws-sdk/*'], // as serverless.yml: the runtime's SDK, never bundled
      metafile: true,
      logLevel: 'error',
    });
    const usesSdk = Object.values(result.metafile.outputs).some((o) =>
      o.imports.some((i) => i.path.startsWith('@aws-sdk/')),
    );
    const size = statSync(outfile).size;
    const { load, bare, ratio } = versusBare(['-e', `require(${JSON.stringify(outfile)})`]);
    const latencyBound = name !== 'compliance-run';
    const pass = size < 250 * 1024 && (!latencyBound || ratio <= 2);
    ok &&= pass;
    console.log(
      `${name.padEnd(18)}${`${(size / 1024).toFixed(0)} KB`.padStart(8)}   ${(usesSdk ? 'runtime' : 'none').padEnd(10)}${range(load).padEnd(18)}${range(bare).padEnd(18)}${`${ratio.toFixed(2)}x`.padStart(6)}  ${pass ? 'PASS' : 'FAIL'}${latencyBound ? '' : ' (size target only)'}`,
    );
  }
  // For scale, in the same run: one AWS SDK v3 client, required the way the Lambda runtime
  // would provide it (from node_modules), with nothing else.
  const sdk = versusBare([
    '-e',
    `require(${JSON.stringify(require.resolve('@aws-sdk/client-eventbridge'))})`,
  ]);
  console.log('(reference) the AWS SDK EventBridge client alone:');
  console.log(
    `${''.padEnd(37)}${range(sdk.load).padEnd(18)}${range(sdk.bare).padEnd(18)}${`${sdk.ratio.toFixed(2)}x`.padStart(6)}`,
  );
} finally {
  rmSync(out, { recursive: true, force: true });
}
console.log(
  '\nThe worker reaches AWS through lib/adapters/aws (fetch + SigV4), not the AWS SDK v3 clients, whose',
);
console.log('loading alone would exceed the target (README, "Cold start").');
if (!ok) process.exitCode = 1;
