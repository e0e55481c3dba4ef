/**
 * Remembers the zones stickler itself left holding unapplied writes (its refresh failed after
 * the writes were stored), so that a later run can tell those changes from someone else's and
 * apply the zone, instead of waiting for an operator's `stickler refresh` (app/own-unapplied.ts
 * decides when a record may still be trusted). Records expire after UNAPPLIED_RETENTION_MS.
 */

/** A day: far longer than a request is retried, short enough that a forgotten record is gone. */
export const UNAPPLIED_RETENTION_MS = 24 * 60 * 60_000;

export interface UnappliedZone {
  service: string;
  zone: string;
  /** OVH's count of unapplied changes in the zone, read just after the failed refresh. */
  pending: number;
  /** The load balancer's refresh tasks that had ended `done` by then (their ids). */
  doneRefreshes: number[];
  /** When it was recorded (ISO 8601). */
  at: string;
}

export interface UnappliedZones {
  /** The records kept for these zones of the service (zones without one are left out). */
  read(service: string, zones: readonly string[]): Promise<UnappliedZone[]>;
  /** Keeps the record, replacing the zone's previous one. */
  remember(record: UnappliedZone, now: Date): Promise<void>;
  /** Drops the zone's record (none: nothing happens). */
  forget(service: string, zone: string): Promise<void>;
}
