/**
 * When to look at a running OVH task again. A fixed interval wastes most of it on short tasks
 * (OVH refresh tasks often end within seconds, and a 2 s interval paid zone after zone adds up),
 * while polling fast throughout multiplies calls for long tasks. So:
 *
 * - before any task of the run has ended: a first look soon (`firstMs`), then waits growing by
 *   half each time up to the configured interval;
 * - once tasks have been seen ending: the first look at about the typical duration seen (the
 *   median of the last few), then short looks (an eighth of it) growing the same way, so a task
 *   like the others is seen done within a small margin of its end;
 * - never longer than the configured interval, which stays the cap (and the cost) for long tasks.
 */
export interface PollSchedule {
  /** How long to wait before look number `n` (0-based) at a task started `elapsedMs` ago. */
  delay(n: number, elapsedMs: number): number;
  /**
   * A task was seen ended at a look `doneAtMs` after it started, the look before having seen it
   * running at `runningAtMs` (0 when none): it ended somewhere between, and the middle is kept.
   */
  observe(runningAtMs: number, doneAtMs: number): void;
}

export const makePollSchedule = (
  intervalMs: number,
  options: { firstMs?: number; growth?: number } = {},
): PollSchedule => {
  const firstMs = Math.min(options.firstMs ?? 250, intervalMs);
  const growth = options.growth ?? 1.5;
  const seen: number[] = [];
  const typical = () => {
    if (seen.length === 0) return undefined;
    const sorted = [...seen].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  return {
    delay(n, elapsedMs) {
      const t = typical();
      if (t === undefined) return Math.min(intervalMs, Math.round(firstMs * growth ** n));
      // First look just before the typical end; then short looks, growing.
      if (n === 0) return Math.min(intervalMs, Math.max(50, Math.round(t * 0.9) - elapsedMs));
      const step = Math.max(50, Math.round(t / 8));
      return Math.min(intervalMs, Math.round(step * growth ** (n - 1)));
    },
    observe(runningAtMs, doneAtMs) {
      seen.push(Math.max(1, Math.round((runningAtMs + doneAtMs) / 2)));
      if (seen.length > 9) seen.shift();
    },
  };
};
