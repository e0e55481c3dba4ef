/**
 * Turns the result of applying change requests into audit events: exactly one per request
 * (applied, unchanged, refused or failed), plus one `Zone Configuration Applied` per refresh
 * task that finished.
 */

import type {
  ChangeAuditDetail,
  OutgoingEvent,
  RequestOrigin,
  TrafficAtApply,
  ZoneAppliedDetail,
} from '../domain/audit-events';
import type { ChangeRequest } from '../domain/change-request';
import {
  AUDIT_DETAIL_TYPE,
  AUDIT_SCHEMA_VERSION,
  type AuditOutcome,
  DETAIL_TYPES,
  type Notify,
} from '../domain/events';
import type { Farm, FarmRef } from '../domain/farm';
import type { ChangeOrigin } from '../domain/plan';
import { type Stickiness, toWord } from '../domain/stickiness';
import { plainText } from '../domain/text';
import type { TrafficReading } from '../domain/traffic';
import type { ApplyReport, RefreshResult } from './apply-plan';

export interface OutcomeFacts {
  outcome: AuditOutcome;
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
  /** The load balancer's traffic as the zone was applied (applied outcomes, when read). */
  traffic?: TrafficAtApply;
  /** Deferred to the quietest slot of its window: that slot and its typical rate. */
  quietest?: { at: string; typicalRequestsPerSecond: number; joined?: 'zone' | 'batch' };
}

/** A traffic reading as an audit event carries it: the rates now, or unknown and why (bounded). */
export const trafficAtApply = (reading: TrafficReading): TrafficAtApply =>
  reading.known
    ? {
        known: true,
        measuredAt: reading.measuredAt,
        requestsPerSecond: reading.now.requestsPerSecond,
        connectionsPerSecond: reading.now.connectionsPerSecond,
      }
    : { known: false, reason: plainText(reading.reason, 500) };

/** The key of a (service, zone) pair, for traffic read as its refresh was asked. */
export const zoneKey = (service: string, zone: string) => `${service}\u0000${zone}`;

/** Cuts server- or publisher-supplied text to a size that keeps every audit event far under EventBridge's 256 KiB. */
export const clip = (text: string | null | undefined, max: number): string | null =>
  text === null || text === undefined ? null : text.length > max ? `${text.slice(0, max - 3)}...` : text;

export interface AuditContext {
  requestId: string;
  /** The request, when it was readable. */
  request?: ChangeRequest & { notify?: Notify };
  origin?: RequestOrigin;
  /** The real time of the decision. */
  now: Date;
  deferredUntil?: string;
  /** Tells apart another fact of the same outcome for the same request id (a reused id's refusal). */
  variant?: string;
}

/** The detail of a per-request audit event; every field bounded in size. */
export const auditDetail = (ctx: AuditContext, facts: OutcomeFacts): ChangeAuditDetail => {
  const { request } = ctx;
  return {
    schemaVersion: AUDIT_SCHEMA_VERSION,
    auditId: `${ctx.requestId}:${facts.outcome}${facts.code === 'dead-lettered' ? ':dead-lettered' : ''}${ctx.deferredUntil ? `:${ctx.deferredUntil}` : ''}${ctx.variant ? `:${ctx.variant}` : ''}`,
    requestId: ctx.requestId,
    outcome: facts.outcome,
    origin: ctx.origin ?? null,
    actor: request?.actor
      ? {
          kind: request.actor.kind,
          id: plainText(request.actor.id, 256),
          ...(request.actor.name !== undefined ? { name: plainText(request.actor.name, 256) } : {}),
        }
      : null,
    ticket: clip(request?.ticket, 256),
    ...(request?.plan ? { plan: request.plan } : {}),
    requestReason: request?.reason === undefined ? null : plainText(request.reason, 2000),
    service: clip(facts.ref.service, 256),
    farmType: facts.ref.type ?? null,
    farmId: facts.ref.farmId ?? null,
    zone: clip(facts.farm?.zone, 64),
    displayName: facts.farm?.displayName == null ? null : plainText(facts.farm.displayName, 256),
    before:
      facts.before === undefined ? (facts.farm ? toWord(facts.farm.stickiness) : null) : toWord(facts.before),
    after: facts.after === undefined ? null : toWord(facts.after),
    code: clip(facts.code, 64),
    message: facts.message === undefined ? null : plainText(facts.message, 4000),
    retryable: facts.retryable ?? null,
    ovhQueryId: clip(facts.ovhQueryId, 256),
    refresh: facts.refresh
      ? { zone: facts.refresh.zone, taskId: facts.refresh.taskId, status: facts.refresh.status }
      : null,
    requestedAt: request?.requestedAt ?? null,
    decidedAt: ctx.now.toISOString(),
    deferredUntil: ctx.deferredUntil ?? null,
    notify: request?.notify
      ? {
          kind: request.notify.kind,
          ...('system' in request.notify ? { system: request.notify.system } : {}),
        }
      : null,
    ...(facts.traffic ? { traffic: facts.traffic } : {}),
    ...(facts.quietest ? { quietest: facts.quietest } : {}),
  };
};

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
  dedupeKey: detail.auditId,
});

/** `Zone Configuration Applied` for every refresh that reached `done`, naming the requests it carried. */
export const zoneAppliedEvents = (
  report: Pick<ApplyReport, 'applied'>,
  now: Date,
  trafficOf: (service: string, zone: string) => TrafficAtApply | undefined = () => undefined,
): OutgoingEvent[] => {
  const byRefresh = new Map<RefreshResult, { requestIds: string[]; farms: ZoneAppliedDetail['farms'] }>();
  for (const a of report.applied) {
    const entry = byRefresh.get(a.refresh) ?? { requestIds: [], farms: [] };
    const id = requestIdOf(a.change.origin);
    if (id) entry.requestIds.push(id);
    entry.farms.push({ farmType: a.change.farm.type, farmId: a.change.farm.farmId });
    byRefresh.set(a.refresh, entry);
  }
  return [...byRefresh].map(([refresh, carried]) => {
    const traffic = trafficOf(refresh.service, refresh.zone);
    return {
      detailType: DETAIL_TYPES.zoneApplied,
      detail: {
        schemaVersion: AUDIT_SCHEMA_VERSION,
        auditId: `zone:${refresh.service}:${refresh.zone}:${refresh.taskId}`,
        service: refresh.service,
        zone: refresh.zone,
        taskId: refresh.taskId,
        status: refresh.status,
        requestIds: carried.requestIds,
        farms: carried.farms,
        appliedAt: refresh.finishedAt ?? now.toISOString(),
        ...(traffic ? { traffic } : {}),
      },
      dedupeKey: `zone:${refresh.service}:${refresh.zone}:${refresh.taskId}`,
    };
  });
};
