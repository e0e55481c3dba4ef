/**
 * The quietest slots each zone's deferred requests were sent to, remembered so that a later request
 * of the zone with another window can join one (one refresh, one cut of sessions) instead of
 * choosing a slot of its own. A zone remembers several slots (up to MAX_ZONE_SLOTS ahead), each
 * with the requests it is kept for; a slot is forgotten a little after it has passed.
 */
import type { SlotChange, ZoneSlot } from '../domain/zone-slots';

export {
  MAX_SLOT_JOINERS,
  MAX_ZONE_SLOTS,
  type SlotChange,
  type ZoneSlot,
} from '../domain/zone-slots';

/** How long a remembered slot is kept after it has passed (then it is forgotten). */
export const ZONE_SLOT_RETENTION_MS = 60 * 60_000;

export interface ZoneSlots {
  /**
   * The slots remembered for these zones of the service, by zone, each zone's by time (zones
   * without one are left out). Slots that have passed may be among them until they are forgotten.
   */
  read(service: string, zones: readonly string[]): Promise<Map<string, ZoneSlot[]>>;
  /**
   * The slots remembered for one zone of the service, by time (none: empty): one key read
   * (GetItem), for a reader whose rights reach no further (Slack's proposal).
   */
  get(service: string, zone: string): Promise<ZoneSlot[]>;
  /**
   * Applies a batch's change to the zone's slots as `changeZoneSlots` (domain/zone-slots) says, as
   * one atomic step: a change made meanwhile by another batch is read again and kept.
   */
  change(service: string, zone: string, change: SlotChange, now: Date): Promise<void>;
}
