import fc from 'fast-check';
import {
  type CallOutcome,
  LATENCY_MIN_RISE_MS,
  MIN_ROUND,
  makeAdaptiveConcurrency,
  overloadIn,
  TIMEOUT_CLUSTER,
} from '../../lib/shared/adaptive-concurrency';
import { createLimiter } from '../../lib/shared/limiter';
import { seededRandom } from '../../lib/simulator/server';

const ok = (latencyMs = 50): CallOutcome => ({ kind: 'success', latencyMs });
const throttled: CallOutcome = { kind: 'throttled' };
const throttledOutcome = throttled;
const failed: CallOutcome = { kind: 'failed' };
const timeout: CallOutcome = { kind: 'timeout' };

/** One call at a time: started, then finished with its outcome. */
const feed = (aimd: ReturnType<typeof makeAdaptiveConcurrency>, outcomes: readonly CallOutcome[]) => {
  for (const outcome of outcomes) aimd.finished(aimd.started(), outcome);
};

/** Whether the API answers 429 to a call sent at `t` (ms). */
type Throttler = (t: number) => boolean;

/** 429 bursts counted per call, as the simulator's: `rate` of calls start a burst of `burst`. */
const perCallBursts = (seed: number, rate = 0.02, burst = 8): Throttler => {
  const random = seededRandom(seed);
  let left = 0;
  return () => {
    if (left === 0 && random() < rate) left = burst;
    if (left === 0) return false;
    left--;
    return true;
  };
};

/** A rate limit as an API's: a token bucket of `perSecond`, holding 50 ms of it. */
const rateLimit = (perSecond: number): Throttler => {
  const capacity = perSecond * 0.05;
  let tokens = capacity;
  let last = 0;
  return (t) => {
    tokens = Math.min(capacity, tokens + ((t - last) / 1000) * perSecond);
    last = t;
    if (tokens < 1) return true;
    tokens--;
    return false;
  };
};

/**
 * `calls` calls of 50 to 60 ms each against an API that throttles as `throttled` says, in virtual
 * time: a throttled call waits its Retry-After (1 s) and goes again, as the OVH client does. Its
 * time, the share of answers that were 429, and the mean limit over the run.
 */
const model = (throttled: Throttler, calls: number, fixed?: number) => {
  const random = seededRandom(7);
  const limiter = createLimiter(fixed ?? 32);
  const aimd = fixed ? undefined : makeAdaptiveConcurrency(limiter, { initial: 8, max: 32 });
  type Event =
    | { at: number; retry: true }
    | { at: number; retry: false; ticket: number; is429: boolean; sent: number };
  const events: Event[] = [];
  let now = 0;
  let active = 0;
  let waiting = calls;
  let done = 0;
  let answered429 = 0;
  let limitArea = 0;
  const send = () => {
    for (; active < limiter.limit && waiting > 0; waiting--, active++)
      events.push({
        at: now + 50 + random() * 10,
        retry: false,
        ticket: aimd?.started() ?? 0,
        is429: throttled(now),
        sent: now,
      });
  };
  send();
  while (done < calls) {
    events.sort((a, b) => a.at - b.at);
    const event = events.shift()!;
    limitArea += limiter.limit * (event.at - now);
    now = event.at;
    if (event.retry) waiting++;
    else {
      active--;
      if (event.is429) {
        answered429++;
        events.push({ at: now + 1000, retry: true });
      } else done++;
      aimd?.finished(event.ticket, event.is429 ? throttledOutcome : ok(now - event.sent));
    }
    send();
  }
  return { ms: now, share429: answered429 / (answered429 + calls), meanLimit: limitArea / now };
};

describe('adaptive concurrency: overload, not noise', () => {
  it('starts where it is safe, doubles each round until the first overload (slow start), then one per limit of successes, up to the ceiling', () => {
    const limiter = createLimiter(32);
    const aimd = makeAdaptiveConcurrency(limiter, { initial: 8, max: 32 });
    expect(limiter.limit).toBe(8);
    feed(
      aimd,
      Array.from({ length: 8 }, () => ok()),
    );
    expect(limiter.limit).toBe(16); // slow start: one per success

    const after = makeAdaptiveConcurrency(limiter, { initial: 8, max: 32 });
    feed(
      after,
      Array.from({ length: MIN_ROUND }, () => throttled),
    ); // a round of storm
    expect(limiter.limit).toBe(4);
    feed(
      after,
      Array.from({ length: 4 }, () => ok()),
    );
    expect(limiter.limit).toBe(5); // additive increase: one per limit's worth of successes
    feed(
      after,
      Array.from({ length: 5 }, () => ok()),
    );
    expect(limiter.limit).toBe(6);
    feed(
      after,
      Array.from({ length: 10_000 }, () => ok()),
    );
    expect(limiter.limit).toBe(32);
    expect(after.peak).toBe(32);
  });

  it('does not shrink for isolated failures, 5xx or 429, whatever their order: their retries are just more calls', () => {
    // At most one failure in any five answers in a row: noise, up to 20% of the calls.
    const isolated = fc
      .array(fc.tuple(fc.constantFrom<CallOutcome>(failed, throttled, timeout, ok()), fc.nat(12)), {
        minLength: 50,
        maxLength: 300,
      })
      .map((parts) =>
        parts.flatMap(([trouble, gap]) => [
          trouble,
          ...Array.from({ length: 4 + gap }, () => ok(40 + (gap % 5))),
        ]),
      );
    fc.assert(
      fc.property(isolated, (outcomes) => {
        const limiter = createLimiter(32);
        const aimd = makeAdaptiveConcurrency(limiter, { initial: 8, max: 32 });
        // Timeouts are spread too: no round of sixteen answers holds three.
        const spread = outcomes.map((o, i) => (o.kind === 'timeout' && i % 20 !== 0 ? failed : o));
        feed(aimd, spread);
        expect(aimd.decreases).toBe(0);
        expect(limiter.limit).toBe(Math.min(32, 8 + spread.filter((o) => o.kind === 'success').length));
      }),
    );
  });

  it('still backs off under a sustained 429 storm, down to one call, and climbs back once it passes', () => {
    const limiter = createLimiter(32);
    const aimd = makeAdaptiveConcurrency(limiter, { initial: 8, max: 32 });
    feed(
      aimd,
      Array.from({ length: 100 }, () => ok()),
    );
    expect(limiter.limit).toBe(32);
    // Most answers throttled, with or without Retry-After (the call waits it; the limit sees a 429).
    feed(
      aimd,
      Array.from({ length: 400 }, (_, i) => (i % 10 === 0 ? ok() : throttled)),
    );
    expect(limiter.limit).toBeLessThanOrEqual(2);
    expect(aimd.decreases).toBeGreaterThanOrEqual(4); // 32 → 16 → 8 → 4 → 2, and again when it grows
    feed(
      aimd,
      Array.from({ length: 20 * MIN_ROUND }, () => ok()),
    );
    expect(limiter.limit).toBeGreaterThan(1);
  });

  it('after a halving, climbs back at once to the level its last clear round began at, then one per limit of successes', () => {
    const limiter = createLimiter(32);
    const aimd = makeAdaptiveConcurrency(limiter, { initial: 16, max: 32 });
    feed(
      aimd,
      Array.from({ length: 16 + 32 }, () => ok()),
    ); // slow start to the ceiling, then a clear round at 32
    expect(limiter.limit).toBe(32);
    // A burst: a quarter and more of a round throttled.
    feed(aimd, [...Array.from({ length: 9 }, () => throttled), ...Array.from({ length: 23 }, () => ok())]);
    expect(limiter.limit).toBe(16);
    feed(
      aimd,
      Array.from({ length: 16 }, () => ok()),
    );
    expect(limiter.limit).toBe(32); // back where it was clear, in a round
    // Not past the limit it was overloaded at: a second storm before it recovers halves again,
    // and it climbs back at once only to that limit, then slowly.
    const again = makeAdaptiveConcurrency(limiter, { initial: 16, max: 32 });
    feed(
      again,
      Array.from({ length: 16 + 32 }, () => ok()),
    );
    feed(
      again,
      Array.from({ length: 32 }, () => throttled),
    );
    expect(limiter.limit).toBe(16);
    feed(
      again,
      Array.from({ length: 16 }, () => throttled),
    );
    expect(limiter.limit).toBe(8);
    feed(
      again,
      Array.from({ length: 8 }, () => ok()),
    );
    expect(limiter.limit).toBe(16);
    feed(
      again,
      Array.from({ length: 15 }, () => ok()),
    );
    expect(limiter.limit).toBe(16);
    feed(again, [ok()]);
    expect(limiter.limit).toBe(17);
  });

  it('climbs back one at a time when no round was clear (steady noise, a rate limit): it returns only to what worked', () => {
    const limiter = createLimiter(32);
    const aimd = makeAdaptiveConcurrency(limiter, { initial: 32, max: 32 });
    // Every round holds a 429 or two, then a storm.
    feed(
      aimd,
      Array.from({ length: 96 }, (_, i) => (i % 16 === 0 ? throttled : ok())),
    );
    expect(aimd.decreases).toBe(0);
    feed(
      aimd,
      Array.from({ length: 32 }, () => throttled),
    );
    expect(limiter.limit).toBe(16);
    feed(
      aimd,
      Array.from({ length: 16 }, () => ok()),
    );
    expect(limiter.limit).toBe(17); // additive from the halved limit
  });

  it('never climbs by slow start past the limit it was last overloaded at, whatever the answers', () => {
    const outcome = fc.constantFrom<CallOutcome>(ok(), ok(), ok(), throttled, failed);
    fc.assert(
      fc.property(
        fc.array(outcome, { minLength: 1, maxLength: 600 }),
        fc.integer({ min: 1, max: 32 }),
        (outcomes, initial) => {
          const limiter = createLimiter(32);
          const aimd = makeAdaptiveConcurrency(limiter, { initial, max: 32 });
          let overloadedAt: number | undefined;
          let successes = 0;
          for (const o of outcomes) {
            const before = limiter.limit;
            const decreases = aimd.decreases;
            aimd.finished(aimd.started(), o);
            if (aimd.decreases > decreases) {
              overloadedAt = before;
              successes = 0;
            } else if (o.kind === 'success') successes++;
            expect(limiter.limit).toBeGreaterThanOrEqual(1);
            expect(limiter.limit).toBeLessThanOrEqual(32);
            // Past it, one per limit's worth of successes at most.
            if (overloadedAt !== undefined)
              expect(limiter.limit).toBeLessThanOrEqual(overloadedAt + Math.floor(successes / overloadedAt));
          }
        },
      ),
    );
  });

  it('under 429 bursts counted per call, works at a limit well above the fixed 8, and faster than it', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const adaptive = model(perCallBursts(seed), 3000);
      const fixed = model(perCallBursts(seed), 3000, 8);
      expect(adaptive.meanLimit).toBeGreaterThan(12);
      expect(adaptive.ms).toBeLessThan(fixed.ms / 1.4);
    }
  });

  it('against a rate limit, keeps the calls answered 429 under a quarter and the throughput near the rate', () => {
    // 150 to 500 calls a second: 7 to 30 calls of 50 ms in flight (below, the smallest round
    // of 16 answers is more than the limit allows; above, the ceiling of 32 is).
    for (const perSecond of [150, 200, 250, 300, 350, 400, 450, 500]) {
      const run = model(rateLimit(perSecond), 2000);
      expect(run.share429).toBeLessThan(0.25);
      expect(2000 / (run.ms / 1000)).toBeGreaterThan(0.8 * perSecond);
    }
  });

  it('backs off when a round is more than a quarter troubled (a 503 storm), not at a quarter', () => {
    expect(overloadIn({ answers: 16, troubles: 4, timeouts: 0 }, undefined)).toBeUndefined();
    expect(overloadIn({ answers: 16, troubles: 5, timeouts: 0 }, undefined)).toBe('share');
    const limiter = createLimiter(16);
    const aimd = makeAdaptiveConcurrency(limiter, { initial: 16, max: 16 });
    feed(aimd, [...Array.from({ length: 11 }, () => ok()), ...Array.from({ length: 5 }, () => failed)]);
    expect(limiter.limit).toBe(8);
  });

  it('backs off when timeouts cluster, not for one', () => {
    const limiter = createLimiter(16);
    const aimd = makeAdaptiveConcurrency(limiter, { initial: 16, max: 16 });
    feed(aimd, [timeout, ...Array.from({ length: 15 }, () => ok())]);
    expect(aimd.decreases).toBe(0);
    feed(aimd, [
      ...Array.from({ length: TIMEOUT_CLUSTER }, () => timeout),
      ...Array.from({ length: 16 - TIMEOUT_CLUSTER }, () => ok()),
    ]);
    expect(aimd.decreases).toBe(1);
    expect(limiter.limit).toBe(8);
  });

  it('backs off when calls get slower than its baseline, and takes a lasting change as the new normal', () => {
    const limiter = createLimiter(32);
    const aimd = makeAdaptiveConcurrency(limiter, { initial: 16, max: 32 });
    feed(
      aimd,
      Array.from({ length: 64 }, () => ok(50)),
    );
    expect(aimd.decreases).toBe(0);
    // A little slower (machine noise): nothing.
    feed(
      aimd,
      Array.from({ length: 64 }, () => ok(70)),
    );
    expect(aimd.decreases).toBe(0);
    // Twice as slow: the API queues the calls.
    feed(
      aimd,
      Array.from({ length: 32 }, () => ok(120)),
    );
    expect(aimd.decreases).toBeGreaterThanOrEqual(1);
    expect(limiter.limit).toBeLessThan(32);
    // Slower for good (another route to the API): the baseline follows, the limit stops falling
    // and climbs back.
    feed(
      aimd,
      Array.from({ length: 2_000 }, () => ok(120)),
    );
    const settled = aimd.decreases;
    feed(
      aimd,
      Array.from({ length: 2_000 }, () => ok(120)),
    );
    expect(aimd.decreases).toBe(settled);
    expect(limiter.limit).toBe(32);
  });

  it('needs a real rise, not a ratio of tiny numbers', () => {
    expect(overloadIn({ answers: 16, troubles: 0, timeouts: 0, medianMs: 4 }, 1)).toBeUndefined();
    expect(
      overloadIn(
        { answers: 16, troubles: 0, timeouts: 0, medianMs: 2 * LATENCY_MIN_RISE_MS },
        LATENCY_MIN_RISE_MS,
      ),
    ).toBe('latency');
  });

  it('halves once per storm: answers to calls sent before the halving say nothing about the new limit', () => {
    const limiter = createLimiter(32);
    const aimd = makeAdaptiveConcurrency(limiter, { initial: 32, max: 32 });
    const inFlight = Array.from({ length: 64 }, () => aimd.started());
    for (const ticket of inFlight) aimd.finished(ticket, throttled);
    expect(aimd.decreases).toBe(1);
    expect(limiter.limit).toBe(16);
    // Their successes do not raise it either.
    aimd.finished(inFlight[0]!, ok());
    expect(limiter.limit).toBe(16);
  });

  it('ignores answers that say nothing about load (a 404, a refused signature)', () => {
    const limiter = createLimiter(16);
    const aimd = makeAdaptiveConcurrency(limiter, { initial: 16, max: 16 });
    feed(
      aimd,
      Array.from({ length: 100 }, () => ({ kind: 'neutral' }) as const),
    );
    expect(aimd.decreases).toBe(0);
  });

  it('moves the limiter: raising it starts waiting tasks at once', async () => {
    const limiter = createLimiter(1);
    const started: number[] = [];
    const gates: (() => void)[] = [];
    const task = (n: number) =>
      limiter.run(
        () =>
          new Promise<void>((r) => {
            started.push(n);
            gates.push(r);
          }),
      );
    const all = [task(1), task(2), task(3)];
    await Promise.resolve();
    expect(started).toEqual([1]);
    limiter.setLimit(3);
    await Promise.resolve();
    expect(started).toEqual([1, 2, 3]);
    for (const open of gates) open();
    await Promise.all(all);
    limiter.setLimit(1);
    expect(limiter.active).toBe(0);
  });
});
