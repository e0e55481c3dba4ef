/**
 * The queue worker's use case: a batch of queued `Stickiness Change Requested` events in, one
 * terminal audit event per request out, and the list of records the queue must deliver again.
 *
 * - A malformed record is refused (audited) and acknowledged: it is never retried forever.
 * - A request already completed (a redelivery) is acknowledged and emits nothing new.
 * - The batch's valid requests are applied together: latest per farm wins, one refresh per
 *   touched (service, zone); a request older than one already carried out for its farm (the
 *   queue keeps no order) is refused as superseded.
 * - A retryable failure is handed back to the queue; on its last receive it is audited as failed
 *   and handed back once more, so that the queue moves it to its dead-letter queue (a redrive
 *   processes it afresh).
 * - A request whose audit events could not all be published is handed back too; its outcome
 *   is kept in the idempotency store, so the retry publishes it without applying again.
 */
import type { ChangeRequest } from '../domain/change-request';
import { describeIssues } from '../domain/describe-issue';
import {
  type ChangeRequestedDetail,
  ChangeRequestedDetailSchema,
  DETAIL_TYPES,
  EventBridgeEnvelopeSchema,
  type Outcome,
  type OutgoingEvent,
} from '../domain/events';
import { farmKey } from '../domain/farm';
import { toWire } from '../domain/stickiness';
import type { Clock } from '../ports/clock';
import type { EventPublisher } from '../ports/event-publisher';
import type { FarmLedger } from '../ports/farm-ledger';
import type { IdempotencyStore } from '../ports/idempotency-store';
import type { Log } from '../ports/log';
import type { ApplyOptions } from './apply-plan';
import type { RequestsResult } from './apply-requests';
import { auditDetail, auditEvent, outcomesByRequest, zoneAppliedEvents } from './audit';

export interface QueueRecord {
  /** The queue's id for the message (SQS messageId), used to report batch item failures. */
  id: string;
  body: string;
  /** How many times the queue has delivered this message, this time included. */
  receiveCount: number;
}

export interface ProcessDeps {
  applyRequests: (requests: readonly ChangeRequest[], options?: ApplyOptions) => Promise<RequestsResult>;
  publisher: EventPublisher;
  idempotency: IdempotencyStore;
  /** Newest request carried out per farm: an older request arriving later is refused. */
  ledger: FarmLedger;
  clock: Clock;
  log: Log;
  applyOptions: ApplyOptions;
  /** The queue's maxReceiveCount: the receive on which a retryable failure becomes final. */
  maxReceiveCount: number;
  /** How long a claim holds a request against a concurrent delivery (the function timeout). */
  claimHoldMs: number;
}

export type RecordFate = Outcome | 'duplicate' | 'retry' | 'audit-pending' | 'dead-letter';

export interface ProcessResult {
  /** Records the queue must deliver again. */
  failedRecordIds: string[];
  fates: Map<string, RecordFate>;
  published: OutgoingEvent[];
}

type Parsed =
  | { ok: true; key: string; request: ChangeRequestedDetail }
  | { ok: false; key: string; message: string; detail?: Record<string, unknown> };

/** Reads one record as an EventBridge `Stickiness Change Requested` event. */
export const parseRecord = (record: QueueRecord): Parsed => {
  let json: unknown;
  try {
    json = JSON.parse(record.body);
  } catch {
    return { ok: false, key: `record:${record.id}`, message: 'message body is not JSON' };
  }
  const envelope = EventBridgeEnvelopeSchema.safeParse(json);
  if (!envelope.success) {
    return {
      ok: false,
      key: `record:${record.id}`,
      message: `not an EventBridge event: ${describeIssues(envelope.error.issues, json)}`,
    };
  }
  const raw = envelope.data.detail;
  const detail = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : undefined;
  const key =
    typeof detail?.requestId === 'string' && detail.requestId
      ? detail.requestId
      : `event:${envelope.data.id}`;
  if (envelope.data['detail-type'] !== DETAIL_TYPES.changeRequested) {
    return { ok: false, key, message: `unexpected detail-type '${envelope.data['detail-type']}'`, detail };
  }
  const parsed = ChangeRequestedDetailSchema.safeParse(raw);
  if (!parsed.success)
    return {
      ok: false,
      key,
      message: `invalid change request: ${describeIssues(parsed.error.issues, raw, (path) => path[0] === 'notify')}`,
      detail,
    };
  return { ok: true, key, request: parsed.data };
};

/** The audit event refusing a well-formed request before anything was read or written. */
const refusal = (r: ChangeRequestedDetail, code: string, message: string, now: Date): OutgoingEvent =>
  auditEvent(
    auditDetail(
      r,
      {
        outcome: 'refused',
        ref: { service: r.service, type: r.farmType, farmId: r.farmId },
        after: toWire(r.stickiness),
        code,
        message,
        retryable: false,
      },
      now,
      r.requestId,
    ),
  );

const outsideWindow = (request: ChangeRequestedDetail, now: Date): string | undefined => {
  const t = now.getTime();
  if (request.window?.notBefore && t < Date.parse(request.window.notBefore)) {
    return `its change window opens at ${request.window.notBefore}`;
  }
  if (request.window?.notAfter && t > Date.parse(request.window.notAfter)) {
    return `its change window closed at ${request.window.notAfter}`;
  }
  return undefined;
};

export const makeProcessChangeRequests =
  (deps: ProcessDeps) =>
  async (records: readonly QueueRecord[], options: { signal?: AbortSignal } = {}): Promise<ProcessResult> => {
    const { idempotency, clock, log } = deps;
    const now = clock.now();
    const fates = new Map<string, RecordFate>();
    const failed = new Set<string>();

    // One primary record per key; copies in the same batch share its fate.
    const primaries = new Map<string, { record: QueueRecord; parsed: Parsed; copies: QueueRecord[] }>();
    for (const record of records) {
      const parsed = parseRecord(record);
      const existing = primaries.get(parsed.key);
      if (existing) existing.copies.push(record);
      else primaries.set(parsed.key, { record, parsed, copies: [] });
    }
    const settle = (key: string, fate: RecordFate, retry: boolean) => {
      const entry = primaries.get(key)!;
      for (const r of [entry.record, ...entry.copies]) {
        fates.set(r.id, r === entry.record ? fate : 'duplicate');
        if (retry) failed.add(r.id);
      }
    };

    // Claim every key; completed ones are redeliveries and emit nothing new.
    const claimed: string[] = [];
    const toPublish = new Map<string, OutgoingEvent[]>();
    await Promise.all(
      [...primaries.keys()].map(async (key) => {
        try {
          const claim = await idempotency.claim(key, now, deps.claimHoldMs);
          if (claim.state === 'completed') settle(key, 'duplicate', false);
          else if (claim.state === 'in-progress') settle(key, 'retry', true);
          else if (claim.state === 'decided') toPublish.set(key, claim.events);
          else claimed.push(key);
        } catch (error) {
          log.error('idempotency claim failed; the record will be retried', { key, error: String(error) });
          settle(key, 'retry', true);
        }
      }),
    );

    /** deadLetter: audited as failed, then handed to the queue's dead-letter queue (redrive retries it). */
    const decided = new Map<string, { fate: Outcome; events: OutgoingEvent[]; deadLetter?: boolean }>();
    const valid: ChangeRequestedDetail[] = [];
    for (const key of claimed) {
      const { parsed } = primaries.get(key)!;
      if (!parsed.ok) {
        // Keep what can be trusted of a malformed request, so the audit trail says whose it was.
        const d = parsed.detail;
        const detail = auditDetail(
          undefined,
          {
            outcome: 'refused',
            ref: {
              ...(typeof d?.service === 'string' ? { service: d.service } : {}),
              ...(typeof d?.farmId === 'number' ? { farmId: d.farmId } : {}),
            },
            code: 'invalid-request',
            message: parsed.message,
            retryable: false,
          },
          now,
          key,
        );
        if (typeof d?.ticket === 'string') detail.ticket = d.ticket;
        decided.set(key, { fate: 'refused', events: [auditEvent(detail)] });
        continue;
      }
      const closed = outsideWindow(parsed.request, now);
      if (closed) {
        decided.set(key, {
          fate: 'refused',
          events: [refusal(parsed.request, 'outside-window', `refused: ${closed}`, now)],
        });
        continue;
      }
      valid.push(parsed.request);
    }

    // A standard queue keeps no order: never let an older request undo a newer one already done.
    const farmOf = (r: ChangeRequestedDetail) =>
      farmKey({ service: r.service, type: r.farmType, farmId: r.farmId });
    let current: ChangeRequestedDetail[] = valid;
    if (valid.length > 0) {
      try {
        const done = await deps.ledger.latest(valid.map(farmOf));
        current = [];
        for (const r of valid) {
          const newer = done.get(farmOf(r));
          if (
            !newer ||
            newer.requestId === r.requestId ||
            Date.parse(newer.requestedAt) <= Date.parse(r.requestedAt)
          ) {
            current.push(r);
            continue;
          }
          const message = `superseded by request ${newer.requestId} (requested ${newer.requestedAt}), already carried out for this farm`;
          decided.set(r.requestId, { fate: 'refused', events: [refusal(r, 'superseded', message, now)] });
        }
      } catch (error) {
        log.error('could not read the farm ledger; the batch will be retried', { error: String(error) });
        await Promise.all(valid.map((r) => idempotency.release(r.requestId).catch(() => undefined)));
        for (const r of valid) settle(r.requestId, 'retry', true);
        current = [];
      }
    }

    if (current.length > 0) {
      let result: RequestsResult | undefined;
      try {
        // The signal (the invocation running out of time) stops zones from starting, and failed
        // refreshes from being tried again: requests of zones not started come back as retryable
        // failures and are handed back to the queue below; a started zone ends applied or failed.
        result = await deps.applyRequests(
          current,
          options.signal
            ? { ...deps.applyOptions, signal: options.signal, noMoreAttempts: options.signal }
            : deps.applyOptions,
        );
      } catch (error) {
        log.error('applying the batch failed; its requests will be retried', { error: String(error) });
      }
      const outcomes = result ? outcomesByRequest(result.report) : new Map();
      const zoneEvents = result ? zoneAppliedEvents(result.report, now) : [];
      // Ledger records and released claims go to DynamoDB together, not one round trip per request.
      const bookkeeping: Promise<unknown>[] = [];
      for (const request of current) {
        const facts = outcomes.get(request.requestId);
        const retryable = !facts || (facts.outcome === 'failed' && facts.retryable === true);
        const receiveCount = primaries.get(request.requestId)!.record.receiveCount;
        if (retryable && receiveCount < deps.maxReceiveCount) {
          log.warn('change request failed for a retryable reason; handing it back to the queue', {
            requestId: request.requestId,
            receiveCount,
            reason: facts?.message ?? 'the batch could not be applied',
          });
          bookkeeping.push(idempotency.release(request.requestId).catch(() => undefined));
          settle(request.requestId, 'retry', true);
          continue;
        }
        const final =
          facts ??
          ({
            outcome: 'failed',
            ref: { service: request.service, type: request.farmType, farmId: request.farmId },
            code: 'apply-failed',
            message: 'the batch could not be applied',
            retryable: true,
          } as const);
        const detail = auditDetail(request, final, now, request.requestId);
        if (retryable) {
          detail.message = `gave up after ${receiveCount} attempts (the queue's last receive), the message goes to the dead-letter queue; redrive it to try again: ${detail.message}`;
        }
        const events = [auditEvent(detail)];
        // A zone event travels with the first request it carried.
        for (const z of zoneEvents) {
          if ((z.detail as { requestIds: string[] }).requestIds[0] === request.requestId) events.push(z);
        }
        decided.set(request.requestId, { fate: final.outcome, events, deadLetter: retryable });
        if (final.outcome === 'applied' || final.outcome === 'unchanged') {
          bookkeeping.push(
            deps.ledger
              .record(farmOf(request), { requestId: request.requestId, requestedAt: request.requestedAt })
              .catch((error: unknown) =>
                log.error('could not record the request in the farm ledger', {
                  requestId: request.requestId,
                  error: String(error),
                }),
              ),
          );
        }
      }
      await Promise.all(bookkeeping);
    }

    // Remember each outcome before publishing it: if publishing fails, the retry re-publishes.
    await Promise.all(
      [...decided].map(async ([key, { events, deadLetter }]) => {
        // A dead-lettered request is not done: a redrive must process it again, not re-publish.
        if (deadLetter) {
          toPublish.set(key, events);
          return;
        }
        try {
          await idempotency.decide(key, events, now);
        } catch (error) {
          log.error('could not record the outcome; publishing it anyway', { key, error: String(error) });
        }
        toPublish.set(key, events);
      }),
    );

    const all = [...toPublish.values()].flat();
    const { failed: unpublished } = all.length > 0 ? await deps.publisher.publish(all) : { failed: [] };
    const unpublishedKeys = new Set(unpublished.map((e) => e.dedupeKey));
    await Promise.all(
      [...toPublish].map(async ([key, events]) => {
        const fate = decided.get(key)?.fate ?? 'duplicate';
        const unsent = events.filter((e) => unpublishedKeys.has(e.dedupeKey));
        if (decided.get(key)?.deadLetter) {
          if (unsent.length > 0)
            log.error('the failed audit of a dead-lettered request was not published', { key });
          await idempotency.release(key).catch(() => undefined);
          settle(key, 'dead-letter', true);
          return;
        }
        if (unsent.length > 0) {
          log.error('audit events could not be published; the record will be retried', {
            key,
            unsent: unsent.length,
          });
          // The retry publishes only what did not go out, so consumers never see an event twice.
          await idempotency
            .decide(key, unsent, now)
            .catch((error: unknown) =>
              log.error('could not record which events are left to publish', { key, error: String(error) }),
            );
          settle(key, 'audit-pending', true);
          return;
        }
        await idempotency
          .complete(key, now)
          .catch((error: unknown) =>
            log.error('could not mark the request completed', { key, error: String(error) }),
          );
        settle(key, fate, false);
      }),
    );

    return {
      failedRecordIds: records.filter((r) => failed.has(r.id)).map((r) => r.id),
      fates,
      published: all.filter((e) => !unpublishedKeys.has(e.dedupeKey)),
    };
  };
