/**
 * The slot a zone already waits for, as a request made now would find it: the zone's remembered
 * slot, still ahead, whose request still waits for it. A slot whose request no longer waits
 * (cancelled, superseded, applied) is nobody's to share: the worker does not join it
 * (process-change-requests, rememberedSlots), so it is not shown either. Read before a request is
 * made (Slack's proposal, the CLI's plan), so that what is shown is the slot the request will join.
 */
import type { TimeWindow } from '../domain/traffic';
import { canJoin, type ZoneSlot } from '../domain/zone-slots';
import type { Clock } from '../ports/clock';
import type { IdempotencyStore } from '../ports/idempotency-store';
import type { ZoneSlots } from '../ports/zone-slots';

export interface WaitingSlotDeps {
  /** One key read per zone (GetItem on `slot:*`). */
  slots: Pick<ZoneSlots, 'get'>;
  /** Whether the slot's request still waits (the worker's records, read only). */
  requests: Pick<IdempotencyStore, 'status'>;
  clock: Clock;
}

/** The zone's waiting slot, or undefined; a read that fails is thrown, for the caller to say less. */
export const makeWaitingSlot = (deps: WaitingSlotDeps) =>
  async function waitingSlot(service: string, zone: string): Promise<ZoneSlot | undefined> {
    const slot = await deps.slots.get(service, zone);
    if (!slot || slot.at <= deps.clock.now().getTime()) return undefined;
    if (!slot.requestId) return slot;
    const status = await deps.requests.status([slot.requestId]);
    return status.get(slot.requestId)?.state === 'deferred' ? slot : undefined;
  };

export type WaitingSlot = ReturnType<typeof makeWaitingSlot>;

/**
 * The waiting slots of several zones of a service, by zone (zones without one are left out): one
 * batch read of the slots, one of their requests. A read that fails is thrown.
 */
export const makeWaitingSlots = (deps: Omit<WaitingSlotDeps, 'slots'> & { slots: Pick<ZoneSlots, 'read'> }) =>
  async function waitingSlots(service: string, zones: readonly string[]): Promise<Map<string, ZoneSlot>> {
    const now = deps.clock.now().getTime();
    const slots = [...(await deps.slots.read(service, zones))].filter(([, slot]) => slot.at > now);
    const ids = [...new Set(slots.flatMap(([, slot]) => (slot.requestId ? [slot.requestId] : [])))];
    const status = ids.length > 0 ? await deps.requests.status(ids) : new Map();
    return new Map(
      slots.filter(([, slot]) => !slot.requestId || status.get(slot.requestId)?.state === 'deferred'),
    );
  };

export type WaitingSlots = ReturnType<typeof makeWaitingSlots>;

/** A zone's waiting slot, and whether a window holds it (a request made now with that window joins it). */
export interface ZoneWaitingSlot {
  service: string;
  zone: string;
  slot: ZoneSlot;
  inWindow: boolean;
}

/**
 * The waiting slots of these zones, by service, sorted by service and zone; a service whose slots
 * cannot be read is left out and told to `onFailed` (what is shown then says less, never more).
 */
export const zonesWaitingSlots = async (
  waitingSlots: WaitingSlots,
  zones: ReadonlyMap<string, ReadonlySet<string>>,
  window: TimeWindow,
  now: number,
  onFailed: (service: string, error: unknown) => void,
): Promise<ZoneWaitingSlot[]> => {
  const read = await Promise.all(
    [...zones].map(async ([service, names]) => {
      try {
        const slots = await waitingSlots(service, [...names]);
        return [...slots].map(([zone, slot]) => ({
          service,
          zone,
          slot,
          inWindow: canJoin(slot, window, now),
        }));
      } catch (error) {
        onFailed(service, error);
        return [];
      }
    }),
  );
  return read.flat().sort((a, b) => a.service.localeCompare(b.service) || a.zone.localeCompare(b.zone));
};
