/** The CLI's words: usage text, options, and the checked reading of numbers and input files. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from './io';

export const USAGE = `stickler — change-controlled session stickiness for OVHcloud Load Balancers

Usage:
  stickler show [SERVICE...] [--json]
  stickler plan --policy FILE [--service NAME]... [--json]
  stickler apply --policy FILE [--service NAME]... [--yes] [--allow-foreign-pending] [--json]
  stickler set SERVICE TYPE/FARM_ID STICKINESS [--ticket KEY] [--reason TEXT] [--allow-foreign-pending] [--json]
  stickler refresh SERVICE ZONE [--yes] [--json]    apply a zone's unapplied changes, whoever made them
  stickler simulate [--fleet FILE] [--port N] [--pipeline] [--latency MS] [--seed N] [--error-rate R]
                    [--throttle-rate R] [--hang-rate R] [--task-error-rate R] [--task-ms MS]
  stickler compliance --policy FILE [--mode report|enforce] [--json]
                    one compliance run on the local pipeline of 'simulate --pipeline' (paste its exports)
  stickler demo     run plan and apply of the example policy on the example fleet, in the simulator

Stickiness words: cookie (HTTP farms only), sourceIp, none.
Connection: OVH_ENDPOINT (ovh-eu, ovh-ca, ovh-us or a base URL), OVH_APPLICATION_KEY,
OVH_APPLICATION_SECRET, OVH_CONSUMER_KEY.
Tuning: --concurrency N (8), --timeout MS per call (15000), --poll-interval MS (2000),
--task-timeout MS (600000).

Exit codes: 0 done (plan: compliant); 2 plan: drift found, apply/set: something refused;
1 error or a change failed.`;

export const OPTIONS = {
  json: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  help: { type: 'boolean', short: 'h' },
  policy: { type: 'string', short: 'p' },
  mode: { type: 'string' },
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

export type Flags = ReturnType<typeof parseArgv>['values'];
export const parseArgv = (argv: string[]) =>
  parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });

export const number = (
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

export const readInput = (cwd: string, file: string, what: string): string => {
  try {
    return readFileSync(resolve(cwd, file), 'utf8');
  } catch (error) {
    throw new UsageError(
      `cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
};
