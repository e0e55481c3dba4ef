/**
 * One reader of the functions' configuration (their environment, read once at start): the same
 * rule for the same variable in every function, and an error naming the variable and what it
 * should be. A variable that is not set takes its default; one that is set must be right (a typo
 * in a timeout is refused, never read as the default).
 */
import { resolveEndpoint } from '../adapters/ovh/endpoint';
import { ConfigError } from '../domain/errors';

type Env = NodeJS.ProcessEnv;

/** The stage (`STAGE`, `dev` when unset); `local` is the local pipeline's. */
export const stageOf = (env: Env): string => env.STAGE?.trim() || 'dev';

/** A variable that must be set (not blank). */
export const requiredVar = (env: Env, name: string): string => {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`${name} is not set`);
  return value;
};

/** A variable that may be unset or blank (undefined then). */
export const optionalVar = (env: Env, name: string): string | undefined => env[name]?.trim() || undefined;

/** The longest a Node.js timer waits (ms): a longer time would fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * Every number the functions read from the environment, with its range: the same rule in every
 * function, and in the CLI, which checks them before it runs those functions locally.
 */
export const ENV_NUMBERS = {
  OVH_CONCURRENCY: { min: 1, max: 64 },
  OVH_TIMEOUT_MS: { min: 100, max: MAX_TIMER_MS },
  TASK_TIMEOUT_MS: { min: 100, max: MAX_TIMER_MS },
  POLL_INTERVAL_MS: { min: 1, max: MAX_TIMER_MS },
  CLAIM_HOLD_MS: { min: 1, max: MAX_TIMER_MS },
  FINISH_RESERVE_MS: { min: 1, max: MAX_TIMER_MS },
  LEASE_WAIT_MS: { min: 0, max: MAX_TIMER_MS },
  MAX_RECEIVE_COUNT: { min: 1, max: 1_000 },
  BATCH_WINDOW_SECONDS: { min: 0, max: 300 },
  QUEUE_VISIBILITY_SECONDS: { min: 1, max: 43_200 },
} as const satisfies Record<string, { min: number; max: number }>;
export type EnvNumber = keyof typeof ENV_NUMBERS;

/** A whole number in [min, max] (by default the range ENV_NUMBERS gives `name`), or `fallback` when unset or blank. */
export const intVar = (
  env: Env,
  name: string,
  fallback: number,
  range: { min?: number; max?: number } = ENV_NUMBERS[name as EnvNumber] ?? {},
): number => {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const min = range.min ?? 1;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max)
    throw new ConfigError(
      `${name} must be a whole number${max === Number.MAX_SAFE_INTEGER ? ` >= ${min}` : ` from ${min} to ${max}`}, got '${raw.slice(0, 40)}'`,
    );
  return value;
};

/** Refuses a variable of `names` that is set but out of its range (the CLI, before it runs the functions). */
export const checkEnvNumbers = (env: Env, names: readonly EnvNumber[]): void => {
  for (const name of names) intVar(env, name, 0);
};

/** How a function calls OVH: where, and how many calls at once with what timeout (same rule everywhere). */
export interface OvhCallSettings {
  baseUrl: string;
  concurrency: number;
  timeoutMs: number;
}

/**
 * `OVH_ENDPOINT` (a known endpoint or a base URL), `OVH_CONCURRENCY` (default 8) and
 * `OVH_TIMEOUT_MS` (per call; default 15 s, or the function's own), in their ENV_NUMBERS ranges.
 */
export const ovhCallSettings = (env: Env, defaults: { timeoutMs?: number } = {}): OvhCallSettings => ({
  baseUrl: resolveEndpoint(env.OVH_ENDPOINT),
  concurrency: intVar(env, 'OVH_CONCURRENCY', 8),
  timeoutMs: intVar(env, 'OVH_TIMEOUT_MS', defaults.timeoutMs ?? 15_000),
});
