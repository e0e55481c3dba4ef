import { retry } from '../../lib/shared/retry';

describe('retry (the one retry of the project)', () => {
  const policy = (over: Partial<Parameters<typeof retry>[1]> = {}) => {
    let now = 0;
    const waits: number[] = [];
    return {
      waits,
      policy: {
        maxAttempts: 4,
        baseDelayMs: 100,
        random: () => 1,
        sleep: async (ms: number) => {
          waits.push(ms);
          now += ms;
        },
        now: () => now,
        ...over,
      },
    };
  };
  const flaky = (failures: number, retryable = true) => {
    let n = 0;
    return async () => {
      n++;
      if (n <= failures) throw Object.assign(new Error(`failure ${n}`), { retryable });
      return `ok after ${n}`;
    };
  };

  it('tries again what may help, after full-jitter exponential waits, and returns the first success', async () => {
    const p = policy();
    await expect(retry(flaky(2), p.policy)).resolves.toBe('ok after 3');
    expect(p.waits).toEqual([100, 200]);
  });

  it('never retries an error that says a retry cannot help, and gives up after the attempts with the last error', async () => {
    const p = policy();
    await expect(retry(flaky(1, false), p.policy)).rejects.toThrow('failure 1');
    expect(p.waits).toEqual([]);
    await expect(retry(flaky(9), p.policy)).rejects.toThrow('failure 4');
  });

  it('waits what the failure asks for, when the rule says so, and never past the deadline', async () => {
    const p = policy({ deadline: 350 });
    await expect(retry(flaky(9), p.policy, () => ({ afterMs: 200 }))).rejects.toThrow('failure 2');
    expect(p.waits).toEqual([200]); // a second wait would end at 400, after the deadline
  });
});
