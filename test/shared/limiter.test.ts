import { createLimiter } from '../../lib/shared/limiter';

describe('createLimiter', () => {
  it('runs at most `limit` tasks at once, the rest in arrival order, urgent ones first', async () => {
    const limiter = createLimiter(1);
    const order: string[] = [];
    let release!: () => void;
    const first = limiter.run(() =>
      new Promise<void>((r) => (release = r)).then(() => void order.push('first')),
    );
    const tasks = [
      limiter.run(async () => void order.push('bulk-1')),
      limiter.run(async () => void order.push('bulk-2')),
      limiter.run(async () => void order.push('urgent'), { urgent: true }),
    ];
    expect([limiter.active, limiter.waiting]).toEqual([1, 3]);
    release();
    await Promise.all([first, ...tasks]);
    expect(order).toEqual(['first', 'urgent', 'bulk-1', 'bulk-2']);
    expect([limiter.active, limiter.waiting]).toEqual([0, 0]);
  });

  it('refuses a limit that is not a positive whole number', () => {
    expect(() => createLimiter(0)).toThrow(RangeError);
    expect(() => createLimiter(2.5)).toThrow(RangeError);
  });
});
