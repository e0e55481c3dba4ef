/**
 * The quietest slot each zone's deferred requests were sent to, remembered so that a later request
 * of the zone with another window can join it (one refresh, one cut of sessions) instead of
 * choosing a slot of its own. A remembered slot lasts until a little after it has passed.
 */
import type { ZoneSlot } from '../domain/zone-slots';

export type { ZoneSlot } from '../domain/zone-slots';

/** How long a remembered slot is kept after it has passed (then it expires). */
export const ZONE_SLOT_RETENTION_MS = 60 * 60_000;

export interface ZoneSlots {
  /** The slots remembered for these zones of the service, by zone (zones without one are left out). */
  read(service: string, zones: readonly string[]): Promise<Map<string, ZoneSlot>>;
  /**
   * The slot remembered for one zone of the service, or undefined: one key read (GetItem), for a
   * reader whose rights reach no further (Slack's proposal, the CLI's plan).
   */
  get(service: string, zone: string): Promise<ZoneSlot | undefined>;
  /**
   * Remembers `slot` for the zone, chosen `now` by request `requestId`, unless the zone's
   * remembered slot is still ahead of `now` (that one is kept) and is not the one `replacing` names
   * (its `at`: a slot found orphaned, whose request no longer waits). True when it was remembered.
   */
  remember(
    service: string,
    zone: string,
    slot: { at: number; typicalRate: number; requestId?: string },
    now: Date,
    replacing?: number,
  ): Promise<boolean>;
}
