/**
 * The slot a zone already waits for, as a request made now would find it: the zone's remembered
 * slot, still ahead, whose request still waits for it. A slot whose request no longer waits
 * (cancelled, superseded, applied) is nobody's to share: the worker does not join it
 * (process-change-requests, rememberedSlots), so it is not shown either. Read before a request is
 * made (Slack's proposal, the CLI's plan), so that what is shown is the slot the request will join.
 */
import type { ZoneSlot } from '../domain/zone-slots';
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
