/**
 * The one retry of the project's calls: an attempt is tried again while its error says a retry may
 * help (the error family's own `retryable`, or the caller's rule), up to a number of attempts, after
 * a "full jitter" exponential delay (or the delay the failure asked for, such as a Retry-After), and
 * never past a deadline: a retry whose wait would end after it is not made.
 * https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
import { fullJitterDelay } from './backoff';

export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs?: number;
  /** Epoch ms by which every attempt has started and every wait has ended. */
  deadline?: number;
  random?: () => number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

/** Whether (and, optionally, how long after) the failed attempt `n` may be tried again. */
export type RetryRule = (error: unknown, attempt: number) => boolean | { afterMs: number };

/** The error family's own word: an error with `retryable: true` may be tried again. */
export const retryableError: RetryRule = (error) =>
  typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true;

/**
 * Runs `attempt(n)` (n from 1) until it resolves, or its error may not be retried, or the attempts
 * or the time run out: then the last error is thrown as it is.
 */
export const retry = async <T>(
  attempt: (n: number) => Promise<T>,
  policy: RetryPolicy,
  rule: RetryRule = retryableError,
): Promise<T> => {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      const verdict = n < policy.maxAttempts ? rule(error, n) : false;
      if (verdict === false) throw error;
      const delayMs =
        typeof verdict === 'object'
          ? verdict.afterMs
          : fullJitterDelay(
              n,
              { baseDelayMs: policy.baseDelayMs, maxDelayMs: policy.maxDelayMs },
              policy.random,
            );
      if (policy.deadline !== undefined && policy.now() + delayMs >= policy.deadline) throw error;
      await policy.sleep(delayMs);
    }
  }
};
