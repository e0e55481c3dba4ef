/**
 * "Full jitter" exponential backoff: a random delay between 0 and min(cap, base × 2^(attempt-1)),
 * so that clients retrying together do not come back together.
 * https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export const fullJitterDelay = (
  attempt: number,
  delays: { baseDelayMs: number; maxDelayMs?: number },
  random: () => number = Math.random,
): number =>
  random() * Math.min(delays.maxDelayMs ?? Number.POSITIVE_INFINITY, delays.baseDelayMs * 2 ** (attempt - 1));
