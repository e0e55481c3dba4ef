/**
 * The worker's choice of a quietest slot for requests that prefer it, shared per zone: each
 * request's farm is read for its zone, the slots remembered for what its zone's refresh shares are
 * read, and chooseZoneSlots (domain/zone-slots) picks; after the deferrals, the zone remembers its
 * new slot and a joining request is listed on the slot it joined.
 *
 * What one refresh cuts: a zone, or, for zone `all`, every zone of the load balancer (its refresh
 * covers them all, and the apply folds a load balancer with a change in `all` into one refresh of
 * `all`). So a request of a zone may join its zone's slot or zone `all`'s; a request of an `all`
 * farm may join `all`'s or any zone's; and in one batch, a load balancer with an `all` request has
 * its requests chosen together.
 */

import { farmRefOf } from '../domain/change-request';
import { errorFields, NotFoundError } from '../domain/errors';
import type { ChangeRequestedDetail } from '../domain/events';
import { ALL_ZONES } from '../domain/farm';
import { farmKeyOfRequest } from '../domain/request-rules';
import { dailyProfile, type TimeWindow } from '../domain/traffic';
import {
  byZoneThenTime,
  chooseZoneSlots,
  type SlotChange,
  type SlotChoice,
  sharesRefresh,
  stillWaitedFor,
  waitersOf,
  type ZoneSlot,
  zonesSharingRefresh,
} from '../domain/zone-slots';
import type { IdempotencyStore } from '../ports/idempotency-store';
import type { LoadBalancerApi } from '../ports/load-balancer-api';
import type { LoadBalancerTraffic } from '../ports/load-balancer-traffic';
import type { Log } from '../ports/log';
import type { ZoneSlots } from '../ports/zone-slots';
import type { IncomingRecord } from './incoming-record';

export interface SlotDeps {
  /** Without it, each request chooses its own slot. */
  zoneSlots?: { store: ZoneSlots; farms: Pick<LoadBalancerApi, 'getFarm' | 'listZones'> };
  idempotency: Pick<IdempotencyStore, 'status'>;
  log: Log;
}

/**
 * A request's slot. `zone`: the zone the slot is chosen for, where it is remembered (`all` when its
 * load balancer's requests were chosen together with an `all` farm's); `farmZone`: the request's
 * farm's zone; `joinedZone`, `chosenAt`: for a joined slot, the zone it was remembered for and when
 * it was chosen.
 */
export type ChosenSlot = SlotChoice & {
  zone?: string;
  farmZone?: string;
  joinedZone?: string;
  chosenAt?: string;
  /** The slots of `zone` found orphaned, with the requests they were kept for: forgotten with this choice. */
  orphans?: Orphan[];
};

/** A remembered slot no request waits for any more, and the requests it was kept for. */
interface Orphan {
  at: number;
  waiters: string[];
}

interface Candidate {
  request: ChangeRequestedDetail;
}

/** Each service's 7-day profile, read once (with its history) for the whole batch. */
const profileReader = (traffic: LoadBalancerTraffic, now: Date) => {
  const reads = new Map<string, Promise<(number | undefined)[] | undefined>>();
  return (service: string) => {
    let read = reads.get(service);
    if (!read) {
      read = traffic.read(service, now).then(
        (reading) => (reading.known ? dailyProfile(reading.history) : undefined),
        () => undefined,
      );
      reads.set(service, read);
    }
    return read;
  };
};

/**
 * The zone of each candidate's farm, read from OVH (once per farm), when zone slots are wired.
 * A farm that cannot be read has no zone here: its request chooses its own slot.
 */
async function zonesOf<C extends Candidate>(
  deps: SlotDeps,
  candidates: readonly C[],
  unreadable = "could not read a farm's zone; its request chooses its own quietest slot",
): Promise<{ zones: Map<C, string>; missing: Set<C> }> {
  const out = new Map<C, string>();
  const missing = new Set<C>();
  const farms = deps.zoneSlots?.farms;
  if (!farms) return { zones: out, missing };
  const reads = new Map<string, Promise<string | null | undefined>>();
  await Promise.all(
    candidates.map(async (q) => {
      const key = farmKeyOfRequest(q.request);
      let read = reads.get(key);
      if (!read) {
        read = farms.getFarm(farmRefOf(q.request)).then(
          (farm) => farm.zone,
          (error: unknown) => {
            // A farm that does not exist waits for nothing: its request is refused at once.
            if (error instanceof NotFoundError) return null;
            deps.log.warn(unreadable, {
              farm: key,
              error: errorFields(error),
            });
            return undefined;
          },
        );
        reads.set(key, read);
      }
      const zone = await read;
      if (zone === null) missing.add(q);
      else if (zone !== undefined) out.set(q, zone);
    }),
  );
  return { zones: out, missing };
}

/**
 * The zone each candidate's slot is chosen for: its farm's, or `all` for every request of a load
 * balancer with a request of an `all` farm in the batch (one refresh of `all` will carry them).
 */
const slotZonesOf = <C extends Candidate>(farmZones: ReadonlyMap<C, string>): Map<C, string> => {
  const withAll = new Set([...farmZones].filter(([, z]) => z === ALL_ZONES).map(([q]) => q.request.service));
  return new Map([...farmZones].map(([q, z]) => [q, withAll.has(q.request.service) ? ALL_ZONES : z]));
};

/**
 * The zones whose remembered slots each load balancer's groups may join, by service: a zone's own
 * and `all`'s; for `all`, every zone of the load balancer (listed from OVH; when that fails, the
 * zones of the batch's requests).
 */
async function zonesToRead(
  deps: SlotDeps,
  slotZones: ReadonlyMap<Candidate, string>,
  farmZones: ReadonlyMap<Candidate, string>,
): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const [q, zone] of slotZones) {
    const set = out.get(q.request.service) ?? new Set<string>([ALL_ZONES]);
    out.set(q.request.service, set.add(zone).add(farmZones.get(q)!));
  }
  await Promise.all(
    [...out].map(async ([service, zones]) => {
      if (
        !zones.has(ALL_ZONES) ||
        ![...slotZones].some(([q, z]) => z === ALL_ZONES && q.request.service === service)
      )
        return;
      try {
        for (const zone of await deps.zoneSlots!.farms.listZones(service)) zones.add(zone);
      } catch (error) {
        deps.log.warn(
          "could not list a load balancer's zones; an `all` request joins only the slots of the batch's zones",
          {
            service,
            error: errorFields(error),
          },
        );
      }
    }),
  );
  return out;
}

/** A remembered slot, and the zone it is remembered for. */
interface Remembered {
  zone: string;
  slot: ZoneSlot;
}

/**
 * The slots remembered for these zones, by service (none for a service whose read fails), without
 * those no request waits for any more (the one that chose it and every joiner cancelled,
 * superseded or carried out): such a slot is nobody's to share, and is named in `orphans` (by
 * `service/zone`) to be forgotten.
 */
async function rememberedSlots(
  deps: SlotDeps,
  wanted: ReadonlyMap<string, ReadonlySet<string>>,
): Promise<{ slots: Map<string, Remembered[]>; orphans: Map<string, Orphan[]> }> {
  const slots = new Map<string, Remembered[]>();
  await Promise.all(
    [...wanted].map(async ([service, zones]) => {
      try {
        const read = await deps.zoneSlots!.store.read(service, [...zones]);
        slots.set(
          service,
          [...read].flatMap(([zone, list]) => list.map((slot) => ({ zone, slot }))),
        );
      } catch (error) {
        deps.log.warn("could not read the zones' chosen slots; their requests choose their own", {
          service,
          error: errorFields(error),
        });
      }
    }),
  );
  const orphans = new Map<string, Orphan[]>();
  const ids = [...new Set([...slots.values()].flat().flatMap((r) => waitersOf(r.slot)))];
  if (ids.length === 0) return { slots, orphans };
  const waiting = await deps.idempotency.status(ids).catch(() => undefined);
  if (!waiting) return { slots, orphans };
  for (const [service, list] of slots)
    slots.set(
      service,
      list.filter(({ zone, slot }) => {
        if (stillWaitedFor(slot, (id) => waiting.get(id)?.state === 'deferred')) return true;
        const key = `${service}/${zone}`;
        orphans.set(key, [...(orphans.get(key) ?? []), { at: slot.at, waiters: waitersOf(slot) }]);
        return false;
      }),
    );
  return { slots, orphans };
}

/** What a group of one zone may join: its zone's slot and `all`'s; for `all`, every one read. */
const joinableFor = (service: string, zone: string, slots: ReadonlyMap<string, Remembered[]>): Remembered[] =>
  (slots.get(service) ?? []).filter((r) => sharesRefresh(zone, r.zone)).sort(byZoneThenTime);

/**
 * The slot of each candidate (none: it goes on as without `prefer`), each searched in
 * `windowOf(candidate)`. Candidates of one (service, zone) are chosen together (chooseZoneSlots):
 * a window holding a remembered slot its zone's refresh shares, still after `earliest`, joins it;
 * overlapping windows share the quietest slot of what they share; the rest choose their own.
 */
export async function chooseSlots<C extends Candidate>(
  deps: SlotDeps,
  traffic: LoadBalancerTraffic,
  candidates: readonly C[],
  windowOf: (candidate: C) => TimeWindow,
  earliest: number,
  now: Date,
): Promise<Map<C, ChosenSlot | undefined>> {
  const profileOf = profileReader(traffic, now);
  // The profiles are read while the zones are (a read never rejects).
  for (const q of candidates) void profileOf(q.request.service);
  const { zones: farmZones, missing } = await zonesOf(deps, candidates);
  const slotZones = slotZonesOf(farmZones);
  const { slots, orphans } = deps.zoneSlots
    ? await rememberedSlots(deps, await zonesToRead(deps, slotZones, farmZones))
    : { slots: new Map<string, Remembered[]>(), orphans: new Map<string, Orphan[]>() };
  const out = new Map<C, ChosenSlot | undefined>();
  const groups = new Map<string, C[]>();
  candidates.forEach((q, i) => {
    if (missing.has(q)) {
      out.set(q, undefined);
      return;
    }
    const zone = slotZones.get(q);
    const key = zone === undefined ? `#${i}` : `${q.request.service}/${zone}`;
    groups.set(key, [...(groups.get(key) ?? []), q]);
  });
  await Promise.all(
    [...groups].map(async ([key, qs]) => {
      const service = qs[0]!.request.service;
      const zone = slotZones.get(qs[0]!);
      const joinable = zone === undefined ? [] : joinableFor(service, zone, slots);
      const choices = chooseZoneSlots(
        await profileOf(service),
        qs.map(windowOf),
        joinable.map((r) => r.slot),
        earliest,
      );
      qs.forEach((q, i) => {
        const choice = choices[i];
        const joined = choice?.slot === undefined ? undefined : joinable[choice.slot];
        out.set(
          q,
          choice && {
            ...choice,
            ...(zone === undefined ? {} : { zone, farmZone: farmZones.get(q)! }),
            ...(joined ? { joinedZone: joined.zone, chosenAt: joined.slot.chosenAt } : {}),
            ...(orphans.has(key) ? { orphans: orphans.get(key)! } : {}),
          },
        );
      });
    }),
  );
  return out;
}

/** A request deferred (or not) to its slot. */
export interface SlotDeferral {
  request: ChangeRequestedDetail;
  quietest?: ChosenSlot;
  /** Whether it was deferred (a request decided otherwise neither remembers nor joins). */
  deferred: boolean;
}

/** A zone's change, built up request by request. */
const changeOf = (
  changes: Map<string, { service: string; zone: string; change: Required<SlotChange> }>,
  service: string,
  zone: string,
) => {
  const key = `${service}/${zone}`;
  let entry = changes.get(key);
  if (!entry) {
    entry = { service, zone, change: { add: [], join: [], drop: [] } };
    changes.set(key, entry);
  }
  return entry.change;
};

/** Lists `requestId` under the entry of `at` in `list`, adding the entry if it is the first. */
const listUnder = <E extends { at: number; requestIds: readonly string[] }>(
  list: E[],
  entry: E,
  requestId: string,
) => {
  const kept = list.find((e) => e.at === entry.at);
  if (kept) kept.requestIds = [...kept.requestIds, requestId];
  else list.push({ ...entry, requestIds: [requestId] });
};

/**
 * After the deferrals: each zone remembers the slots its requests were deferred to by their own
 * choice (with those requests, the first as the one that chose it), lists the requests that joined
 * one of its remembered slots, and forgets the orphans found while choosing; one atomic change
 * per zone. A change that fails is logged: the zone's later requests then choose their own.
 */
export async function rememberSlots(deps: SlotDeps, deferring: readonly SlotDeferral[], now: Date) {
  const store = deps.zoneSlots?.store;
  if (!store) return;
  const changes = new Map<string, { service: string; zone: string; change: Required<SlotChange> }>();
  for (const { request, quietest: slot, deferred } of deferring) {
    if (!slot || slot.zone === undefined || !deferred) continue;
    const { service, requestId } = request;
    if (slot.joined === 'zone') {
      if (slot.joinedZone !== undefined)
        listUnder(
          changeOf(changes, service, slot.joinedZone).join,
          { at: slot.at, requestIds: [] },
          requestId,
        );
      // A farm of zone `all` on a zone's slot: its refresh cuts every zone then, so the slot is
      // zone `all`'s too, for the other zones' requests to join.
      if (slot.farmZone === ALL_ZONES && slot.joinedZone !== ALL_ZONES)
        listUnder(
          changeOf(changes, service, ALL_ZONES).add,
          { at: slot.at, typicalRate: slot.typicalRate, requestIds: [] },
          requestId,
        );
      continue;
    }
    const change = changeOf(changes, service, slot.zone);
    listUnder(change.add, { at: slot.at, typicalRate: slot.typicalRate, requestIds: [] }, requestId);
    for (const orphan of slot.orphans ?? [])
      if (!change.drop.some((d) => d.at === orphan.at)) change.drop.push(orphan);
  }
  await Promise.all(
    [...changes.values()].map(({ service, zone, change }) =>
      store.change(service, zone, change, now).catch((error: unknown) =>
        deps.log.warn("could not remember a zone's slots; its later requests choose their own", {
          service,
          zone,
          error: errorFields(error),
        }),
      ),
    ),
  );
}

/** The record id of a request taken from the store as its slot came, not delivered by the queue. */
export const COMPANION_RECORD_PREFIX = 'slot-companion:';
/** The most slot companions one batch takes from the store (the rest come as their schedules fire). */
export const MAX_COMPANIONS = 100;

/**
 * The requests deferred to the same slot as the batch's requests coming back at theirs, that the
 * batch does not hold: taken from the store (each as its deferred record keeps it), so that a
 * zone's slot is refreshed once, not once per batch its requests happened to land in. A request
 * comes back at its slot when it prefers the quietest time and its record is deferred until now or
 * before; its companions are the requests listed by the slots at that time its refresh shares
 * (companionIds), still deferred until then. Their own deliveries, when they come, find them done. Anything that cannot be read
 * leaves the batch as it is.
 */
export async function slotCompanions(
  deps: SlotDeps & { idempotency: Pick<IdempotencyStore, 'status' | 'deferred'> },
  records: readonly IncomingRecord[],
  now: Date,
): Promise<IncomingRecord[]> {
  if (!deps.zoneSlots) return [];
  const quietest = records.flatMap((r) =>
    r.parsed.ok && r.parsed.request.window?.prefer === 'quietest' ? [r.parsed.request] : [],
  );
  if (quietest.length === 0) return [];
  try {
    const due = await dueAtSlot(deps, quietest, now);
    if (due.length === 0) return [];
    const inBatch = new Set(records.map((r) => r.parsed.key));
    const wanted = await companionIds(deps, due, inBatch);
    return await companionRecords(deps, wanted, now);
  } catch (error) {
    deps.log.warn(
      'could not look for the requests sharing a slot; they are applied as their schedules fire',
      {
        error: errorFields(error),
      },
    );
    return [];
  }
}

/** The requests coming back at their slot: deferred until now or before, with the time. */
async function dueAtSlot(
  deps: { idempotency: Pick<IdempotencyStore, 'status'> },
  requests: readonly ChangeRequestedDetail[],
  now: Date,
): Promise<{ request: ChangeRequestedDetail; at: number }[]> {
  const status = await deps.idempotency.status([...new Set(requests.map((r) => r.requestId))]);
  return requests.flatMap((request) => {
    const s = status.get(request.requestId);
    const at = s?.state === 'deferred' && s.deferredUntil ? Date.parse(s.deferredUntil) : Number.NaN;
    return at <= now.getTime() ? [{ request, at }] : [];
  });
}

/**
 * The ids listed, besides the batch's own, by the slots at a due request's time that its refresh
 * shares: its zone's and zone `all`'s; for a farm of zone `all`, every zone's of its load balancer
 * (at most MAX_COMPANIONS).
 */
async function companionIds(
  deps: SlotDeps,
  due: readonly { request: ChangeRequestedDetail; at: number }[],
  inBatch: ReadonlySet<string>,
): Promise<{ id: string; at: number }[]> {
  const { zones } = await zonesOf(
    deps,
    due,
    "could not read a farm's zone; the requests sharing its slot are applied as their schedules fire",
  );
  const wanted = new Map<string, number>();
  await Promise.all(
    [...new Set(due.map((d) => d.request.service))].map(async (service) => {
      const mine = due.filter((d) => d.request.service === service && zones.has(d));
      const farmZones = new Set(mine.map((d) => zones.get(d)!));
      const all = farmZones.has(ALL_ZONES) ? await deps.zoneSlots!.farms.listZones(service) : [];
      const toRead = new Set([...farmZones].flatMap((z) => zonesSharingRefresh(z, all)));
      const read = await deps.zoneSlots!.store.read(service, [...toRead]);
      for (const d of mine) {
        const zone = zones.get(d)!;
        for (const [slotZone, slots] of read) {
          if (!sharesRefresh(zone, slotZone)) continue;
          for (const slot of slots)
            if (slot.at === d.at)
              for (const id of waitersOf(slot)) if (!inBatch.has(id)) wanted.set(id, slot.at);
        }
      }
    }),
  );
  return [...wanted].slice(0, MAX_COMPANIONS).map(([id, at]) => ({ id, at }));
}

/** The companions still deferred until their slot, as records of the batch. */
async function companionRecords(
  deps: { idempotency: Pick<IdempotencyStore, 'status' | 'deferred'> },
  wanted: readonly { id: string; at: number }[],
  now: Date,
): Promise<IncomingRecord[]> {
  if (wanted.length === 0) return [];
  const status = await deps.idempotency.status(wanted.map((w) => w.id));
  const found = await Promise.all(
    wanted.map(async ({ id, at }) => {
      const s = status.get(id);
      if (s?.state !== 'deferred' || !s.deferredUntil || Date.parse(s.deferredUntil) !== at) return [];
      const kept = await deps.idempotency.deferred(id);
      if (!kept?.origin) return [];
      const record: IncomingRecord = {
        recordId: `${COMPANION_RECORD_PREFIX}${id}`,
        receiveCount: 1,
        sentAt: now,
        // The content the store kept for it: no hash to check it against.
        parsed: { ok: true, key: id, request: kept.request, origin: kept.origin, contentHash: '' },
      };
      return [record];
    }),
  );
  return found.flat();
}
