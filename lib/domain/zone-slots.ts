/**
 * One slot per zone: requests of one (service, zone) that prefer the quietest time are put in the
 * same slot where their windows allow it, so that the zone is refreshed once, not once per window.
 * Pure: windows, the profile and the zone's remembered slot come in, the choices go out.
 */
import { ALL_ZONES } from './farm';
import { type QuietSlot, quietestSlot, SLOT_MS, type TimeWindow } from './traffic';

/** The slot a zone's deferred requests were sent to, remembered for the zone's later requests. */
export interface ZoneSlot {
  /** Epoch ms: when the requests deferred to it come back. */
  at: number;
  /** The slot's typical requests per second, as it was chosen. */
  typicalRate: number;
  /** When it was chosen (ISO 8601). */
  chosenAt: string;
  /**
   * The request deferred to it when it was chosen: once that one no longer waits (cancelled,
   * superseded), the slot is nobody's to share, and a later request does not join it.
   */
  requestId?: string;
  /**
   * The later requests deferred to it (joined): while any of them, or the one that chose it,
   * still waits, the slot is still someone's, and later requests join it.
   */
  joiners?: string[];
  /**
   * More requests joined it than it lists (MAX_SLOT_JOINERS): some that wait for it are not
   * listed, so it is never taken for nobody's; it is kept until it has passed.
   */
  overflow?: true;
}

/** The most requests a remembered slot lists as its joiners (past it, later joiners are not listed). */
export const MAX_SLOT_JOINERS = 100;
/** The most slots a zone remembers at once (past it, a new choice is not remembered). */
export const MAX_ZONE_SLOTS = 12;

/** The requests a remembered slot is kept for: the one that chose it, and those that joined it (listed). */
export const waitersOf = (slot: ZoneSlot): string[] => [
  ...(slot.requestId ? [slot.requestId] : []),
  ...(slot.joiners ?? []),
];

/**
 * Whether a remembered slot is still someone's, by the states of its listed requests: one of them
 * still waits, or it lists none (an older slot), or more joined it than it lists.
 */
export const stillWaitedFor = (slot: ZoneSlot, waits: (requestId: string) => boolean): boolean => {
  const waiters = waitersOf(slot);
  return slot.overflow === true || waiters.length === 0 || waiters.some(waits);
};

/** What one batch does to a zone's remembered slots (see changeZoneSlots). */
export interface SlotChange {
  /** Slots chosen, each with the requests deferred to it (the first is the one that chose it). */
  add?: { at: number; typicalRate: number; requestIds: readonly string[] }[];
  /** Requests deferred to a remembered slot, by its time. */
  join?: { at: number; requestIds: readonly string[] }[];
  /** Slots found orphaned, with the requests they were kept for then. */
  drop?: { at: number; waiters: readonly string[] }[];
}

/**
 * A zone's remembered slots after a batch's change, by time: those passed more than `retainMs` ago
 * are forgotten; an orphan is dropped only if it is still kept for no other request than those
 * seen waiting for nothing (one that joined it since keeps it); joiners are listed once each, at
 * most MAX_SLOT_JOINERS; a chosen slot at a time already remembered lists its requests as joiners,
 * and a new one is remembered while the zone has fewer than MAX_ZONE_SLOTS still ahead of `now`.
 */
export const changeZoneSlots = (
  slots: readonly ZoneSlot[],
  change: SlotChange,
  now: Date,
  retainMs: number,
): ZoneSlot[] => {
  const t = now.getTime();
  let out = slots
    .filter((s) => s.at + retainMs > t)
    .map((s) => ({ ...s, ...(s.joiners ? { joiners: [...s.joiners] } : {}) }));
  for (const d of change.drop ?? [])
    out = out.filter(
      (s) => s.at !== d.at || s.overflow || waitersOf(s).some((id) => !d.waiters.includes(id)),
    );
  const list = (slot: ZoneSlot, ids: readonly string[]) => {
    for (const id of ids) {
      const joiners = slot.joiners ?? [];
      if (waitersOf(slot).includes(id)) continue;
      if (joiners.length >= MAX_SLOT_JOINERS) slot.overflow = true;
      else slot.joiners = [...joiners, id];
    }
  };
  for (const a of change.add ?? []) {
    const kept = out.find((s) => s.at === a.at);
    if (kept) list(kept, a.requestIds);
    else if (a.at > t && out.filter((s) => s.at > t).length < MAX_ZONE_SLOTS) {
      const [first, ...rest] = a.requestIds;
      const slot: ZoneSlot = {
        at: a.at,
        typicalRate: a.typicalRate,
        chosenAt: now.toISOString(),
        ...(first ? { requestId: first } : {}),
      };
      list(slot, rest);
      out.push(slot);
    }
  }
  for (const j of change.join ?? []) {
    const slot = out.find((s) => s.at === j.at);
    if (slot) list(slot, j.requestIds);
  }
  return out.sort((a, b) => a.at - b.at);
};

/**
 * A request's slot: its own quietest (no `joined`), the zone's remembered slot (`zone`), or the
 * quietest of the windows it shares with other requests of the zone in its batch (`batch`).
 */
export interface SlotChoice extends QuietSlot {
  joined?: 'zone' | 'batch';
  /** For `joined: 'zone'`: which of the remembered slots offered was joined (its index). */
  slot?: number;
}

const slotEnd = (at: number) => (Math.floor(at / SLOT_MS) + 1) * SLOT_MS;

/** Whether the remembered slot is still to come (after `earliest`) and inside the window. */
export const canJoin = (slot: ZoneSlot | undefined, window: TimeWindow, earliest: number): boolean =>
  slot !== undefined && slot.at > earliest && window.start <= slot.at && slot.at < window.end;

/**
 * Windows whose intersection is not empty, greedily: by end, the earliest first, each group taking
 * every later window that still meets what the group shares. Indexes into `windows`.
 */
const overlappingGroups = (windows: readonly TimeWindow[], indexes: readonly number[]): number[][] => {
  const rest = [...indexes].sort((a, b) => windows[a]!.end - windows[b]!.end || a - b);
  const groups: number[][] = [];
  while (rest.length > 0) {
    const group = [rest.shift()!];
    let shared = { ...windows[group[0]!]! };
    for (let j = 0; j < rest.length; ) {
      const w = windows[rest[j]!]!;
      const start = Math.max(shared.start, w.start);
      const end = Math.min(shared.end, w.end);
      if (start < end) {
        shared = { start, end };
        group.push(...rest.splice(j, 1));
      } else j++;
    }
    groups.push(group);
  }
  return groups;
};

/** The window every one of `indexes` holds. */
const intersection = (windows: readonly TimeWindow[], indexes: readonly number[]): TimeWindow => ({
  start: Math.max(...indexes.map((i) => windows[i]!.start)),
  end: Math.min(...indexes.map((i) => windows[i]!.end)),
});

/**
 * Whether requests whose slot is chosen for `zone` may share a slot remembered for `slotZone`:
 * what one refresh cuts is one zone, or, for zone `all`, every zone (a zone's requests may join its
 * own slots and `all`'s; requests of `all`, any zone's).
 */
export const sharesRefresh = (zone: string, slotZone: string): boolean =>
  zone === ALL_ZONES || slotZone === zone || slotZone === ALL_ZONES;

/** The zones whose slots requests of `zone` may share (sharesRefresh), of a load balancer with `zones`. */
export const zonesSharingRefresh = (zone: string, zones: readonly string[]): string[] => [
  ...new Set([zone, ALL_ZONES, ...(zone === ALL_ZONES ? zones : [])]),
];

/** The order remembered slots of several zones are offered in: of equal slots, the first zone by name. */
export const byZoneThenTime = (a: { zone: string; slot: ZoneSlot }, b: { zone: string; slot: ZoneSlot }) =>
  a.zone.localeCompare(b.zone) || a.slot.at - b.slot.at;

/**
 * Of the remembered slots a window could join (still after `earliest`, inside the window), the
 * quietest, and of those the earliest, and of those the first offered; undefined when it holds none.
 */
export const slotToJoin = (
  remembered: readonly ZoneSlot[],
  window: TimeWindow,
  earliest: number,
): number | undefined => {
  let best: number | undefined;
  remembered.forEach((slot, i) => {
    if (!canJoin(slot, window, earliest)) return;
    const b = best === undefined ? undefined : remembered[best]!;
    if (!b || slot.typicalRate < b.typicalRate || (slot.typicalRate === b.typicalRate && slot.at < b.at))
      best = i;
  });
  return best;
};

/**
 * The slots of one zone's requests, each searched in its window (already cut to what the worker
 * can reach: from now or notBefore, to notAfter less the margin). A request whose window holds a
 * slot remembered for the zone (or for what its refresh shares: zone `all` and the zones under it),
 * still after `earliest`, joins it (the quietest such, then the earliest); the others are grouped by overlapping
 * windows, and a group of several shares the quietest slot of what their windows share (each its
 * own when the profile knows none of it). Without a profile, only joins are made. Every slot
 * chosen lies inside the window it was chosen for.
 */
export const chooseZoneSlots = (
  profile: readonly (number | undefined)[] | undefined,
  windows: readonly TimeWindow[],
  remembered: readonly ZoneSlot[],
  earliest: number,
): (SlotChoice | undefined)[] => {
  const out: (SlotChoice | undefined)[] = windows.map(() => undefined);
  const rest: number[] = [];
  windows.forEach((w, i) => {
    const j = slotToJoin(remembered, w, earliest);
    if (j === undefined) {
      rest.push(i);
      return;
    }
    const slot = remembered[j]!;
    out[i] = {
      at: slot.at,
      until: Math.min(w.end, slotEnd(slot.at)),
      typicalRate: slot.typicalRate,
      joined: 'zone',
      slot: j,
    };
  });
  if (!profile) return out;
  for (const group of overlappingGroups(windows, rest)) {
    const shared = group.length > 1 ? quietestSlot(profile, intersection(windows, group)) : undefined;
    for (const i of group)
      out[i] = shared ? { ...shared, joined: 'batch' } : quietestSlot(profile, windows[i]!);
  }
  return out;
};
