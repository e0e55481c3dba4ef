/**
 * A zone-by-zone compliance rollout, kept between the events that advance it: its state (one
 * item, written with optimistic concurrency), each request's terminal outcome (one item each,
 * written without contention, so a hundred outcomes arriving together are all kept), and the lock
 * that lets one rollout per policy run at a time.
 */
import type { ChangeRequestedDetail } from '../domain/events';

export interface RolloutZone {
  service: string;
  zone: string;
  requests: ChangeRequestedDetail[];
}

export interface RolloutState {
  /** The run's key (`rolloutKeyOf` of any of its request ids). */
  key: string;
  runId: string;
  policy: { source: string; version: string | null };
  zones: RolloutZone[];
  /** The zone whose requests are out (or, stopped, the zone it stopped at). */
  current: number;
  /** Its request ids still without a terminal outcome (as last seen). */
  pending: string[];
  /** Its requests that ended neither applied nor unchanged. */
  failures: { requestId: string; outcome: string; code: string | null }[];
  status: 'running' | 'stopped' | 'finished';
  /**
   * Whether what this state calls for has been published: the current zone's requests while
   * running, the Finished or Stopped event once ended. False: whoever reads it publishes it
   * (the same request ids and audit ids, so publishing twice changes nothing) and sets it.
   * Absent (older states): true.
   */
  announced?: boolean;
  /**
   * With `prefer: quietest` (the policy's `maxDelay`, in ms): each later zone's requests, when its
   * turn comes, may wait this long for their load balancer's quietest slot (the window is written
   * into the state as the zone's turn comes, so that publishing it again asks the same).
   */
  quietestDelayMs?: number;
  /** Bumped by every write: a writer whose version is stale reads again. */
  version: number;
}

/** One request's terminal outcome, as the audit event said it. */
export interface RolloutOutcome {
  requestId: string;
  outcome: string;
  code: string | null;
}

export interface RolloutStore {
  /** Stores a new rollout; false when one with this key exists (a retried run). */
  create(state: RolloutState): Promise<boolean>;
  get(key: string): Promise<RolloutState | undefined>;
  /** Writes `state` if the stored one is still at `state.version - 1`; false when someone was first. */
  update(state: RolloutState): Promise<boolean>;
  /** Keeps one request's outcome (the first kept for a request id stays). */
  recordOutcome(key: string, outcome: RolloutOutcome): Promise<void>;
  /** The outcomes kept for these request ids of the rollout. */
  outcomes(key: string, requestIds: readonly string[]): Promise<Map<string, RolloutOutcome>>;
  /**
   * Takes the policy's lock for the rollout `key`, unless another rollout holds it: `holder` is
   * that one's key. A holder whose rollout has ended (or is gone) no longer holds it.
   */
  lock(policy: string, key: string): Promise<{ held: true } | { held: false; holder: string }>;
  /** Gives the policy's lock back, if `key` holds it. */
  unlock(policy: string, key: string): Promise<void>;
}
