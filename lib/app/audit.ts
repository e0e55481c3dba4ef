/**
 * Turns the result of applying change requests into audit events: exactly one per request
 * (applied, unchanged, refused or failed), plus one `Zone Configuration Applied` per refresh
 * task that finished.
 */

import type { ChangeAuditDetail, ZoneAppliedDetail } from '../domain/audit-events';
import type { ChangeRequest } from '../domain/change-request';
import { AUDIT_DETAIL_TYPE, DETAIL_TYPES, type Outcome, type OutgoingEvent } from '../domain/events';
import type { Farm, FarmRef } from '../domain/farm';
import type { ChangeOrigin } from '../domain/plan';
import { type Stickiness, toWord } from '../domain/stickiness';
import type { ApplyReport, RefreshResult } from './apply-plan';

interface OutcomeFacts {
  outcome: Outcome;
  /** What is known of the farm: everything for a valid request, maybe nothing for a malformed one. */
  ref: Partial<FarmRef>;
  farm?: Farm;
  before?: Stickiness;
  after?: Stickiness;
  code?: string;
  message?: string;
  retryable?: boolean;
  ovhQueryId?: string;
  refresh?: RefreshResult;
}

export const auditDetail = (
  request: ChangeRequest | undefined,
  facts: OutcomeFacts,
  now: Date,
  requestId: string,
): ChangeAuditDetail => ({
  requestId,
  outcome: facts.outcome,
  actor: request?.actor ?? null,
  ticket: request?.ticket ?? null,
  requestReason: request?.reason ?? null,
  service: facts.ref.service ?? null,
  farmType: facts.ref.type ?? null,
  farmId: facts.ref.farmId ?? null,
  zone: facts.farm?.zone ?? null,
  displayName: facts.farm?.displayName ?? null,
  before:
    facts.before === undefined ? (facts.farm ? toWord(facts.farm.stickiness) : null) : toWord(facts.before),
  after: facts.after === undefined ? null : toWord(facts.after),
  code: facts.code ?? null,
  message: facts.message ?? null,
  retryable: facts.retryable ?? null,
  ovhQueryId: facts.ovhQueryId ?? null,
  refresh: facts.refresh
    ? { zone: facts.refresh.zone, taskId: facts.refresh.taskId, status: facts.refresh.status }
    : null,
  requestedAt: request?.requestedAt ?? null,
  decidedAt: now.toISOString(),
});

const requestIdOf = (origin: ChangeOrigin): string | undefined =>
  origin.kind === 'request' ? origin.requestId : undefined;

/** Per-request outcome facts keyed by request id, from an apply report. */
export const outcomesByRequest = (report: ApplyReport): Map<string, OutcomeFacts> => {
  const out = new Map<string, OutcomeFacts>();
  const put = (origin: ChangeOrigin, facts: OutcomeFacts) => {
    const id = requestIdOf(origin);
    if (id !== undefined && !out.has(id)) out.set(id, facts);
  };
  for (const a of report.applied) {
    put(a.change.origin, {
      outcome: 'applied',
      ref: a.change.farm,
      farm: a.change.farm,
      before: a.change.from,
      after: a.change.to,
      refresh: a.refresh,
    });
  }
  for (const u of report.unchanged) {
    put(u.origin, {
      outcome: 'unchanged',
      ref: u.farm,
      farm: u.farm,
      before: u.farm.stickiness,
      after: u.farm.stickiness,
    });
  }
  for (const f of report.failed) {
    put(f.origin, {
      outcome: 'failed',
      ref: f.ref,
      ...(f.farm ? { farm: f.farm } : {}),
      ...(f.from !== undefined ? { before: f.from } : {}),
      after: f.to,
      code: f.code,
      message: f.reason,
      retryable: f.retryable,
      ...(f.queryId ? { ovhQueryId: f.queryId } : {}),
    });
  }
  for (const r of report.refused) {
    put(r.origin, {
      outcome: 'refused',
      ref: r.ref,
      ...(r.farm ? { farm: r.farm } : {}),
      ...(r.to !== undefined ? { after: r.to } : {}),
      code: r.code,
      message: r.reason,
      retryable: false,
    });
  }
  return out;
};

export const auditEvent = (detail: ChangeAuditDetail): OutgoingEvent => ({
  detailType: AUDIT_DETAIL_TYPE[detail.outcome],
  detail,
  dedupeKey: `${detail.requestId}:${detail.outcome}`,
});

/** `Zone Configuration Applied` for every refresh that reached `done`, naming the requests it carried. */
export const zoneAppliedEvents = (report: ApplyReport, now: Date): OutgoingEvent[] => {
  const byRefresh = new Map<RefreshResult, { requestIds: string[]; farms: ZoneAppliedDetail['farms'] }>();
  for (const a of report.applied) {
    const entry = byRefresh.get(a.refresh) ?? { requestIds: [], farms: [] };
    const id = requestIdOf(a.change.origin);
    if (id) entry.requestIds.push(id);
    entry.farms.push({ farmType: a.change.farm.type, farmId: a.change.farm.farmId });
    byRefresh.set(a.refresh, entry);
  }
  return [...byRefresh].map(([refresh, carried]) => ({
    detailType: DETAIL_TYPES.zoneApplied,
    detail: {
      service: refresh.service,
      zone: refresh.zone,
      taskId: refresh.taskId,
      status: refresh.status,
      requestIds: carried.requestIds,
      farms: carried.farms,
      appliedAt: now.toISOString(),
    },
    dedupeKey: `zone:${refresh.service}:${refresh.zone}:${refresh.taskId}`,
  }));
};
