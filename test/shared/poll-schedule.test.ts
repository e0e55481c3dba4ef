import { makePollSchedule } from '../../lib/shared/poll-schedule';

/** Where the looks at a task fall (ms after its refresh), with the schedule's waits, until `endMs`. */
const looks = (schedule: ReturnType<typeof makePollSchedule>, endMs: number) => {
  const at: number[] = [];
  let t = 0;
  for (let n = 0; ; n++) {
    t += schedule.delay(n, t);
    at.push(t);
    if (t >= endMs) return at;
  }
};

describe('when to look at a running task again', () => {
  it('looks soon at first, then backs off to the interval: a long task costs few more calls than a fixed interval', () => {
    const schedule = makePollSchedule(2_000);
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => schedule.delay(n, 0))).toEqual([
      250, 375, 563, 844, 1266, 1898, 2000,
    ]);
    const long = looks(schedule, 60_000).length;
    expect(long).toBeLessThanOrEqual(Math.ceil(60_000 / 2_000) + 4);
  });

  it('learns how long tasks take and sees the next one done within a small margin of its end', () => {
    const schedule = makePollSchedule(2_000);
    // A 900 ms task, looked at as the schedule says: first seen done at 1,188 ms.
    const first = looks(schedule, 900);
    expect(first.at(-1)).toBe(1_188);
    schedule.observe(first.at(-2)!, first.at(-1)!);
    // The next tasks like it: looked at just before the typical end, then every ~eighth of it.
    for (let i = 0; i < 3; i++) {
      const next = looks(schedule, 900);
      expect(next.at(-1)! - 900).toBeLessThan(250);
      expect(next.length).toBeLessThanOrEqual(4);
      schedule.observe(next.at(-2) ?? 0, next.at(-1)!);
    }
  });

  it('never waits longer than the interval, nor less than 50 ms', () => {
    const schedule = makePollSchedule(1_000);
    schedule.observe(30_000, 40_000);
    expect(schedule.delay(0, 0)).toBe(1_000);
    const quick = makePollSchedule(2_000);
    quick.observe(0, 10);
    expect(quick.delay(0, 0)).toBe(50);
    expect(quick.delay(1, 50)).toBe(50);
    expect(makePollSchedule(100).delay(0, 0)).toBe(100);
  });
});
