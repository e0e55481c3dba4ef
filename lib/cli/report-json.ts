/** The CLI's `--json` shapes: stable, words for stickiness (`none`, never null). */
import type { ApplyReport, Failure, RefreshResult } from '../app/apply-plan';
import type { StoredNotApplied, Unreadable } from '../app/plan-policy';
import type { TrafficReport } from '../app/read-traffic';
import type { ZoneWaitingSlot } from '../app/waiting-slot';
import type { Farm, FarmRef } from '../domain/farm';
import type { Change, ChangeOrigin, Plan, Rejection } from '../domain/plan';
import { type Stickiness, type StickinessWord, toWord } from '../domain/stickiness';
import type { PendingChange } from '../domain/zones';

export interface JsonChange {
  service: string;
  type: string;
  farmId: number;
  zone: string | null;
  displayName: string | null;
  from: StickinessWord | null;
  to: StickinessWord | null;
  rule: string | null;
  requestId?: string;
  ticket?: string;
  reason?: string;
  code?: string;
  retryable?: boolean;
  queryId?: string;
}

const originFields = (origin: ChangeOrigin) =>
  origin.kind === 'rule'
    ? { rule: origin.rule }
    : { rule: null, requestId: origin.requestId, ...(origin.ticket ? { ticket: origin.ticket } : {}) };

const word = (value: Stickiness | undefined): StickinessWord | null =>
  value === undefined ? null : toWord(value);

const base = (
  ref: FarmRef,
  farm: Farm | undefined,
  from: Stickiness | undefined,
  to: Stickiness | undefined,
) => ({
  service: ref.service,
  type: ref.type,
  farmId: ref.farmId,
  zone: farm?.zone ?? null,
  displayName: farm?.displayName ?? null,
  from: word(from ?? farm?.stickiness),
  to: word(to),
});

export const changeJson = (c: Change): JsonChange => ({
  ...base(c.farm, c.farm, c.from, c.to),
  ...originFields(c.origin),
});

export const rejectionJson = (r: Rejection): JsonChange => ({
  ...base(r.ref, r.farm, undefined, r.to),
  ...originFields(r.origin),
  code: r.code,
  reason: r.reason,
});

export const failureJson = (f: Failure): JsonChange => ({
  ...base(f.ref, f.farm, f.from, f.to),
  ...originFields(f.origin),
  code: f.code,
  reason: f.reason,
  retryable: f.retryable,
  ...(f.queryId ? { queryId: f.queryId } : {}),
});

export const refreshJson = (r: RefreshResult) => ({
  service: r.service,
  zone: r.zone,
  taskId: r.taskId,
  status: r.status,
  ...(r.error ? { error: r.error } : {}),
});

/** Load balancers that could not be read, and why: always present, so a script can rely on it. */
const unreadableJson = (unreadable: readonly Unreadable[]) =>
  unreadable.map((u) => ({ service: u.service, code: u.code, reason: u.message, retryable: u.retryable }));

export const planJson = (
  plan: Plan,
  unreadable: readonly Unreadable[] = [],
  storedNotApplied: readonly StoredNotApplied[] = [],
) => ({
  changes: plan.changes.map(changeJson),
  unchanged: plan.unchanged.length,
  invalid: plan.invalid.map(rejectionJson),
  unreadable: unreadableJson(unreadable),
  storedNotApplied: storedNotApplied.map((s) => ({
    ...base(s.farm, s.farm, undefined, s.farm.stickiness),
    ...originFields(s.origin),
    pendingInZone: s.pending,
    ...(s.own ? { ownEarlierWrites: true } : {}),
  })),
});

export const applyJson = (plan: Plan, report: ApplyReport, unreadable: readonly Unreadable[] = []) => ({
  ...planJson(plan, unreadable),
  unchanged: report.unchanged.length,
  applied: report.applied.map((a) => changeJson(a.change)),
  refused: report.refused.map(rejectionJson),
  failed: report.failed.map(failureJson),
  refreshes: report.refreshes.map(refreshJson),
});

/** `stickler show --json`: per load balancer, its zones' unapplied changes and its farms as stored. */
export const showJson = (fleet: readonly Farm[], pending: ReadonlyMap<string, readonly PendingChange[]>) => ({
  services: [...new Set(fleet.map((f) => f.service))].map((service) => ({
    service,
    pendingChanges: pending.get(service) ?? [],
    farms: fleet
      .filter((f) => f.service === service)
      .map((f) => ({
        type: f.type,
        farmId: f.farmId,
        zone: f.zone,
        displayName: f.displayName,
        stickiness: f.type === 'udp' ? null : (f.stickiness ?? 'none'),
      })),
  })),
});

const iso = (at: number) => new Date(at).toISOString();

/** `traffic` of `plan --json` and `show --json`: times in ISO 8601 UTC, rates per second. */
export const trafficJson = (report: TrafficReport) => ({
  window: { start: iso(report.window.start), end: iso(report.window.end) },
  services: report.services.map((t) =>
    t.known
      ? {
          service: t.service,
          known: true,
          measuredAt: t.measuredAt,
          requestsPerSecond: t.now.requestsPerSecond,
          connectionsPerSecond: t.now.connectionsPerSecond,
          quietest: t.quietest
            ? {
                at: iso(t.quietest.at),
                until: iso(t.quietest.until),
                typicalRequestsPerSecond: t.quietest.typicalRate,
              }
            : null,
          ...(t.quietest ? {} : { quietestUnknown: t.quietestUnknown ?? 'no history' }),
        }
      : { service: t.service, known: false, reason: t.reason },
  ),
});

/**
 * The zones' waiting slots (`plan --pipeline`): each slot's start in ISO 8601 UTC, whether the
 * window holds it, and whether (and for which zones) a request preferring the quietest time joins it.
 */
export const waitingSlotsJson = (slots: readonly ZoneWaitingSlot[]) =>
  slots.map((s) => ({
    service: s.service,
    zone: s.zone,
    at: iso(s.slot.at),
    typicalRequestsPerSecond: s.slot.typicalRate,
    inWindow: s.inWindow,
    joined: s.joinedBy.length > 0,
    joinedBy: s.joinedBy,
  }));
