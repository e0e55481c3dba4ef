/**
 * The queue worker's zone refreshes: `Zone Refresh Requested` records in (an operator, through one
 * of stickler's doors, asks for one zone's unapplied changes to be applied, having seen how many
 * there were: `ifPending`), and exactly one terminal audit event per refresh out:
 * - `Zone Refresh Applied`: the zone's refresh task ended done (stickler's own record of the
 *   zone's unapplied writes, if any, is forgotten);
 * - `Zone Refresh Unchanged`: the zone holds nothing unapplied any more;
 * - `Zone Refresh Refused`: `changed-since` (the zone holds another count than the one approved:
 *   someone wrote since the operator looked; nothing applied), `unknown-service`, `unknown-zone`,
 *   `not-allowed` (not published by one of stickler's doors), `invalid-refresh`, `replayed`,
 *   `id-reused`;
 * - `Zone Refresh Failed`: the refresh did not apply the zone (after its attempts), an OVH error
 *   no retry can mend, or `dead-lettered` on the queue's last receive.
 *
 * Each refresh is claimed like a request (`~refresh:<refreshId>`), so the same refresh published
 * twice is carried out once. The load balancer's lease is the change requests' one: a refresh
 * never races the worker's own writes to that load balancer. A refresh that cannot be finished now
 * (OVH or the table unreachable, the lease held by another batch, no time left) is handed back with
 * a short growing delay, and audited `Failed` on the queue's last receive. Outcomes go through the
 * audit outbox like every other path: stored, published, then completed.
 */
import type { OutgoingEvent, ZoneRefreshAuditDetail, ZoneRefreshOutcome } from '../domain/audit-events';
import { errorFields, NotFoundError } from '../domain/errors';
import { AUDIT_SCHEMA_VERSION, DETAIL_TYPES, type ZoneRefreshRequestedDetail } from '../domain/events';
import { ALL_ZONES } from '../domain/farm';
import { DEFAULT_TIME_LIMITS, retryDelaySeconds, unfinishedDisposition } from '../domain/request-rules';
import { plainText } from '../domain/text';
import type { Clock } from '../ports/clock';
import type { EventPublisher } from '../ports/event-publisher';
import type { IdempotencyStore } from '../ports/idempotency-store';
import { type LoadBalancerApi, REFRESH_TASK_ACTION } from '../ports/load-balancer-api';
import type { Log } from '../ports/log';
import type { Lease, ServiceLeases } from '../ports/service-leases';
import type { UnappliedZones } from '../ports/unapplied-zones';
import { makeApplyZone } from './apply-zone';
import { flushOutbox } from './audit-outbox';
import { errorFacts } from './error-facts';
import type { IncomingZoneRefresh } from './incoming-record';
import { STICKLER_DOORS } from './process-cancels';
import type { ProcessResult } from './process-change-requests';
import { eachRecordOnce, type RecordDone } from './record-batch';

export interface ZoneRefreshDeps {
  api: LoadBalancerApi;
  idempotency: IdempotencyStore;
  /** The change requests' leases: one batch at a time per load balancer. */
  leases: ServiceLeases;
  unapplied: UnappliedZones;
  publisher: EventPublisher;
  clock: Clock;
  log: Log;
  maxReceiveCount: number;
  claimHoldMs: number;
  /** How long to wait for a lease another batch holds before handing the refresh back (default 0). */
  leaseWaitMs?: number;
  timing: {
    pollIntervalMs: number;
    taskTimeoutMs: number;
    refreshAttempts?: number;
    /** The time one zone needs (a task and a margin): a refresh starts only if it fits before the deadline. */
    zoneBudgetMs: number;
  };
}

export const ZONE_REFRESH_DETAIL_TYPE: Record<ZoneRefreshOutcome, OutgoingEvent['detailType']> = {
  applied: DETAIL_TYPES.zoneRefreshApplied,
  unchanged: DETAIL_TYPES.zoneRefreshUnchanged,
  refused: DETAIL_TYPES.zoneRefreshRefused,
  failed: DETAIL_TYPES.zoneRefreshFailed,
};

/** What one outcome says, besides who asked for what. */
interface Facts {
  outcome: ZoneRefreshOutcome;
  code: string;
  message: string;
  retryable?: boolean;
  queryId?: string;
  pending?: number;
  refresh?: ZoneRefreshAuditDetail['refresh'];
}

type Verdict =
  | { kind: 'done'; event: OutgoingEvent; ownKey?: string }
  | { kind: 'resume'; events: OutgoingEvent[]; ownKey?: string }
  | { kind: 'duplicate' }
  | { kind: 'unfinished'; reason: string; claimHeld: boolean };

/** The refresh's terminal audit event (its `auditId` is stable: a resent event carries the same). */
export const zoneRefreshEvent = (
  record: IncomingZoneRefresh,
  facts: Facts,
  now: Date,
  key = record.parsed.key,
): OutgoingEvent => {
  const { parsed } = record;
  const r: Partial<ZoneRefreshRequestedDetail> = parsed.ok ? parsed.refresh : parsed.known;
  const auditId = `${key}:${facts.outcome}`;
  const detail: ZoneRefreshAuditDetail = {
    schemaVersion: AUDIT_SCHEMA_VERSION,
    auditId,
    refreshId: r.refreshId ?? null,
    outcome: facts.outcome,
    origin: parsed.origin ?? null,
    actor: r.actor
      ? {
          kind: r.actor.kind,
          id: plainText(r.actor.id, 256),
          ...(r.actor.name ? { name: plainText(r.actor.name, 256) } : {}),
        }
      : null,
    requestReason: r.reason ? plainText(r.reason, 2000) : null,
    service: r.service ?? null,
    zone: r.zone ?? null,
    ifPending: r.ifPending ?? null,
    pending: facts.pending ?? null,
    code: facts.code,
    message: plainText(facts.message, 4000),
    retryable: facts.outcome === 'failed' ? (facts.retryable ?? false) : null,
    ovhQueryId: facts.queryId ?? null,
    refresh: facts.refresh ?? null,
    requestedAt: r.requestedAt ?? null,
    decidedAt: now.toISOString(),
  };
  return { detailType: ZONE_REFRESH_DETAIL_TYPE[facts.outcome], detail, dedupeKey: auditId };
};

const done = (
  deps: ZoneRefreshDeps,
  record: IncomingZoneRefresh,
  facts: Facts,
  ownKey?: string,
): Verdict => ({
  kind: 'done',
  event: zoneRefreshEvent(record, facts, deps.clock.now(), ownKey),
  ...(ownKey ? { ownKey } : {}),
});

/** Claims the refresh: `claimed` to go on, or what to do instead (a duplicate, a resumed outbox, a reused id). */
async function claimRefresh(
  deps: ZoneRefreshDeps,
  record: IncomingZoneRefresh,
): Promise<Verdict | 'claimed'> {
  const { parsed } = record;
  const now = deps.clock.now();
  const hash = parsed.ok ? parsed.contentHash : undefined;
  const claim = await deps.idempotency.claim(parsed.key, now, deps.claimHoldMs, {
    ...(hash ? { contentHash: hash } : {}),
    sentAt: record.sentAt,
  });
  switch (claim.state) {
    case 'claimed':
      return 'claimed';
    case 'decided':
      return { kind: 'resume', events: claim.events };
    case 'in-progress':
      return { kind: 'unfinished', reason: 'another invocation was working on it', claimHeld: false };
    case 'reused': {
      if (!hash) return { kind: 'duplicate' };
      // Another refresh under a refreshId already used: refused once (a key of its own), the first kept.
      const ownKey = `${parsed.key}#reused:${hash.slice(0, 16)}`;
      const second = await deps.idempotency.claim(ownKey, now, deps.claimHoldMs, {
        contentHash: hash,
        sentAt: record.sentAt,
      });
      if (second.state === 'decided') return { kind: 'resume', events: second.events, ownKey };
      if (second.state !== 'claimed') return { kind: 'duplicate' };
      return done(
        deps,
        record,
        {
          outcome: 'refused',
          code: 'id-reused',
          message:
            'refused: this refreshId was first used for another refresh, which stays as it was; a new refresh needs a new refreshId',
        },
        ownKey,
      );
    }
    default:
      return { kind: 'duplicate' };
  }
}

/** Takes the load balancer's lease, waiting a little (lease wait, within the deadline) while another batch holds it. */
async function takeLease(
  deps: ZoneRefreshDeps,
  service: string,
  deadline: number,
): Promise<Lease | undefined> {
  const startedAt = deps.clock.now().getTime();
  const until = Math.min(startedAt + (deps.leaseWaitMs ?? 0), deadline - deps.timing.zoneBudgetMs);
  let lease = await deps.leases.acquire([service], deps.clock.now(), deps.claimHoldMs);
  for (let step = 250; !lease.services.has(service); step = Math.min(2 * step, 4_000)) {
    if (deps.clock.now().getTime() + step > until) return undefined;
    await deps.clock.sleep(step);
    lease = await deps.leases.acquire([service], deps.clock.now(), deps.claimHoldMs);
  }
  return lease;
}

/** The zones of the service, or the refusal when the service or the zone does not exist. */
async function zonesOrRefusal(
  deps: ZoneRefreshDeps,
  refresh: ZoneRefreshRequestedDetail,
): Promise<{ refusal: Facts } | { zones: string[] }> {
  let zones: string[];
  try {
    zones = await deps.api.listZones(refresh.service);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    return {
      refusal: {
        outcome: 'refused',
        code: 'unknown-service',
        message: `refused: load balancer ${refresh.service} does not exist (or these credentials cannot see it); nothing applied`,
      },
    };
  }
  if (refresh.zone !== ALL_ZONES && !zones.includes(refresh.zone))
    return {
      refusal: {
        outcome: 'refused',
        code: 'unknown-zone',
        message: `refused: ${refresh.service} has no zone '${refresh.zone}' (its zones: ${zones.join(', ') || 'none'}, or all); nothing applied`,
      },
    };
  return { zones };
}

/**
 * How long an operator's look at a zone stays good for: a refresh carried out later is refused
 * `stale` (what the zone holds by then was never looked at).
 */
export const REFRESH_LOOK_MAX_AGE_MS = 60 * 60_000;
/** The operator's clock against OVH's, when telling whether a refresh ended after the look. */
const LOOK_SLACK_MS = 30_000;
/** The newest done refreshes looked at: when all of them ended after the look, it is refused. */
const NEWEST_REFRESHES = 20;

/** A refresh whose look or request is in the future, or whose look is over an hour old: refused. */
function timeRefusal(refresh: ZoneRefreshRequestedDetail, now: Date): Facts | undefined {
  const t = now.getTime();
  const skew = DEFAULT_TIME_LIMITS.maxClockSkewMs;
  const looked = Date.parse(refresh.lookedAt);
  if (looked > t + skew || Date.parse(refresh.requestedAt) > t + skew)
    return {
      outcome: 'refused',
      code: 'implausible-time',
      message: `refused: the count was read at ${refresh.lookedAt} and the refresh asked at ${refresh.requestedAt}, more than ${skew / 60_000} minutes ahead of the worker's clock (${now.toISOString()}): check the publisher's clock; nothing applied`,
    };
  if (looked < t - REFRESH_LOOK_MAX_AGE_MS)
    return {
      outcome: 'refused',
      code: 'stale',
      message: `refused: the count was read at ${refresh.lookedAt}, more than ${REFRESH_LOOK_MAX_AGE_MS / 60_000} minutes before the worker came to it (${now.toISOString()}): what the zone holds now was never looked at; nothing applied. Look again ('stickler refresh ${refresh.service} ${refresh.zone}')`,
    };
  return undefined;
}

/**
 * Whether the zone was applied since the operator looked (a refresh covering it ended after
 * `lookedAt`): what it holds now, even as many changes, is then not what they approved. True
 * too when it cannot be told (the newest refreshes all ended since).
 */
async function appliedSinceLook(deps: ZoneRefreshDeps, refresh: ZoneRefreshRequestedDetail) {
  const { service, zone } = refresh;
  const ids = (await deps.api.listTasks(service, { action: REFRESH_TASK_ACTION, status: 'done' }))
    .sort((a, b) => b - a)
    .slice(0, NEWEST_REFRESHES);
  const tasks = await Promise.all(ids.map((id) => deps.api.getTask(service, id)));
  const since = Date.parse(refresh.lookedAt) - LOOK_SLACK_MS;
  const ended = tasks.filter((t) => t.doneDate !== null && Date.parse(t.doneDate) >= since);
  const covering = ended.find(
    (t) =>
      zone === ALL_ZONES || t.zones.length === 0 || t.zones.includes(zone) || t.zones.includes(ALL_ZONES),
  );
  if (covering) return `refresh task ${covering.id} applied it at ${covering.doneDate}`;
  if (ids.length === NEWEST_REFRESHES && ended.length === ids.length)
    return `its ${NEWEST_REFRESHES} newest refreshes all ended since, and whether one applied it cannot be told`;
  return undefined;
}

/** Under the lease: compares the zone's count with the approved one, and refreshes it when they agree. */
async function refreshUnderLease(
  deps: ZoneRefreshDeps,
  refresh: ZoneRefreshRequestedDetail,
  deadline: number,
): Promise<Facts | { unfinished: string }> {
  const { service, zone, ifPending } = refresh;
  const known = await zonesOrRefusal(deps, refresh);
  if ('refusal' in known) return known.refusal;
  const zoneApplier = makeApplyZone({ api: deps.api, clock: deps.clock });
  const pending = await zoneApplier.pendingIn(service, zone);
  if (pending === 0)
    return {
      outcome: 'unchanged',
      code: 'nothing-pending',
      message: `zone ${zone} of ${service} holds no unapplied change any more (${ifPending} approved): nothing to apply`,
      pending,
    };
  if (pending !== ifPending)
    return {
      outcome: 'refused',
      code: 'changed-since',
      message: `refused: zone ${zone} of ${service} holds ${pending} unapplied change(s), not the ${ifPending} approved: ${pending > ifPending ? 'someone wrote there since' : 'some were applied since'}; nothing applied. Look again ('stickler refresh ${service} ${zone}') and approve what it holds now`,
      pending,
    };
  const applied = await appliedSinceLook(deps, refresh);
  if (applied)
    return {
      outcome: 'refused',
      code: 'changed-since',
      message: `refused: zone ${zone} of ${service} was applied since the count was read (${refresh.lookedAt}): ${applied}; the ${pending} change(s) it holds now were never approved; nothing applied. Look again ('stickler refresh ${service} ${zone}')`,
      pending,
    };
  if (deps.clock.now().getTime() + deps.timing.zoneBudgetMs > deadline)
    return { unfinished: 'no time left in this invocation for a zone refresh' };
  const outcome = await zoneApplier.applyZone(service, zone, pending, { ...deps.timing, deadline });
  const last = outcome.attempts.at(-1);
  const ref = last ? { zone, taskId: last.taskId, status: last.status } : null;
  if (outcome.applied) {
    await forgetOwnUnapplied(deps, service, zone === ALL_ZONES ? known.zones : [zone]);
    return {
      outcome: 'applied',
      code: 'applied',
      message: `zone ${zone} of ${service} applied (${pending} change(s))`,
      pending,
      refresh: ref,
    };
  }
  return {
    outcome: 'failed',
    code: outcome.outcomeUnknown ? 'outcome-unknown' : 'refresh-failed',
    message: `zone ${zone} of ${service} ${outcome.outcomeUnknown ? 'may not be applied: the refresh was asked but how it ended could not be told' : 'NOT applied'}: ${outcome.error ?? 'unknown error'} ('stickler show ${service}' tells what the zone holds)`,
    retryable: !outcome.outcomeUnknown,
    ...(outcome.queryId ? { queryId: outcome.queryId } : {}),
    pending,
    refresh: ref,
  };
}

/** Stickler's own record of unapplied writes in these zones is stale once they are applied. */
async function forgetOwnUnapplied(deps: ZoneRefreshDeps, service: string, zones: readonly string[]) {
  for (const zone of zones)
    await deps.unapplied.forget(service, zone).catch((error: unknown) =>
      deps.log.warn('could not forget the record of a refreshed zone; it expires on its own', {
        service,
        zone,
        error: errorFields(error),
      }),
    );
}

/** Decides one refresh: claim, check its door, take the lease, refresh. */
async function decide(
  deps: ZoneRefreshDeps,
  record: IncomingZoneRefresh,
  deadline: number,
): Promise<Verdict> {
  const claimed = await claimRefresh(deps, record);
  if (claimed !== 'claimed') return claimed;
  const { parsed } = record;
  if (!parsed.ok)
    return done(deps, record, {
      outcome: 'refused',
      code: parsed.message.startsWith('replayed') ? 'replayed' : 'invalid-refresh',
      message: `refused: ${parsed.message}`,
    });
  if (!(STICKLER_DOORS as readonly string[]).includes(parsed.origin.source))
    return done(deps, record, {
      outcome: 'refused',
      code: 'not-allowed',
      message: `refused: only stickler's own doors (${STICKLER_DOORS.join(', ')}) may ask for a zone refresh; '${parsed.origin.source.slice(0, 64)}' may not`,
    });
  const untimely = timeRefusal(parsed.refresh, deps.clock.now());
  if (untimely) return done(deps, record, untimely);
  const lease = await takeLease(deps, parsed.refresh.service, deadline);
  if (!lease)
    return {
      kind: 'unfinished',
      reason: `the lease of ${parsed.refresh.service} is held by another batch`,
      claimHeld: true,
    };
  try {
    const facts = await refreshUnderLease(deps, parsed.refresh, deadline);
    if ('unfinished' in facts) return { kind: 'unfinished', reason: facts.unfinished, claimHeld: true };
    return done(deps, record, facts);
  } finally {
    await deps.leases.release(lease).catch((error: unknown) =>
      deps.log.warn('could not release a service lease; it expires on its own', {
        error: errorFields(error),
      }),
    );
  }
}

/** What a failure thrown while deciding means: hand the refresh back (retryable), or its final failure. */
const verdictOfError = (deps: ZoneRefreshDeps, record: IncomingZoneRefresh, error: unknown): Verdict => {
  const facts = errorFacts(error);
  deps.log.error('a zone refresh could not be carried out now', {
    key: record.parsed.key,
    retryable: facts.retryable,
    error: errorFields(error),
  });
  if (facts.retryable)
    return { kind: 'unfinished', reason: `it could not be carried out: ${facts.reason}`, claimHeld: true };
  return done(deps, record, {
    outcome: 'failed',
    code: 'ovh-error',
    message: `failed: ${facts.reason}; nothing applied`,
    retryable: false,
    ...(facts.queryId ? { queryId: facts.queryId } : {}),
  });
};

/**
 * An unfinished refresh: handed back (its claim released) with a short growing delay, or, on the
 * queue's last receive, its final `Failed dead-lettered`.
 */
async function unfinished(
  deps: ZoneRefreshDeps,
  record: IncomingZoneRefresh,
  verdict: Extract<Verdict, { kind: 'unfinished' }>,
): Promise<Verdict | { retry: number }> {
  if (unfinishedDisposition(record.receiveCount, deps.maxReceiveCount) === 'retry') {
    if (verdict.claimHeld) await deps.idempotency.release(record.parsed.key).catch(() => undefined);
    return { retry: retryDelaySeconds(record.receiveCount) };
  }
  return done(deps, record, {
    outcome: 'failed',
    code: 'dead-lettered',
    message: `gave up after ${record.receiveCount} attempts: ${verdict.reason}; nothing applied`,
    retryable: true,
  });
}

/** Carries out one refresh record: its verdict, then its audit event out (or the record handed back). */
async function carryOutRefresh(
  deps: ZoneRefreshDeps,
  record: IncomingZoneRefresh,
  deadline: number,
): Promise<RecordDone> {
  let verdict: Verdict | { retry: number } = await decide(deps, record, deadline).catch((error: unknown) =>
    verdictOfError(deps, record, error),
  );
  if ('kind' in verdict && verdict.kind === 'unfinished') verdict = await unfinished(deps, record, verdict);
  if ('retry' in verdict) return { fate: 'retry', retryDelaySeconds: verdict.retry, published: [] };
  if (verdict.kind === 'duplicate' || verdict.kind === 'unfinished')
    return { fate: 'duplicate', published: [] };
  const events = verdict.kind === 'done' ? [verdict.event] : verdict.events;
  const key = verdict.ownKey ?? record.parsed.key;
  const out = await flushOutbox(deps, [
    { key, events, after: { kind: 'complete' }, persist: verdict.kind === 'done' },
  ]);
  if (out.finished.get(key) === 'pending')
    return {
      fate: 'audit-pending',
      retryDelaySeconds: retryDelaySeconds(record.receiveCount),
      published: out.published,
    };
  return {
    fate: (events[0]?.detail as { outcome?: ZoneRefreshOutcome } | undefined)?.outcome ?? 'duplicate',
    published: out.published,
  };
}

/** Builds the use case: `processZoneRefreshes(records, { deadline })`. */
export function makeProcessZoneRefreshes(deps: ZoneRefreshDeps) {
  return async function processZoneRefreshes(
    records: readonly IncomingZoneRefresh[],
    options: { deadline: number },
  ): Promise<ProcessResult> {
    return eachRecordOnce(records, (record) => carryOutRefresh(deps, record, options.deadline));
  };
}
