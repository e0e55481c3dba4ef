/** The state of a zone-by-zone compliance rollout, kept between the events that advance it. */
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
  /** The zone whose requests are out. */
  current: number;
  /** Its request ids still without a terminal outcome. */
  pending: string[];
  /** Its requests that ended neither applied nor unchanged. */
  failures: { requestId: string; outcome: string; code: string | null }[];
  status: 'running' | 'stopped' | 'finished';
  /** Bumped by every write: a writer whose version is stale reads again. */
  version: number;
}

export interface RolloutStore {
  /** Stores a new rollout; false when one with this key exists (a retried run). */
  create(state: RolloutState): Promise<boolean>;
  get(key: string): Promise<RolloutState | undefined>;
  /** Writes `state` if the stored one is still at `state.version - 1`; false when someone was first. */
  update(state: RolloutState): Promise<boolean>;
}
