/**
 * Follows published change requests to their outcomes, for a door that waits for them (the CLI
 * through the pipeline): it reads where each stands in the worker's records until every one has a
 * terminal outcome whose audit events are published, or waits for its window (deferred: its outcome comes later), or the time given
 * runs out (then the ones still open are said to be still running, never guessed).
 */
import type { TerminalOutcome } from '../domain/audit-events';
import type { Clock } from '../ports/clock';
import type { IdempotencyStore } from '../ports/idempotency-store';

export type FollowedOutcome =
  | { kind: 'ended'; terminal: TerminalOutcome }
  | { kind: 'deferred'; until: string }
  /** Not ended when the wait ran out: `state` as last seen (absent: not yet taken by the worker). */
  | { kind: 'running'; state?: string };

export interface FollowOptions {
  /** How long to wait for all of them. */
  timeoutMs: number;
  /** How often to look (the first look comes at once). */
  pollMs: number;
  /** Told after each look: how many have ended (or wait for their window) of how many. */
  onProgress?: (done: number, total: number) => void;
  /** Stops waiting (the requests go on in the pipeline): what is not ended is said running. */
  signal?: AbortSignal;
}

export const makeFollowRequests = (deps: { idempotency: Pick<IdempotencyStore, 'status'>; clock: Clock }) =>
  async function followRequests(
    requestIds: readonly string[],
    options: FollowOptions,
  ): Promise<Map<string, FollowedOutcome>> {
    const out = new Map<string, FollowedOutcome>();
    const end = deps.clock.now().getTime() + options.timeoutMs;
    let open = [...new Set(requestIds)];
    for (;;) {
      const status = await deps.idempotency.status(open);
      const still: string[] = [];
      for (const id of open) {
        const s = status.get(id);
        // Ended once its audit events are out too (completed), not when merely decided: what the
        // follower reports is then on the bus as well.
        if (s?.terminal && (s.state === 'completed' || s.state === 'dead-lettered'))
          out.set(id, { kind: 'ended', terminal: s.terminal });
        else if (s?.state === 'deferred' && s.deferredUntil)
          out.set(id, { kind: 'deferred', until: s.deferredUntil });
        else {
          still.push(id);
          out.set(id, { kind: 'running', ...(s ? { state: s.state } : {}) });
        }
      }
      open = still;
      options.onProgress?.(requestIds.length - open.length, requestIds.length);
      if (open.length === 0 || options.signal?.aborted || deps.clock.now().getTime() + options.pollMs > end)
        return out;
      await deps.clock.sleep(options.pollMs);
    }
  };
