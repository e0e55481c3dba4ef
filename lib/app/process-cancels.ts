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
import { flushOutbox, type Outbound } from './audit-outbox';
import { TICKETING_EVENT_SOURCE } from './handle-ticket-webhook';
import type { IncomingCancel } from './incoming-record';
import type { ProcessResult, RecordFate } from './process-change-requests';

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

async function decide(deps: CancelDeps, record: IncomingCancel): Promise<Verdict> {
  const now = deps.clock.now();
  const { parsed } = record;
  const claim = await deps.idempotency.claim(parsed.key, now, deps.claimHoldMs, {
    ...(parsed.ok ? { contentHash: parsed.contentHash } : {}),
    sentAt: record.sentAt,
  });
  switch (claim.state) {
    case 'reused': {
      // Another cancel under a cancelId already used: refused, once (a key of its own), the first kept.
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
    case 'completed':
    case 'deferred':
      return { kind: 'duplicate' };
    case 'decided':
      return { kind: 'resume', events: claim.events };
    case 'in-progress':
      return { kind: 'unfinished', reason: 'another invocation was working on it', claimHeld: false };
    case 'claimed':
      break;
  }
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
  if (byTicket && !(STICKLER_DOORS as readonly string[]).includes(parsed.origin.source))
    return {
      kind: 'done',
      events: [
        refusedEvent(
          record,
          cancel,
          null,
          'not-allowed',
          `refused: only stickler's own doors cancel by ticket; '${parsed.origin.source.slice(0, 64)}' may cancel its own requests by requestId`,
          now,
        ),
      ],
      ended: [],
    };
  const targets = byTicket
    ? await deps.idempotency.ticketDeferrals(`${cancel.ticket!.system}:${cancel.ticket!.key}`)
    : [cancel.requestId!];
  const events: OutgoingEvent[] = [];
  const ended: { requestId: string; until: string; farm: string }[] = [];
  for (const target of targets) {
    const stored = await deps.idempotency.deferred(target);
    if (!stored) {
      // A ticket's list keeps requests carried out or ended since: only the ones still waiting matter.
      if (!byTicket)
        events.push(
          refusedEvent(
            record,
            cancel,
            target,
            'not-waiting',
            `request ${target} is not waiting for its change window (it was carried out, is being carried out, has ended, or is unknown): nothing to cancel`,
            now,
          ),
        );
      continue;
    }
    const why = byTicket
      ? stored.origin?.source === TICKETING_EVENT_SOURCE
        ? undefined
        : 'not a request of the ticket webhook'
      : cancelNotAllowed(parsed.origin, stored.origin);
    if (why) {
      events.push(refusedEvent(record, cancel, target, 'not-allowed', `refused: ${why}`, now));
      continue;
    }
    const event = cancelledEvent(target, stored, cancel, deps.clock.now());
    if (await deps.idempotency.closeDeferred(target, [event], deps.clock.now())) {
      events.push(event);
      ended.push({ requestId: target, until: stored.until, farm: farmKeyOfRequest(stored.request) });
    } else if (!byTicket)
      events.push(
        refusedEvent(
          record,
          cancel,
          target,
          'not-waiting',
          `request ${target}'s window opened meanwhile: it is being carried out`,
          now,
        ),
      );
  }
  if (byTicket && ended.length === 0)
    events.push(
      refusedEvent(
        record,
        cancel,
        null,
        'nothing-waiting',
        `no request of ticket ${cancel.ticket!.key} is waiting for its change window: nothing to cancel`,
        now,
      ),
    );
  return { kind: 'done', events, ended };
}

/** Builds the use case: `processCancels(records)`. */
export function makeProcessCancels(deps: CancelDeps) {
  return async function processCancels(records: readonly IncomingCancel[]): Promise<ProcessResult> {
    const fates = new Map<string, RecordFate>();
    const retry: ProcessResult['retry'] = [];
    const published: OutgoingEvent[] = [];
    const seen = new Set<string>();
    for (const record of records) {
      if (seen.has(record.parsed.key)) {
        fates.set(record.recordId, 'duplicate');
        continue;
      }
      seen.add(record.parsed.key);
      let verdict: Verdict;
      try {
        verdict = await decide(deps, record);
      } catch (error) {
        deps.log.error('a cancel could not be carried out now; it will be retried', {
          key: record.parsed.key,
          error: errorFields(error),
        });
        verdict = {
          kind: 'unfinished',
          reason: `it could not be carried out: ${String(error)}`,
          claimHeld: true,
        };
      }
      if (verdict.kind === 'duplicate') {
        fates.set(record.recordId, 'duplicate');
        continue;
      }
      if (verdict.kind === 'unfinished') {
        if (unfinishedDisposition(record.receiveCount, deps.maxReceiveCount) === 'retry') {
          if (verdict.claimHeld) await deps.idempotency.release(record.parsed.key).catch(() => undefined);
          fates.set(record.recordId, 'retry');
          retry.push({ recordId: record.recordId, delaySeconds: retryDelaySeconds(record.receiveCount) });
          continue;
        }
        verdict = {
          kind: 'done',
          events: [
            refusedEvent(
              record,
              record.parsed.ok ? record.parsed.cancel : undefined,
              null,
              'dead-lettered',
              `gave up after ${record.receiveCount} attempts: ${verdict.reason}`,
              deps.clock.now(),
            ),
          ],
          ended: [],
        };
      }
      const events = verdict.kind === 'resume' ? verdict.events : verdict.events;
      const ended = verdict.kind === 'done' ? verdict.ended : [];
      // Each ended request's Cancelled is its own record's outcome (stored by closeDeferred); the
      // cancel's record keeps the refusals, so a retry publishes only what did not go out.
      const own = events.filter(
        (e) => e.detailType === DETAIL_TYPES.cancelRefused || verdict.kind === 'resume',
      );
      const ownKey = verdict.ownKey ?? record.parsed.key;
      const items: Outbound[] = [
        {
          key: ownKey,
          events: own,
          after: { kind: 'complete' },
          persist: verdict.kind === 'done',
        },
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
      const { finished, published: out } = await flushOutbox(deps, items);
      published.push(...out);
      for (const e of ended) {
        await forgetWaiting(deps, e.farm, e.requestId).catch((error: unknown) =>
          deps.log.warn('could not clear a cancelled request from its farm order', {
            requestId: e.requestId,
            error: errorFields(error),
          }),
        );
        if (finished.get(e.requestId) === 'done')
          await deps.deferrals.cancel({ requestId: e.requestId, until: e.until }).catch((error: unknown) =>
            deps.log.warn(
              'could not delete the schedule of a cancelled request; it fires and changes nothing',
              {
                requestId: e.requestId,
                error: errorFields(error),
              },
            ),
          );
      }
      const cancelled = events.some((e) => e.detailType === DETAIL_TYPES.cancelled);
      if (finished.get(ownKey) === 'pending') {
        fates.set(record.recordId, 'audit-pending');
        retry.push({ recordId: record.recordId, delaySeconds: retryDelaySeconds(record.receiveCount) });
      } else fates.set(record.recordId, cancelled ? 'cancelled' : 'refused');
    }
    return { retry, fates, published };
  };
}
