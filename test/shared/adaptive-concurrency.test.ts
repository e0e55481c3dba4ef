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

const ok = (latencyMs = 50): CallOutcome => ({ kind: 'success', latencyMs });
const throttled: CallOutcome = { kind: 'throttled' };
const failed: CallOutcome = { kind: 'failed' };
const timeout: CallOutcome = { kind: 'timeout' };

/** One call at a time: started, then finished with its outcome. */
const feed = (aimd: ReturnType<typeof makeAdaptiveConcurrency>, outcomes: readonly CallOutcome[]) => {
  for (const outcome of outcomes) aimd.finished(aimd.started(), outcome);
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
