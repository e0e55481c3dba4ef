/**
 * Remembers the zones stickler itself left holding unapplied writes (its refresh failed after
 * the writes were stored), so that a later run can tell those changes from someone else's and
 * apply the zone, instead of waiting for an operator's `stickler refresh` (app/own-unapplied.ts
 * decides when a record may still be trusted). Records expire after UNAPPLIED_RETENTION_MS.
 */

import type { FarmType, Stickiness } from '../domain/stickiness';

/** A day: far longer than a request is retried, short enough that a forgotten record is gone. */
export const UNAPPLIED_RETENTION_MS = 24 * 60 * 60_000;

/** A farm stickler left stored but not applied, and the value it stores. */
export interface UnappliedFarm {
  type: FarmType;
  farmId: number;
  stickiness: Stickiness;
}

export interface UnappliedZone {
  service: string;
  zone: string;
  /**
   * OVH's count of unapplied changes in the zone just after the failed refresh, which was exactly
   * what stickler's own writes account for (a record is kept only then).
   */
  pending: number;
  /** The farms stickler wrote there and the values they store: a farm storing another is someone else's edit. */
  farms: UnappliedFarm[];
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
