import { makeAdaptiveConcurrency } from '../../lib/shared/adaptive-concurrency';
import { createLimiter } from '../../lib/shared/limiter';

describe('adaptive concurrency (additive increase, multiplicative decrease)', () => {
  it('starts where it is safe, grows one per success until the first overload (slow start), then one per limit of successes, up to the ceiling', () => {
    const limiter = createLimiter(32);
    const aimd = makeAdaptiveConcurrency(limiter, { initial: 8, max: 32 });
    expect(limiter.limit).toBe(8);
    for (let i = 0; i < 8; i++) aimd.succeeded(aimd.started());
    expect(limiter.limit).toBe(16); // slow start: doubled in one round
    aimd.overloaded(aimd.started());
    expect(limiter.limit).toBe(8);
    for (let i = 0; i < 8; i++) aimd.succeeded(aimd.started());
    expect(limiter.limit).toBe(9); // congestion avoidance: one per round
    for (let i = 0; i < 10_000; i++) aimd.succeeded(aimd.started());
    expect(limiter.limit).toBe(32);
    expect(aimd.peak).toBe(32);
  });

  it('halves once per burst of overload signals: calls sent before the halving say nothing new', () => {
    const limiter = createLimiter(32);
    const aimd = makeAdaptiveConcurrency(limiter, { initial: 16, max: 32 });
    const inFlight = Array.from({ length: 16 }, () => aimd.started());
    for (const ticket of inFlight) aimd.overloaded(ticket); // a burst of 429s
    expect(limiter.limit).toBe(8);
    expect(aimd.decreases).toBe(1);
    aimd.overloaded(aimd.started()); // a call sent after: a new sign
    expect(limiter.limit).toBe(4);
    for (let i = 0; i < 10; i++) aimd.overloaded(aimd.started());
    expect(limiter.limit).toBe(1); // never below one
    // Successes of calls sent before the halving do not raise it either.
    aimd.succeeded(inFlight[0]!);
    expect(limiter.limit).toBe(1);
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
