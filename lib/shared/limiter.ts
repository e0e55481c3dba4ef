/**
 * A counting semaphore: at most `limit` tasks run at once, the rest wait in arrival order, except
 * that `urgent` tasks (few, on a critical path) wait ahead of the others.
 */
export interface Limiter {
  run<T>(task: () => Promise<T>, options?: { urgent?: boolean }): Promise<T>;
  readonly active: number;
  readonly waiting: number;
}

export const createLimiter = (limit: number): Limiter => {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`concurrency must be a positive integer, got ${limit}`);
  let active = 0;
  const queue: (() => void)[] = [];
  const urgentQueue: (() => void)[] = [];
  const release = () => {
    active--;
    const next = urgentQueue.shift() ?? queue.shift();
    if (next) {
      active++;
      next();
    }
  };
  return {
    get active() {
      return active;
    },
    get waiting() {
      return queue.length + urgentQueue.length;
    },
    async run(task, options) {
      if (active < limit) active++;
      else await new Promise<void>((resolve) => (options?.urgent ? urgentQueue : queue).push(resolve));
      try {
        return await task();
      } finally {
        release();
      }
    },
  };
};
