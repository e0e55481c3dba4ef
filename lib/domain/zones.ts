/**
 * Zone batching and the pending-changes guard.
 *
 * A farm in zone `all` is deployed in every zone of its service. stickler treats it so:
 * - batching: if a service has any change to an `all` farm, the whole service is applied with one
 *   refresh of zone `all` (which covers every zone, so its per-zone changes ride along);
 *   otherwise one refresh per touched zone;
 * - pending changes: an `all` farm's change is refused while any zone of its service has
 *   unapplied changes stickler did not make, and a pending entry reported for zone `all`
 *   makes every zone of that service count as holding foreign changes.
 */
import { ALL_ZONES } from './farm';
import type { Change, Rejection } from './plan';

/**
 * The warning every change carries, said once for every door (the CLI, Slack): it is why
 * changes are confirmed.
 */
export const SESSION_LOSS_WARNING =
  'Applying a zone rebalances the connections of all its farms: their HTTP sessions are lost.';

export interface PendingChange {
  zone: string;
  number: number;
}

export interface ZoneBatch {
  service: string;
  zone: string;
  changes: Change[];
}

/** Groups changes into the fewest (service, zone) refreshes, in a stable order. */
export const batchByZone = (changes: readonly Change[]): ZoneBatch[] => {
  const byService = new Map<string, Change[]>();
  for (const change of changes) {
    const list = byService.get(change.farm.service) ?? [];
    list.push(change);
    byService.set(change.farm.service, list);
  }
  const batches: ZoneBatch[] = [];
  for (const [service, list] of [...byService].sort(([a], [b]) => a.localeCompare(b))) {
    if (list.some((c) => c.farm.zone === ALL_ZONES)) {
      batches.push({ service, zone: ALL_ZONES, changes: list });
      continue;
    }
    const byZone = new Map<string, Change[]>();
    for (const c of list) byZone.set(c.farm.zone, [...(byZone.get(c.farm.zone) ?? []), c]);
    for (const [zone, zoneChanges] of [...byZone].sort(([a], [b]) => a.localeCompare(b))) {
      batches.push({ service, zone, changes: zoneChanges });
    }
  }
  return batches;
};

/** How many unapplied changes a zone of one service holds (its own, and those of zone `all`), from its pending changes. */
export const unappliedCountIn = (pending: readonly PendingChange[]): ((zone: string) => number) => {
  const counts = new Map(pending.filter((p) => p.number > 0).map((p) => [p.zone, p.number] as const));
  const all = counts.get(ALL_ZONES) ?? 0;
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  return (zone) => (zone === ALL_ZONES ? total : (counts.get(zone) ?? 0) + all);
};

/**
 * Splits changes into those safe to apply and those refused because applying their zone would
 * also push changes someone else left unapplied. `allowForeign` lets an operator accept that.
 */
export const guardPendingChanges = (
  changes: readonly Change[],
  pendingByService: ReadonlyMap<string, readonly PendingChange[]>,
  allowForeign: boolean,
): { accepted: Change[]; refused: Rejection[] } => {
  if (allowForeign) return { accepted: [...changes], refused: [] };
  const accepted: Change[] = [];
  const refused: Rejection[] = [];
  const counters = new Map<string, (zone: string) => number>();
  for (const change of changes) {
    const service = change.farm.service;
    let count = counters.get(service);
    if (!count) {
      count = unappliedCountIn(pendingByService.get(service) ?? []);
      counters.set(service, count);
    }
    const n = count(change.farm.zone);
    if (n === 0) {
      accepted.push(change);
      continue;
    }
    const where =
      change.farm.zone === ALL_ZONES
        ? `the zones of ${service} hold`
        : `zone ${change.farm.zone} of ${service} holds`;
    refused.push({
      ref: change.farm,
      farm: change.farm,
      to: change.to,
      origin: change.origin,
      code: 'foreign-pending',
      reason: `${where} ${n} unapplied change(s) that this run did not make; applying would push them too (apply or discard them first, or allow it explicitly)`,
    });
  }
  return { accepted, refused };
};
