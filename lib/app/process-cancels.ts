/**
 * The queue worker's cancels: `Stickiness Change Cancel Requested` records in (a request id, or a
 * ticket whose approval was withdrawn), and for every request still waiting for its change window
 * that the cancel names and may end: `Stickiness Change Cancelled` (its terminal audit event), its
 * schedule deleted, and its farm's order forgetting it. What cannot be ended (not waiting any
 * more, unknown, not the canceller's to end) is said in `Stickiness Change Cancel Refused`.
 *
 * Who may cancel what: a cancel published by the same source as the request (a system cancels its
 * own requests), or by one of stickler's own doors (the CLI, Slack, the ticket webhook), which
 * authenticate their users and which no other publisher may impersonate. A ticket's cancel ends
 * only the requests its own ticket webhook published for that ticket.
 *
 * Each cancel is claimed like a request (`cancel:<cancelId>`), so the same cancel published
 * twice is carried out once; a cancel that cannot be finished is handed back, and audited on the
 * queue's last receive. A cancel runs after the batch's change requests, so a request deferred in
 * the same batch can be cancelled by it.
 */

import type { CancelRefusedDetail, OutgoingEvent, RequestOrigin } from '../domain/audit-events';
import { farmRefOf } from '../domain/change-request';
import { errorFields } from '../domain/errors';
import { AUDIT_SCHEMA_VERSION, type CancelRequestedDetail, DETAIL_TYPES } from '../domain/events';
import { farmKeyOfRequest, retryDelaySeconds, unfinishedDisposition } from '../domain/request-rules';
import { toWire } from '../domain/stickiness';
import { plainText } from '../domain/text';
import type { Clock } from '../ports/clock';
import type { DeferralScheduler } from '../ports/deferral-scheduler';
import type { EventPublisher } from '../ports/event-publisher';
import type { FarmLedger } from '../ports/farm-ledger';
import type { DeferredRequest, IdempotencyStore } from '../ports/idempotency-store';
import type { Log } from '../ports/log';
import { auditDetail, auditEvent } from './audit';
import { flushOutbox, type Outbound, type OutboxResult } from './audit-outbox';
import { TICKETING_EVENT_SOURCE } from './handle-ticket-webhook';
import type { IncomingCancel } from './incoming-record';
import type { ProcessResult, RecordFate } from './process-change-requests';
import { eachRecordOnce } from './record-batch';

/** stickler's own doors: each authenticates its users, and the publisher policy forbids their sources to anyone else. */
export const STICKLER_DOORS = ['stickler.cli', 'stickler.slack', TICKETING_EVENT_SOURCE] as const;

export interface CancelDeps {
  idempotency: IdempotencyStore;
  ledger: FarmLedger;
  deferrals: DeferralScheduler;
  publisher: EventPublisher;
  clock: Clock;
  log: Log;
  maxReceiveCount: number;
  claimHoldMs: number;
}

type Verdict =
  | {
      kind: 'done';
      events: OutgoingEvent[];
      ended: { requestId: string; until: string; farm: string }[];
      /** The record the cancel's own outcome is kept under, when not its own key (a reused cancelId). */
      ownKey?: string;
    }
  | { kind: 'duplicate' }
  | { kind: 'resume'; events: OutgoingEvent[]; ownKey?: string }
  | { kind: 'unfinished'; reason: string; claimHeld: boolean };

/** Why `origin` may not cancel a request published by `target`, or undefined when it may. */
export const cancelNotAllowed = (
  origin: RequestOrigin | undefined,
  target: RequestOrigin | null,
): string | undefined => {
  const source = origin?.source;
  if (!source) return 'the cancel names no source';
  if ((STICKLER_DOORS as readonly string[]).includes(source)) return undefined;
  if (target && target.source === source) return undefined;
  return `a cancel from '${source.slice(0, 64)}' may end only that source's own requests (this one came from '${(target?.source ?? 'unknown').slice(0, 64)}')`;
};

const refusedEvent = (
  record: IncomingCancel,
  cancel: CancelRequestedDetail | undefined,
  target: string | null,
  code: string,
  message: string,
  now: Date,
): OutgoingEvent => {
  const auditId = `${record.parsed.key}:refused:${target ?? 'cancel'}`;
  const detail: CancelRefusedDetail = {
    schemaVersion: AUDIT_SCHEMA_VERSION,
    auditId,
    cancelId: cancel?.cancelId ?? null,
    requestId: target ?? cancel?.requestId ?? null,
    ticket: cancel?.ticket ?? null,
    origin: record.parsed.origin ?? null,
    actor: cancel
      ? {
          kind: cancel.actor.kind,
          id: plainText(cancel.actor.id, 256),
          ...(cancel.actor.name ? { name: plainText(cancel.actor.name, 256) } : {}),
        }
      : null,
    reason: cancel?.reason ? plainText(cancel.reason, 2000) : null,
    code,
    message: plainText(message, 4000),
    decidedAt: now.toISOString(),
  };
  return { detailType: DETAIL_TYPES.cancelRefused, detail, dedupeKey: auditId };
};

/** The `Stickiness Change Cancelled` of a waiting request: its terminal audit event. */
const cancelledEvent = (
  requestId: string,
  stored: DeferredRequest,
  cancel: CancelRequestedDetail,
  now: Date,
): OutgoingEvent =>
  auditEvent(
    auditDetail(
      { requestId, request: stored.request, ...(stored.origin ? { origin: stored.origin } : {}), now },
      {
        outcome: 'cancelled',
        ref: farmRefOf(stored.request),
        after: toWire(stored.request.stickiness),
        code: 'cancelled',
        message: `cancelled by ${cancel.actor.id} before its change window (${stored.until}) opened${cancel.reason ? `: ${cancel.reason}` : ''} (cancel ${cancel.cancelId}); nothing was written`,
        retryable: false,
      },
    ),
  );

/** The farm's order forgets a waiting request that was cancelled (else it would supersede older ones). */
async function forgetWaiting(deps: CancelDeps, farm: string, requestId: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = (await deps.ledger.read([farm])).get(farm);
    if (current?.order.deferred?.requestId !== requestId) return;
    const { deferred: _cancelled, ...rest } = current.order;
    if (await deps.ledger.write(farm, rest, current.version, deps.clock.now())) return;
  }
}

type Ended = { requestId: string; until: string; farm: string };
type ParsedCancel = Extract<IncomingCancel['parsed'], { ok: true }>;

/**
 * Another cancel under a cancelId already used: refused, once (a key of its own), the first kept.
 */
async function reusedId(deps: CancelDeps, record: IncomingCancel, now: Date): Promise<Verdict> {
  const { parsed } = record;
  if (!parsed.ok) return { kind: 'duplicate' };
  const ownKey = `${parsed.key}#reused:${parsed.contentHash.slice(0, 16)}`;
  const second = await deps.idempotency.claim(ownKey, now, deps.claimHoldMs, {
    contentHash: parsed.contentHash,
    sentAt: record.sentAt,
  });
  if (second.state === 'decided') return { kind: 'resume', events: second.events, ownKey };
  if (second.state !== 'claimed') return { kind: 'duplicate' };
  const event = refusedEvent(
    record,
    parsed.cancel,
    `id-reused:${parsed.contentHash.slice(0, 16)}`,
    'id-reused',
    `refused: cancelId ${parsed.cancel.cancelId} was first used for another cancel; this one (naming ${parsed.cancel.requestId ?? `ticket ${parsed.cancel.ticket?.key}`}) is not carried out. A new cancel needs a new cancelId`,
    now,
  );
  return { kind: 'done', events: [event], ended: [], ownKey };
}

/** The cancel's claim: undefined when it is this invocation's to carry out, else what to do instead. */
async function claimCancel(
  deps: CancelDeps,
  record: IncomingCancel,
  now: Date,
): Promise<Verdict | undefined> {
  const { parsed } = record;
  const claim = await deps.idempotency.claim(parsed.key, now, deps.claimHoldMs, {
    ...(parsed.ok ? { contentHash: parsed.contentHash } : {}),
    sentAt: record.sentAt,
  });
  switch (claim.state) {
    case 'reused':
      return reusedId(deps, record, now);
    case 'completed':
    case 'deferred':
      return { kind: 'duplicate' };
    case 'decided':
      return { kind: 'resume', events: claim.events };
    case 'in-progress':
      return { kind: 'unfinished', reason: 'another invocation was working on it', claimHeld: false };
    case 'claimed':
      return undefined;
  }
}

/** One request the cancel names: ended (its Cancelled event), or refused, or (a ticket's) skipped. */
async function endOne(
  deps: CancelDeps,
  record: IncomingCancel,
  parsed: ParsedCancel,
  target: string,
  now: Date,
): Promise<{ event?: OutgoingEvent; ended?: Ended }> {
  const { cancel } = parsed;
  const byTicket = cancel.ticket !== undefined;
  const stored = await deps.idempotency.deferred(target);
  if (!stored) {
    // A ticket's list keeps requests carried out or ended since: only the ones still waiting matter.
    if (byTicket) return {};
    const message = `request ${target} is not waiting for its change window (it was carried out, is being carried out, has ended, or is unknown): nothing to cancel`;
    return { event: refusedEvent(record, cancel, target, 'not-waiting', message, now) };
  }
  const why = byTicket
    ? stored.origin?.source === TICKETING_EVENT_SOURCE
      ? undefined
      : 'not a request of the ticket webhook'
    : cancelNotAllowed(parsed.origin, stored.origin);
  if (why) return { event: refusedEvent(record, cancel, target, 'not-allowed', `refused: ${why}`, now) };
  const event = cancelledEvent(target, stored, cancel, deps.clock.now());
  if (await deps.idempotency.closeDeferred(target, [event], deps.clock.now()))
    return {
      event,
      ended: { requestId: target, until: stored.until, farm: farmKeyOfRequest(stored.request) },
    };
  if (byTicket) return {};
  const message = `request ${target}'s window opened meanwhile: it is being carried out`;
  return { event: refusedEvent(record, cancel, target, 'not-waiting', message, now) };
}

async function decide(deps: CancelDeps, record: IncomingCancel): Promise<Verdict> {
  const now = deps.clock.now();
  const { parsed } = record;
  const claimed = await claimCancel(deps, record, now);
  if (claimed) return claimed;
  if (!parsed.ok)
    return {
      kind: 'done',
      events: [refusedEvent(record, undefined, null, 'invalid-cancel', `refused: ${parsed.message}`, now)],
      ended: [],
    };
  const { cancel } = parsed;
  const byTicket = cancel.ticket !== undefined;
  // A ticket's requests are ended by ticket only by stickler's own doors (the ticket webhook when
  // the ticket leaves its approved state): no other publisher may cancel, nor speak on, a ticket.
  if (byTicket && !(STICKLER_DOORS as readonly string[]).includes(parsed.origin.source)) {
    const message = `refused: only stickler's own doors cancel by ticket; '${parsed.origin.source.slice(0, 64)}' may cancel its own requests by requestId`;
    return {
      kind: 'done',
      events: [refusedEvent(record, cancel, null, 'not-allowed', message, now)],
      ended: [],
    };
  }
  const targets = byTicket
    ? await deps.idempotency.ticketDeferrals(`${cancel.ticket!.system}:${cancel.ticket!.key}`)
    : [cancel.requestId!];
  const outcomes: { event?: OutgoingEvent; ended?: Ended }[] = [];
  for (const target of targets) outcomes.push(await endOne(deps, record, parsed, target, now));
  const events = outcomes.flatMap((o) => (o.event ? [o.event] : []));
  const ended = outcomes.flatMap((o) => (o.ended ? [o.ended] : []));
  if (byTicket && ended.length === 0) {
    const message = `no request of ticket ${cancel.ticket!.key} is waiting for its change window: nothing to cancel`;
    events.push(refusedEvent(record, cancel, null, 'nothing-waiting', message, now));
  }
  return { kind: 'done', events, ended };
}

/** The cancel decided, or unfinished when deciding failed (its claim held, to be released on a retry). */
async function verdictOf(deps: CancelDeps, record: IncomingCancel): Promise<Verdict> {
  try {
    return await decide(deps, record);
  } catch (error) {
    deps.log.error('a cancel could not be carried out now; it will be retried', {
      key: record.parsed.key,
      error: errorFields(error),
    });
    return { kind: 'unfinished', reason: `it could not be carried out: ${String(error)}`, claimHeld: true };
  }
}

/** What became of one cancel record: its fate, whether the queue delivers it again, what went out. */
interface CancelFate {
  fate: RecordFate;
  retry: boolean;
  published: OutgoingEvent[];
}

/**
 * The cancel's own record keeps the refusals (a resumed one, all it had), each ended request's
 * record its Cancelled (stored by closeDeferred), so a retry publishes only what did not go out.
 */
function outboxItems(
  verdict: Extract<Verdict, { kind: 'done' | 'resume' }>,
  ownKey: string,
  ended: readonly Ended[],
): Outbound[] {
  const { events } = verdict;
  const own = events.filter((e) => e.detailType === DETAIL_TYPES.cancelRefused || verdict.kind === 'resume');
  return [
    { key: ownKey, events: own, after: { kind: 'complete' }, persist: verdict.kind === 'done' },
    ...ended.map((e) => ({
      key: e.requestId,
      events: events.filter(
        (ev) =>
          (ev.detail as { requestId?: string }).requestId === e.requestId &&
          ev.detailType === DETAIL_TYPES.cancelled,
      ),
      after: { kind: 'complete' as const },
      persist: false,
    })),
  ];
}

/** An ended request leaves its farm's order, and its schedule is deleted once its Cancelled is out. */
async function clearEnded(deps: CancelDeps, e: Ended, finished: OutboxResult['finished']): Promise<void> {
  await forgetWaiting(deps, e.farm, e.requestId).catch((error: unknown) =>
    deps.log.warn('could not clear a cancelled request from its farm order', {
      requestId: e.requestId,
      error: errorFields(error),
    }),
  );
  if (finished.get(e.requestId) === 'done')
    await deps.deferrals.cancel({ requestId: e.requestId, until: e.until }).catch((error: unknown) =>
      deps.log.warn('could not delete the schedule of a cancelled request; it fires and changes nothing', {
        requestId: e.requestId,
        error: errorFields(error),
      }),
    );
}

/** A decided (or resumed) cancel's events published, its ended requests cleared, and its fate. */
async function carryOut(
  deps: CancelDeps,
  record: IncomingCancel,
  verdict: Extract<Verdict, { kind: 'done' | 'resume' }>,
): Promise<CancelFate> {
  const ended = verdict.kind === 'done' ? verdict.ended : [];
  const ownKey = verdict.ownKey ?? record.parsed.key;
  const { finished, published } = await flushOutbox(deps, outboxItems(verdict, ownKey, ended));
  for (const e of ended) await clearEnded(deps, e, finished);
  if (finished.get(ownKey) === 'pending') return { fate: 'audit-pending', retry: true, published };
  const cancelled = verdict.events.some((e) => e.detailType === DETAIL_TYPES.cancelled);
  return { fate: cancelled ? 'cancelled' : 'refused', retry: false, published };
}

/** One cancel record, from its claim to its fate. */
async function processCancel(deps: CancelDeps, record: IncomingCancel): Promise<CancelFate> {
  const verdict = await verdictOf(deps, record);
  if (verdict.kind === 'duplicate') return { fate: 'duplicate', retry: false, published: [] };
  if (verdict.kind !== 'unfinished') return carryOut(deps, record, verdict);
  if (unfinishedDisposition(record.receiveCount, deps.maxReceiveCount) === 'retry') {
    if (verdict.claimHeld) await deps.idempotency.release(record.parsed.key).catch(() => undefined);
    return { fate: 'retry', retry: true, published: [] };
  }
  const deadLettered = refusedEvent(
    record,
    record.parsed.ok ? record.parsed.cancel : undefined,
    null,
    'dead-lettered',
    `gave up after ${record.receiveCount} attempts: ${verdict.reason}`,
    deps.clock.now(),
  );
  return carryOut(deps, record, { kind: 'done', events: [deadLettered], ended: [] });
}

/** Builds the use case: `processCancels(records)`. */
export function makeProcessCancels(deps: CancelDeps) {
  return async function processCancels(records: readonly IncomingCancel[]): Promise<ProcessResult> {
    return eachRecordOnce(records, async (record) => {
      const done = await processCancel(deps, record);
      return {
        fate: done.fate,
        published: done.published,
        ...(done.retry ? { retryDelaySeconds: retryDelaySeconds(record.receiveCount) } : {}),
      };
    });
  };
}
