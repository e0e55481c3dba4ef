/**
 * Additive increase, multiplicative decrease of the number of calls in flight, as TCP's
 * congestion control and the AWS SDK's adaptive retry mode do: start where it is known to be
 * safe; until the first sign of overload, add one call in flight per success (slow start: the
 * limit doubles every round of calls); after it, add one each time a whole limit's worth of calls
 * succeeds; halve at a sign of overload (429, a 5xx, a timeout, a reset). A sign from a call
 * sent before the last halving says nothing new and is ignored, so one burst of 429s halves once.
 * The configured concurrency stays the ceiling.
 */

/** What it moves: a limiter's limit (shared/limiter.ts). */
interface Adjustable {
  readonly limit: number;
  setLimit(limit: number): void;
}

export interface AdaptiveConcurrency {
  /** A ticket to give back with the call's result. */
  started(): number;
  succeeded(ticket: number): void;
  overloaded(ticket: number): void;
  readonly current: number;
  /** The highest limit reached. */
  readonly peak: number;
  readonly decreases: number;
}

export const makeAdaptiveConcurrency = (
  limiter: Adjustable,
  options: { initial: number; max: number; min?: number },
): AdaptiveConcurrency => {
  const min = options.min ?? 1;
  let epoch = 0;
  let successes = 0;
  let peak = limiter.limit;
  let decreases = 0;
  let slowStart = true;
  limiter.setLimit(Math.max(min, Math.min(options.initial, options.max)));
  peak = limiter.limit;
  return {
    started: () => epoch,
    succeeded(ticket) {
      if (ticket !== epoch) return;
      successes++;
      if (slowStart || successes >= limiter.limit) {
        if (limiter.limit >= options.max) return;
        successes = 0;
        limiter.setLimit(limiter.limit + 1);
        peak = Math.max(peak, limiter.limit);
      }
    },
    overloaded(ticket) {
      if (ticket !== epoch) return; // sent before the last halving
      epoch++;
      successes = 0;
      decreases++;
      slowStart = false;
      limiter.setLimit(Math.max(min, Math.floor(limiter.limit / 2)));
    },
    get current() {
      return limiter.limit;
    },
    get peak() {
      return peak;
    },
    get decreases() {
      return decreases;
    },
  };
};
