/**
 * The number of calls in flight, adapted to what the API answers: it tells overload from noise.
 *
 * Outcomes are judged a round at a time (a round: as many answers as the limit was when it began,
 * and at least MIN_ROUND, so that a low limit is not judged on two answers). A round says
 * "overloaded" when
 * - more than a quarter of its answers are signs of trouble (429, 5xx, a timeout, a reset): one
 *   failure among many is noise, and its retry is just another call, but a storm is not;
 * - timeouts cluster: TIMEOUT_CLUSTER or more in one round;
 * - its calls got slower: the median answer time is at least twice the baseline (the fastest
 *   round's median, which follows a lasting change slowly, BASELINE_DRIFT a round).
 * Overloaded, the limit halves and the next round starts; answers to calls sent before the
 * halving say nothing about the new limit and are ignored, so one storm halves once per round.
 *
 * Growth: one per success (slow start: the limit doubles each round of calls) below a level,
 * then one per limit's worth of successes (additive increase, as TCP's congestion control). The
 * level is the ceiling until the first halving. After a halving it is the level at which the
 * latest clear round began (a whole round answered without a single trouble), never above the
 * limit that was just overloaded, and at least the halved limit: the limit climbs back quickly to
 * what was proven to work, then probes above it slowly (as TCP's slow-start threshold, or CUBIC's
 * quick return towards the window of its last loss). The configured concurrency stays the ceiling.
 *
 * Why the clear round, and not the limit before the halving: a rate limit (as an API's, counted in
 * calls per time) answers 429 to a share of the calls at any limit above it, so no round above it
 * is clear, and the limit returns under it, not into it. A passing burst (a few 429s in a row,
 * whatever the rate) leaves the rounds before it clear, so the limit returns where it was instead
 * of climbing back one at a time from half: under repeated bursts it was halved again before it
 * got back, and averaged about 8 calls in flight. Measured on a model of both (in the tests: calls
 * of 50 ms, a token bucket of 100 to 400 calls a second, or 2% of calls starting a burst of eight
 * 429s): returning to the limit before the halving made the bursts' 3,000 calls 2.2 times faster
 * than climbing back one at a time, but against the rate limit answered 21 to 48% of calls 429
 * (8 to 23% before) for no gain in time; returning to the clear round's level made them 1.7 times
 * faster, with 16 to 24% answered 429 against the rate limit, as fast as before.
 *
 * What it does not do: a 429's Retry-After is waited by the throttled call alone (http-client),
 * not by every call. A rate limit's Retry-After would be a gate for all, but a burst counted per
 * call (a gateway's, or the simulator's) is only worked through by calls: held back for a second
 * after each 429, a run would wait a second per 429 of the burst, as a lone call does (the
 * reconcile benchmark's first call, alone, takes 12 s to work through one burst of eight).
 */

/** What it moves: a limiter's limit (shared/limiter.ts). */
interface Adjustable {
  readonly limit: number;
  setLimit(limit: number): void;
}

/** How one call ended, as the limit sees it. */
export type CallOutcome =
  | { kind: 'success'; latencyMs: number }
  /** A 429: the API asks to slow down (the call itself waits its Retry-After, see http-client). */
  | { kind: 'throttled' }
  /** A 5xx or a dropped connection. */
  | { kind: 'failed' }
  | { kind: 'timeout' }
  /** Anything else (a 4xx, an answer that cannot be read): says nothing about load. */
  | { kind: 'neutral' };

export interface AdaptiveConcurrency {
  /** A ticket to give back with the call's outcome. */
  started(): number;
  finished(ticket: number, outcome: CallOutcome): void;
  readonly current: number;
  /** The highest limit reached. */
  readonly peak: number;
  readonly decreases: number;
}

/** The fewest answers a round is judged on. */
export const MIN_ROUND = 16;
/** A round with more than this share of throttled or failed answers is overload. */
export const OVERLOAD_SHARE = 0.25;
/** Timeouts in one round that say the API is overloaded, whatever their share. */
export const TIMEOUT_CLUSTER = 3;
/** A round whose median answer time is this many times the baseline's is overload… */
export const LATENCY_RATIO = 2;
/** …and at least this much slower (ms): a few ms more on a fast call is the machine, not the API. */
export const LATENCY_MIN_RISE_MS = 25;
/** How fast the latency baseline follows a lasting rise: this factor per round at most. */
export const BASELINE_DRIFT = 1.05;

interface Round {
  /** The limit when it began. */
  level: number;
  size: number;
  answers: number;
  troubles: number;
  timeouts: number;
  latencies: number[];
}

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

/** Why a round says the API is overloaded, or undefined when it does not (pure, for tests). */
export const overloadIn = (
  round: { answers: number; troubles: number; timeouts: number; medianMs?: number },
  baselineMs: number | undefined,
): 'share' | 'timeouts' | 'latency' | undefined => {
  if (round.answers > 0 && round.troubles / round.answers > OVERLOAD_SHARE) return 'share';
  if (round.timeouts >= TIMEOUT_CLUSTER) return 'timeouts';
  if (
    baselineMs !== undefined &&
    round.medianMs !== undefined &&
    round.medianMs >= LATENCY_RATIO * baselineMs &&
    round.medianMs - baselineMs >= LATENCY_MIN_RISE_MS
  )
    return 'latency';
  return undefined;
};

export const makeAdaptiveConcurrency = (
  limiter: Adjustable,
  options: { initial: number; max: number; min?: number },
): AdaptiveConcurrency => {
  const min = options.min ?? 1;
  let epoch = 0;
  let decreases = 0;
  /** Slow start below this limit, additive increase from it (see the header). */
  let recoverTo = options.max;
  /** The limit at which the latest clear round (every answer a success) began. */
  let clearAt: number | undefined;
  let baselineMs: number | undefined;
  let successes = 0;
  limiter.setLimit(Math.max(min, Math.min(options.initial, options.max)));
  let peak = limiter.limit;
  const newRound = (): Round => ({
    level: limiter.limit,
    size: Math.max(MIN_ROUND, limiter.limit),
    answers: 0,
    troubles: 0,
    timeouts: 0,
    latencies: [],
  });
  let round = newRound();

  const grow = () => {
    successes = 0;
    if (limiter.limit >= options.max) return;
    limiter.setLimit(limiter.limit + 1);
    peak = Math.max(peak, limiter.limit);
  };
  const closeRound = () => {
    const medianMs = median(round.latencies);
    const overloaded = overloadIn({ ...round, ...(medianMs !== undefined ? { medianMs } : {}) }, baselineMs);
    if (medianMs !== undefined)
      baselineMs = baselineMs === undefined ? medianMs : Math.min(medianMs, baselineMs * BASELINE_DRIFT);
    if (!overloaded && round.troubles === 0) clearAt = round.level;
    if (overloaded) {
      epoch++;
      const halved = Math.max(min, Math.floor(limiter.limit / 2));
      recoverTo = Math.max(halved, Math.min(limiter.limit, clearAt ?? halved));
      if (halved < limiter.limit) decreases++;
      limiter.setLimit(halved);
      successes = 0;
    }
    round = newRound();
  };

  return {
    started: () => epoch,
    finished(ticket, outcome) {
      if (ticket !== epoch || outcome.kind === 'neutral') return; // sent before the last halving
      round.answers++;
      if (outcome.kind === 'success') {
        round.latencies.push(outcome.latencyMs);
        // Slow start: one per success; from recoverTo on, one per limit's worth of successes.
        if (limiter.limit < recoverTo || ++successes >= limiter.limit) grow();
      } else round.troubles++;
      if (outcome.kind === 'timeout') round.timeouts++;
      if (round.answers >= round.size) closeRound();
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
