/** The CLI's words: usage text, options, and the checked reading of numbers and input files. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MAX_TIMER_MS } from '../wiring/config';
import { UsageError } from './io';

export const USAGE = `stickler — change-controlled session stickiness for OVHcloud Load Balancers

Usage:
  stickler show [SERVICE...] [--window START/END] [--json]
  stickler plan --policy FILE [--service NAME]... [--out PLAN_FILE] [--window START/END] [--json]
                    both say each load balancer's traffic now and its quietest 5 minutes in the window
                    (ISO 8601 with offsets, END may be a duration: 2026-12-08T00:00Z/PT6H; default the next 24 h)
  stickler plan --policy FILE [--service NAME]... --pipeline [--stage STAGE] [--out PLAN_FILE] [--window START/END] [--json]
                    also says the slot each zone an apply would refresh already waits for in the pipeline (another
                    request's: one preferring the quietest time joins it when its window holds it); with --out, it
                    registers the saved plan with the pipeline for 7 days (at most 50 changes): a ticket naming its
                    digest has exactly its changes applied, each only if the farm still stores what it read
  stickler apply --policy FILE [--service NAME]... [--yes] [--allow-foreign-pending] [--json]
  stickler apply PLAN_FILE [--yes] [--json]    exactly a saved plan's changes, if nothing it read has changed
  stickler set SERVICE TYPE/FARM_ID STICKINESS [--ticket KEY] [--reason TEXT] [--yes] [--allow-foreign-pending] [--json]
  stickler refresh SERVICE ZONE [--yes] [--json]    apply a zone's unapplied changes, whoever made them
  stickler refresh SERVICE ZONE --pipeline [--stage STAGE] [--yes] [--reason TEXT] [--wait SECONDS] [--json]
                    the same through the pipeline: the worker applies the zone under its load balancer's lease,
                    only if it still holds the count you approved (else refused changed-since), audited
  stickler apply|set ... --pipeline [--stage STAGE] [--wait SECONDS] [--prefer quietest [--window START/END]]
                    the same changes as requests through the pipeline: the worker serialises them with
                    every other writer, and each gets its audit event (see "Through the pipeline");
                    --prefer quietest: the worker applies them at the quietest 5 minutes of the window
                    by each load balancer's last 7 days (default window: the next 24 h)
  stickler status REQUEST_ID... --pipeline [--stage STAGE] [--json]
                    where requests stand in the pipeline, and their outcomes
  stickler cancel REQUEST_ID --pipeline [--stage STAGE] [--reason TEXT] [--json]
                    cancel a request still waiting for its change window
  stickler undo REQUEST_ID... | --ticket KEY | --run RUN_ID --pipeline [--stage STAGE] [--force] [--yes] [--reason TEXT] [--json]
                    put the farms of applied requests back to what they were, through the pipeline
  stickler doctor [--stage STAGE] [--json]
                    check what a deployment needs (SSM parameters, OVH credentials and rights, the bus,
                    queue, table and schedule group, the triggers' secrets), and how to fix each ✗
  stickler --version
  stickler simulate [--fleet FILE] [--port N] [--pipeline [--port-base N] [--exports-file FILE]] [--service-account]
                    [--latency MS] [--seed N] [--error-rate R] [--throttle-rate R] [--hang-rate R]
                    [--task-error-rate R] [--task-ms MS] [--metrics on|off|empty|refused|hang]
                    (--service-account: exports a service account's OVH_CLIENT_ID and OVH_CLIENT_SECRET;
                    --metrics: what its metrics endpoint answers, default on)
  stickler compliance --policy FILE [--mode report|enforce] [--json]
                    one compliance run on the local pipeline of 'simulate --pipeline' (paste its exports)
  stickler send FILE [--url URL]
                    send a sample event of events/ (ticketing-webhook, slack) to 'simulate --pipeline',
                    stamped now and signed with its secret
  stickler demo     run plan and apply of the example policy on the example fleet, in the simulator
                    (takes simulate's --port, --latency, --seed, --*-rate and --task-ms, and the tuning flags)

Stickiness words: cookie (HTTP farms only), sourceIp, none.
Connection: OVH_ENDPOINT (ovh-eu, ovh-ca, ovh-us or a base URL), and a service account (OVH_CLIENT_ID,
OVH_CLIENT_SECRET; OVH_OAUTH2_TOKEN_URL for a base URL) or an application key (OVH_APPLICATION_KEY,
OVH_APPLICATION_SECRET, OVH_CONSUMER_KEY), or ovh.conf; OVH_LISTING=per-farm: documented calls only (default auto).
Tuning (show, plan, apply, set, refresh): --concurrency N (ceiling, 32: starts at 8, adapts), --timeout MS per call
(15000), --poll-interval MS (2000), --task-timeout MS (600000). A flag a command does not take is refused.

Pipeline: --pipeline (or STICKLER_PIPELINE=1) uses the bus of the environment ('simulate --pipeline' prints it);
--stage STAGE the deployed stack stickler-STAGE, with your AWS credentials (policy stickler-STAGE-operator).

Exit codes: 0 done (plan: compliant); 2 plan: drift found, apply/set/undo: something refused;
1 error, a change failed, or (through the pipeline) its outcome is not known yet.`;

export const OPTIONS = {
  json: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  help: { type: 'boolean', short: 'h' },
  policy: { type: 'string', short: 'p' },
  mode: { type: 'string' },
  service: { type: 'string', multiple: true },
  ticket: { type: 'string' },
  run: { type: 'string' },
  reason: { type: 'string' },
  'allow-foreign-pending': { type: 'boolean' },
  concurrency: { type: 'string' },
  timeout: { type: 'string' },
  'poll-interval': { type: 'string' },
  'task-timeout': { type: 'string' },
  fleet: { type: 'string' },
  pipeline: { type: 'boolean' },
  'service-account': { type: 'boolean' },
  port: { type: 'string' },
  latency: { type: 'string' },
  seed: { type: 'string' },
  'error-rate': { type: 'string' },
  'throttle-rate': { type: 'string' },
  'hang-rate': { type: 'string' },
  'task-error-rate': { type: 'string' },
  'task-ms': { type: 'string' },
  window: { type: 'string' },
  prefer: { type: 'string' },
  metrics: { type: 'string' },
  url: { type: 'string' },
  stage: { type: 'string' },
  wait: { type: 'string' },
  force: { type: 'boolean' },
  version: { type: 'boolean', short: 'v' },
  out: { type: 'string', short: 'o' },
  'port-base': { type: 'string' },
  'exports-file': { type: 'string' },
} as const;

export type Flag = keyof typeof OPTIONS;
export type Flags = ReturnType<typeof parseArgv>['values'];
export const parseArgv = (argv: string[]) =>
  parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true, tokens: true });

/** Read by every command that talks to OVH (the session): one set of tuning flags serves a whole script. */
const TUNING: readonly Flag[] = ['concurrency', 'timeout', 'poll-interval', 'task-timeout'];
/** Through a pipeline: which one (the environment's, or a deployed stage's) and how long to wait for outcomes. */
const PIPELINE: readonly Flag[] = ['pipeline', 'stage', 'wait'];
/** The simulator's settings and faults. */
const SIMULATOR: readonly Flag[] = [
  'port',
  'latency',
  'seed',
  'error-rate',
  'throttle-rate',
  'hang-rate',
  'task-error-rate',
  'task-ms',
  'metrics',
];

/**
 * The flags each command takes (`--help` goes with every one). Any other is refused before
 * anything runs: a flag a command would drop (`compliance --mode enforce --service X`) must never
 * widen what it acts on.
 */
export const COMMAND_FLAGS: Readonly<Record<string, readonly Flag[]>> = {
  show: ['json', 'window', ...TUNING],
  plan: ['policy', 'service', 'json', 'out', 'window', 'pipeline', 'stage', ...TUNING],
  apply: [
    'policy',
    'service',
    'yes',
    'allow-foreign-pending',
    'json',
    ...PIPELINE,
    'prefer',
    'window',
    'ticket',
    'reason',
    ...TUNING,
  ],
  set: [
    'ticket',
    'reason',
    'yes',
    'allow-foreign-pending',
    'json',
    ...PIPELINE,
    'prefer',
    'window',
    ...TUNING,
  ],
  cancel: ['reason', 'json', ...PIPELINE],
  undo: ['yes', 'force', 'reason', 'ticket', 'run', 'json', ...PIPELINE],
  status: ['json', 'pipeline', 'stage'],
  refresh: ['yes', 'json', 'reason', ...PIPELINE, ...TUNING],
  simulate: ['fleet', 'pipeline', 'port-base', 'exports-file', 'service-account', ...SIMULATOR],
  compliance: ['policy', 'mode', 'json'],
  send: ['url'],
  demo: [...SIMULATOR, ...TUNING],
  doctor: ['stage', 'json'],
};

export { MAX_TIMER_MS };

interface Range {
  min?: number;
  max?: number;
  /** Rates: any number in the range; otherwise a whole number. */
  fraction?: boolean;
}

/** `raw` read as a number within the range, or undefined. */
const inRange = (raw: unknown, { min = 0, max = MAX_TIMER_MS, fraction = false }: Range) => {
  const value = Number(raw);
  const ok =
    typeof raw === 'string' &&
    raw.trim() !== '' &&
    Number.isFinite(value) &&
    value >= min &&
    value <= max &&
    (fraction || Number.isInteger(value));
  return ok ? value : undefined;
};

const rangeText = ({ min = 0, max = MAX_TIMER_MS, fraction = false }: Range) =>
  `${fraction ? 'a number' : 'a whole number'} from ${min} to ${max}`;

/**
 * A numeric flag, checked: within [min, max], and a whole number unless `fraction` (rates).
 * Past a timer's range, or 2.5 connections, is a usage error, not a silent 1 ms or a crash.
 */
export const number = (flags: Flags, name: keyof Flags, fallback: number, range: Range = {}) => {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const value = inRange(raw, range);
  if (value === undefined)
    throw new UsageError(`--${String(name)} must be ${rangeText(range)}, got '${String(raw).slice(0, 40)}'`);
  return value;
};

/** The numbers the functions read from the environment: one table and one rule (lib/wiring/config.ts). */
export { checkEnvNumbers, ENV_NUMBERS, type EnvNumber } from '../wiring/config';

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

/** The largest policy or fleet file read: far above any real one, far below trouble. */
export const MAX_INPUT_BYTES = 1024 * 1024;
/** The largest saved plan read: every farm of a large fleet, with what was read of it. */
export const MAX_PLAN_BYTES = 64 * 1024 * 1024;

/** Reads an input file: a regular file of at most MAX_INPUT_BYTES (not /dev/zero, not a folder). */
export const readInput = (cwd: string, file: string, what: string, max = MAX_INPUT_BYTES): string => {
  const path = resolve(cwd, file);
  let size: number;
  try {
    const info = statSync(path);
    if (!info.isFile()) throw new UsageError(`cannot read ${what} ${file}: not a regular file`);
    size = info.size;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(
      `cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  if (size > max)
    throw new UsageError(`cannot read ${what} ${file}: ${size} bytes, over the ${max}-byte limit`);
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
};
