/**
 * The slots a zone already waits for, as a request made now would find them: the zone's remembered
 * slots (and zone `all`'s, whose refresh cuts the zone too), still ahead, that some request still
 * waits for (the one that chose it or one that joined it). A slot nobody waits for any more
 * (cancelled, superseded, applied) is nobody's to share: the worker does not join it
 * (zone-slot-choice), so it is not shown either. Read before a request is made (Slack's proposal,
 * the CLI's plan), so that what is shown is the slot the request will join.
 */
import { ALL_ZONES } from '../domain/farm';
import type { TimeWindow } from '../domain/traffic';
import {
  byZoneThenTime,
  canJoin,
  sharesRefresh,
  slotToJoin,
  stillWaitedFor,
  waitersOf,
  type ZoneSlot,
  zonesSharingRefresh,
} from '../domain/zone-slots';
import type { Clock } from '../ports/clock';
import type { IdempotencyStore } from '../ports/idempotency-store';
import type { ZoneSlots } from '../ports/zone-slots';

/** A remembered slot, and the zone it was chosen for. */
export interface ZoneSlotOf {
  zone: string;
  slot: ZoneSlot;
}

/** The slots still ahead that a request still waits for (one read of their requests). */
const stillWaited = async (
  requests: Pick<IdempotencyStore, 'status'>,
  slots: readonly ZoneSlotOf[],
  now: number,
): Promise<ZoneSlotOf[]> => {
  const ahead = slots.filter((s) => s.slot.at > now);
  const ids = [...new Set(ahead.flatMap((s) => waitersOf(s.slot)))];
  const status = ids.length > 0 ? await requests.status(ids) : new Map();
  return ahead.filter((s) => stillWaitedFor(s.slot, (id) => status.get(id)?.state === 'deferred'));
};

/**
 * What the worker keeps free before a window's end when it joins or chooses a slot (the queue's
 * batching window and 10 s: a request put back on the bus at its slot must still be written before
 * notAfter), as deployed by default (20 s): a reader that does not know the stack's setting says
 * less rather than more.
 */
export const DEFAULT_JOIN_MARGIN_MS = 30_000;

/** Whether a request with `window` may join `slot`, as the worker decides (canJoin, before the margin). */
const joins = (slot: ZoneSlot, window: TimeWindow, now: number, marginMs: number) =>
  canJoin(slot, { start: window.start, end: window.end - marginMs }, now);

/**
 * Of `slots`, the one a request with `window` joins, as the worker chooses (the quietest the
 * window holds before its margin, then the earliest), or undefined.
 */
export const slotJoined = (
  slots: readonly ZoneSlotOf[],
  window: TimeWindow,
  now: number,
  marginMs = DEFAULT_JOIN_MARGIN_MS,
): ZoneSlotOf | undefined => {
  const offered = [...slots].sort(byZoneThenTime);
  const i = slotToJoin(
    offered.map((s) => s.slot),
    { start: window.start, end: window.end - marginMs },
    now,
  );
  return i === undefined ? undefined : offered[i];
};

export interface WaitingSlotDeps {
  /** One key read per zone (GetItem on `slot:*`). */
  slots: Pick<ZoneSlots, 'get'>;
  /** Whether the slots' requests still wait (the worker's records, read only). */
  requests: Pick<IdempotencyStore, 'status'>;
  clock: Clock;
}

/**
 * The slots a farm's zone already waits for: its zone's and zone `all`'s; for a farm of zone
 * `all`, `all`'s and those of `zones` (the load balancer's zones, when the caller knows them).
 * A read that fails is thrown, for the caller to say less.
 */
export const makeWaitingSlot = (deps: WaitingSlotDeps) =>
  async function waitingSlots(
    service: string,
    zone: string,
    zones: readonly string[] = [],
  ): Promise<ZoneSlotOf[]> {
    const keys = zonesSharingRefresh(zone, zones);
    const read = await Promise.all(
      keys.map(async (z) => (await deps.slots.get(service, z)).map((slot) => ({ zone: z, slot }))),
    );
    return stillWaited(deps.requests, read.flat(), deps.clock.now().getTime());
  };

export type WaitingSlot = ReturnType<typeof makeWaitingSlot>;

/**
 * The waiting slots of several zones of a service (one batch read of the slots, one of their
 * requests), by time. A read that fails is thrown.
 */
export const makeWaitingSlots = (deps: Omit<WaitingSlotDeps, 'slots'> & { slots: Pick<ZoneSlots, 'read'> }) =>
  async function waitingSlots(service: string, zones: readonly string[]): Promise<ZoneSlotOf[]> {
    const read = [...(await deps.slots.read(service, zones))].flatMap(([zone, slots]) =>
      slots.map((slot) => ({ zone, slot })),
    );
    return (await stillWaited(deps.requests, read, deps.clock.now().getTime())).sort(
      (a, b) => a.slot.at - b.slot.at,
    );
  };

export type WaitingSlots = ReturnType<typeof makeWaitingSlots>;

/** A zone's waiting slot, whether a window holds it, and which zones' requests join it. */
export interface ZoneWaitingSlot {
  service: string;
  zone: string;
  slot: ZoneSlot;
  /** A request made now with the window may join it (it lies in the window, before the margin). */
  inWindow: boolean;
  /**
   * The zones an apply would refresh whose requests, preferring the quietest time, join this slot
   * (each joins one: the quietest its window holds of those it may join, then the earliest); empty
   * when none does.
   */
  joinedBy: string[];
}

/** A service's zones as an apply would refresh them. */
export interface ChangedZones {
  /** The zones of its changes. */
  zones: ReadonlySet<string>;
  /** Every zone of its load balancer (its farms' zones), read when a change is in zone `all`. */
  loadBalancerZones: readonly string[];
}

/**
 * The zones whose slots a service's changes may join, and the zones that join: a change in zone
 * `all` folds the load balancer into one refresh of `all` (its requests chosen together), which
 * may join any zone's slot; otherwise each zone of a change joins its own slot or `all`'s.
 */
const joiningZones = ({ zones, loadBalancerZones }: ChangedZones) =>
  zones.has(ALL_ZONES)
    ? { read: [ALL_ZONES, ...zones, ...loadBalancerZones], joining: [ALL_ZONES] }
    : { read: [...zones, ALL_ZONES], joining: [...zones].sort() };

/** The zones whose requests join each slot (slotJoined over each joining zone's candidates). */
const joinersOf = (
  slots: readonly ZoneSlotOf[],
  joining: readonly string[],
  window: TimeWindow,
  now: number,
  marginMs: number,
): Map<ZoneSlotOf, string[]> => {
  const out = new Map<ZoneSlotOf, string[]>();
  for (const zone of joining) {
    const candidates = slots.filter((s) => sharesRefresh(zone, s.zone));
    const joined = slotJoined(candidates, window, now, marginMs);
    if (joined) out.set(joined, [...(out.get(joined) ?? []), zone]);
  }
  return out;
};

/**
 * The waiting slots that an apply's requests may join, by service: of the zones of its changes
 * and of zone `all` (whose refresh cuts them too); for a change in zone `all`, of every zone of its
 * load balancer. Each is said in or outside the window, with the zones whose requests join it;
 * sorted by service, zone and time. A service whose slots cannot be read is left out and told to
 * `onFailed` (what is shown then says less, never more).
 */
export const zonesWaitingSlots = async (
  waitingSlots: WaitingSlots,
  changed: ReadonlyMap<string, ChangedZones>,
  window: TimeWindow,
  now: number,
  onFailed: (service: string, error: unknown) => void,
  marginMs = DEFAULT_JOIN_MARGIN_MS,
): Promise<ZoneWaitingSlot[]> => {
  const read = await Promise.all(
    [...changed].map(async ([service, zones]) => {
      const { read, joining } = joiningZones(zones);
      try {
        const slots = await waitingSlots(service, [...new Set(read)]);
        const joiners = joinersOf(slots, joining, window, now, marginMs);
        return slots.map((s) => ({
          service,
          zone: s.zone,
          slot: s.slot,
          inWindow: joins(s.slot, window, now, marginMs),
          joinedBy: joiners.get(s) ?? [],
        }));
      } catch (error) {
        onFailed(service, error);
        return [];
      }
    }),
  );
  return read
    .flat()
    .sort(
      (a, b) => a.service.localeCompare(b.service) || a.zone.localeCompare(b.zone) || a.slot.at - b.slot.at,
    );
};
