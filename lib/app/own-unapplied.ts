/**
 * stickler's own unapplied writes, told from everyone else's: named, not counted.
 *
 * OVH's `pendingChanges` counts a zone's unapplied changes whoever made them, so a zone stickler
 * left dirty (its writes stored, then its refresh failed) looks exactly like a zone holding
 * someone else's edits, which stickler never applies by surprise. When a refresh fails after
 * writes, the zone is recorded only if OVH's count just after the failure is exactly what
 * stickler's own writes account for (the zone's count when the run read it, all stickler's own
 * or none, plus the run's writes there); one more, and someone else wrote meanwhile: no record,
 * the zone is someone else's. The record names the farms stickler wrote and the values they
 * store, and the refresh tasks of the load balancer that had ended `done` by then. A later run
 * trusts that the zone's unapplied changes are all stickler's own only while all of these hold:
 * - OVH counts exactly as many unapplied changes in the zone;
 * - every farm named still stores the value recorded (another value: someone else's edit);
 * - no refresh covering the zone (or all zones) has ended `done` since (someone applied it, and
 *   any unapplied change now is theirs, even if the count happens to match).
 * Anything unsure (a record that cannot be read, a farm or task that cannot be looked at, a
 * change to a farm in zone `all`) keeps the zone counted as someone else's: the worker then
 * waits, as before.
 */
import { ALL_ZONES } from '../domain/farm';
import type { PendingChange } from '../domain/zones';
import type { Clock } from '../ports/clock';
import { type LoadBalancerApi, REFRESH_TASK_ACTION } from '../ports/load-balancer-api';
import type { UnappliedFarm, UnappliedZone, UnappliedZones } from '../ports/unapplied-zones';

/** More refreshes than this ended since a record was made: too many to look at, not trusted. */
const MAX_TASKS_TO_LOOK_AT = 20;
/** A load balancer listing more done refreshes than this is not recorded (the record would be huge). */
const MAX_DONE_REFRESHES = 10_000;

/** A zone's unapplied changes known to be all stickler's own: how many, and which farms hold what. */
export interface OwnZone {
  count: number;
  farms: UnappliedFarm[];
}

export interface OwnUnapplied {
  /**
   * The zones of the service whose unapplied changes are all stickler's own. `recorded` is told
   * of every zone that had a record (trusted or not), to forget it once applied.
   */
  trusted(
    service: string,
    pending: readonly PendingChange[],
  ): Promise<{ own: Map<string, OwnZone>; recorded: Set<string> }>;
  /**
   * After a zone's refresh failed: records the zone as stickler's own if OVH counts exactly
   * `expected` unapplied changes there (what stickler's writes account for), naming `farms`. True
   * when a record was kept.
   */
  remember(
    service: string,
    zone: string,
    expected: number,
    farms: readonly UnappliedFarm[],
  ): Promise<boolean>;
  /** After a zone was applied: its record, if any, is no longer true. */
  forget(service: string, zone: string): Promise<void>;
}

export const makeOwnUnapplied = (deps: {
  api: LoadBalancerApi;
  store: UnappliedZones;
  clock: Clock;
}): OwnUnapplied => {
  const { api, store, clock } = deps;
  const countIn = (pending: readonly PendingChange[], zone: string) =>
    pending.filter((p) => p.zone === zone).reduce((n, p) => n + p.number, 0);

  return {
    async trusted(service, pending) {
      const own = new Map<string, OwnZone>();
      const recorded = new Set<string>();
      const dirty = [...new Set(pending.filter((p) => p.number > 0).map((p) => p.zone))];
      // How OVH counts a change to an `all` farm is not documented: never guess whose it is.
      if (dirty.length === 0 || dirty.includes(ALL_ZONES)) return { own, recorded };
      let records: UnappliedZone[];
      try {
        records = await store.read(service, dirty);
      } catch {
        return { own, recorded };
      }
      for (const r of records) recorded.add(r.zone);
      const counted = records.filter((r) => countIn(pending, r.zone) === r.pending);
      if (counted.length === 0) return { own, recorded };
      // Each farm named must still store what stickler left there: another value is someone's edit.
      const matching: UnappliedZone[] = [];
      try {
        for (const r of counted) {
          const now = await Promise.all(
            r.farms.map((f) => api.getFarm({ service, type: f.type, farmId: f.farmId })),
          );
          if (now.every((farm, i) => farm.stickiness === r.farms[i]!.stickiness && farm.zone === r.zone))
            matching.push(r);
          else await store.forget(service, r.zone).catch(() => undefined);
        }
      } catch {
        return { own, recorded };
      }
      if (matching.length === 0) return { own, recorded };
      try {
        const done = await api.listTasks(service, { action: REFRESH_TASK_ACTION, status: 'done' });
        const since = new Map(
          matching.map((r) => {
            const known = new Set(r.doneRefreshes);
            return [r, done.filter((id) => !known.has(id))] as const;
          }),
        );
        const toLook = [...new Set([...since.values()].flat())];
        if (toLook.length > MAX_TASKS_TO_LOOK_AT) return { own, recorded };
        const tasks = await Promise.all(toLook.map((id) => api.getTask(service, id)));
        const zonesOf = new Map(tasks.map((t) => [t.id, t.zones] as const));
        for (const [r, ids] of since) {
          const appliedSince = ids.some((id) => {
            const zones = zonesOf.get(id) ?? [];
            return zones.length === 0 || zones.includes(r.zone) || zones.includes(ALL_ZONES);
          });
          if (appliedSince) {
            // Someone applied the zone since: whatever it holds now is not stickler's.
            await store.forget(service, r.zone).catch(() => undefined);
            continue;
          }
          own.set(r.zone, { count: r.pending, farms: r.farms });
        }
      } catch {
        return { own: new Map(), recorded };
      }
      return { own, recorded };
    },

    async remember(service, zone, expected, farms) {
      if (zone === ALL_ZONES || farms.length === 0) return false;
      try {
        const [pending, done] = await Promise.all([
          api.pendingChanges(service),
          api.listTasks(service, { action: REFRESH_TASK_ACTION, status: 'done' }),
        ]);
        const count = countIn(pending, zone);
        // More than stickler's writes account for: someone else wrote meanwhile, and the zone is
        // theirs as much as stickler's. Fewer: someone applied it. Either way, no record.
        if (count !== expected || done.length > MAX_DONE_REFRESHES) {
          await store.forget(service, zone);
          return false;
        }
        await store.remember(
          {
            service,
            zone,
            pending: count,
            farms: [...farms],
            doneRefreshes: done,
            at: clock.now().toISOString(),
          },
          clock.now(),
        );
        return true;
      } catch {
        return false;
      }
    },

    forget: (service, zone) => store.forget(service, zone).catch(() => undefined),
  };
};

/** The service's pending changes without stickler's own (their zone then counts as clean). */
export const withoutOwn = (
  pending: readonly PendingChange[],
  own: ReadonlyMap<string, unknown>,
): PendingChange[] =>
  own.size === 0 ? [...pending] : pending.map((p) => (own.has(p.zone) ? { zone: p.zone, number: 0 } : p));
