/**
 * A counting semaphore: at most `limit` tasks run at once, the rest wait in arrival order, except
 * that `urgent` tasks (few, on a critical path) wait ahead of the others. The limit may be moved
 * while tasks run (adaptive concurrency): raised, waiting tasks start at once; lowered, running
 * ones finish and no new one starts until fewer than the new limit run.
 */
export interface Limiter {
  run<T>(task: () => Promise<T>, options?: { urgent?: boolean }): Promise<T>;
  readonly active: number;
  readonly waiting: number;
  readonly limit: number;
  setLimit(limit: number): void;
}

export const createLimiter = (initial: number): Limiter => {
  if (!Number.isInteger(initial) || initial < 1)
    throw new RangeError(`concurrency must be a positive integer, got ${initial}`);
  let limit = initial;
  let active = 0;
  const queue: (() => void)[] = [];
  const urgentQueue: (() => void)[] = [];
  const startWaiting = () => {
    while (active < limit) {
      const next = urgentQueue.shift() ?? queue.shift();
      if (!next) return;
      active++;
      next();
    }
  };
  const release = () => {
    active--;
    startWaiting();
  };
  return {
    get active() {
      return active;
    },
    get waiting() {
      return queue.length + urgentQueue.length;
    },
    get limit() {
      return limit;
    },
    setLimit(next: number) {
      if (!Number.isInteger(next) || next < 1)
        throw new RangeError(`concurrency must be a positive integer, got ${next}`);
      limit = next;
      startWaiting();
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
