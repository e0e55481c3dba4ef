/**
 * stickler's own unapplied writes, told from everyone else's.
 *
 * OVH's `pendingChanges` counts a zone's unapplied changes whoever made them, so a zone stickler
 * left dirty (its writes stored, then its refresh failed) looks exactly like a zone holding
 * someone else's edits, which stickler never applies by surprise. When a refresh fails after
 * writes, the zone is recorded: OVH's count just after the failure, and the refresh tasks of the
 * load balancer that had ended `done` by then. A later run trusts that the zone's unapplied
 * changes are all stickler's own only when both still hold:
 * - OVH counts exactly as many unapplied changes in the zone (one more: someone else wrote);
 * - no refresh covering the zone (or all zones) has ended `done` since (someone applied it, and
 *   any unapplied change now is theirs, even if the count happens to match).
 * Anything unsure (a record that cannot be read, a task that cannot be looked at, a change to a
 * farm in zone `all`) keeps the zone counted as someone else's: the worker then waits, as before.
 */
import { ALL_ZONES } from '../domain/farm';
import type { PendingChange } from '../domain/zones';
import type { Clock } from '../ports/clock';
import { type LoadBalancerApi, REFRESH_TASK_ACTION } from '../ports/load-balancer-api';
import type { UnappliedZone, UnappliedZones } from '../ports/unapplied-zones';

/** More refreshes than this ended since a record was made: too many to look at, not trusted. */
const MAX_TASKS_TO_LOOK_AT = 20;
/** A load balancer listing more done refreshes than this is not recorded (the record would be huge). */
const MAX_DONE_REFRESHES = 10_000;

export interface OwnUnapplied {
  /**
   * The zones of the service whose unapplied changes are all stickler's own, with their count.
   * `recorded` is told of every zone that had a record (trusted or not), to forget it once applied.
   */
  trusted(
    service: string,
    pending: readonly PendingChange[],
  ): Promise<{ own: Map<string, number>; recorded: Set<string> }>;
  /** After a zone's refresh failed: records what the zone holds now. True when a record was kept. */
  remember(service: string, zone: string): Promise<boolean>;
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
      const own = new Map<string, number>();
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
      const matching = records.filter((r) => countIn(pending, r.zone) === r.pending);
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
          own.set(r.zone, r.pending);
        }
      } catch {
        return { own: new Map(), recorded };
      }
      return { own, recorded };
    },

    async remember(service, zone) {
      if (zone === ALL_ZONES) return false;
      try {
        const [pending, done] = await Promise.all([
          api.pendingChanges(service),
          api.listTasks(service, { action: REFRESH_TASK_ACTION, status: 'done' }),
        ]);
        const count = countIn(pending, zone);
        if (count === 0 || done.length > MAX_DONE_REFRESHES) {
          await store.forget(service, zone);
          return false;
        }
        await store.remember(
          { service, zone, pending: count, doneRefreshes: done, at: clock.now().toISOString() },
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
  own: ReadonlyMap<string, number>,
): PendingChange[] =>
  own.size === 0 ? [...pending] : pending.map((p) => (own.has(p.zone) ? { zone: p.zone, number: 0 } : p));
