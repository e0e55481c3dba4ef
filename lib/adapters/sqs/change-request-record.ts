/**
 * Reads one SQS record of the change-request queue: SQS record → EventBridge envelope →
 * `Stickiness Change Requested` (or `Stickiness Change Cancel Requested`) detail. Never throws: whatever the body holds, the result names
 * a bounded idempotency key and either a request or why it is refused.
 */
import { createHash } from 'node:crypto';
import type { SQSRecord } from 'aws-lambda';
import type { IncomingCancel, IncomingRecord, ParsedCancel, ParsedRequest } from '../../app/incoming-record';
import type { RequestOrigin } from '../../domain/audit-events';
import { RECORD_KEYS, REQUEST_ID_PATTERN } from '../../domain/change-request';
import { describeIssues } from '../../domain/describe-issue';
import { CancelRequestedDetailSchema, ChangeRequestedDetailSchema, DETAIL_TYPES } from '../../domain/events';
import { type EventBridgeEnvelope, EventBridgeEnvelopeSchema } from '../eventbridge/envelope';

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 3)}...` : text);

/** JSON with its object keys sorted, at every depth: the same content always gives the same text. */
export const canonical = (value: unknown): string =>
  Array.isArray(value)
    ? `[${value.map(canonical).join(',')}]`
    : value !== null && typeof value === 'object'
      ? `{${Object.keys(value)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
          .join(',')}}`
      : JSON.stringify(value);

/**
 * What one request id stands for: the request's content, every field but `requestedAt` (a sender
 * publishing the same request again may stamp it anew). A later request with the same id and
 * another hash is refused (`id-reused`), never taken for the first.
 */
export const contentHashOf = (request: { requestedAt: string }): string => {
  const { requestedAt: _ignored, ...content } = request;
  return createHash('sha256').update(canonical(content)).digest('hex');
};

/**
 * What the worker reads of any SQS record besides its body: its id, how often it was received,
 * and when the queue took it (SQS always sets it; a record without one, hand-made, orders as
 * received now).
 */
export const recordMeta = (record: SQSRecord) => {
  const sent = Number(record.attributes?.SentTimestamp);
  return {
    recordId: record.messageId,
    receiveCount: Number(record.attributes?.ApproximateReceiveCount) || 1,
    sentAt: Number.isFinite(sent) && sent > 0 ? new Date(sent) : new Date(),
  };
};

/**
 * What every queued message is read as first: JSON, an EventBridge envelope, its origin (bounded)
 * and its detail as an object (empty when it is not one); or why it is none of these.
 */
export const readEnvelope = (
  body: string,
):
  | { ok: false; message: string }
  | {
      ok: true;
      envelope: EventBridgeEnvelope;
      origin: RequestOrigin;
      detail: Record<string, unknown>;
    } => {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, message: 'message body is not JSON' };
  }
  const envelope = EventBridgeEnvelopeSchema.safeParse(json);
  if (!envelope.success)
    return { ok: false, message: `not an EventBridge event: ${describeIssues(envelope.error.issues, json)}` };
  const e = envelope.data;
  const raw = e.detail;
  return {
    ok: true,
    envelope: e,
    origin: { source: clip(e.source, 256), account: clip(e.account, 64), eventId: clip(e.id, 128) },
    detail: typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {},
  };
};

/** A usable key: the text itself when it fits the request-id alphabet, else undefined. */
const asKey = (value: unknown): string | undefined =>
  typeof value === 'string' && REQUEST_ID_PATTERN.test(value) ? value : undefined;

/** Reads a message body as an EventBridge `Stickiness Change Requested` event. */
export const parseChangeRequestBody = (recordId: string, body: string): ParsedRequest => {
  const recordKey = RECORD_KEYS.record(clip(recordId, 100));
  const refuse = (key: string, message: string, extra: Partial<Extract<ParsedRequest, { ok: false }>> = {}) =>
    ({ ok: false, key, code: 'invalid-request', message, known: {}, ...extra }) as const;
  const read = readEnvelope(body);
  if (!read.ok) return refuse(recordKey, read.message);
  const { envelope: e, origin, detail } = read;
  const key = asKey(detail.requestId) ?? (asKey(e.id) ? RECORD_KEYS.event(e.id) : recordKey);
  const known = {
    ...(typeof detail.service === 'string' ? { service: clip(detail.service, 256) } : {}),
    ...(Number.isSafeInteger(detail.farmId) ? { farmId: detail.farmId as number } : {}),
    ...(typeof detail.ticket === 'string' ? { ticket: clip(detail.ticket, 256) } : {}),
  };
  if (e['replay-name'] !== undefined) {
    // An archive replay re-sends history: carrying it out again could undo later changes.
    return refuse(
      key,
      `replayed from the archive (replay '${clip(e['replay-name'], 64)}'): stickler never carries out a replayed request; publish a new request to make this change`,
      { code: 'replayed', known, origin },
    );
  }
  if (e['detail-type'] !== DETAIL_TYPES.changeRequested) {
    return refuse(key, `unexpected detail-type '${clip(e['detail-type'], 128)}'`, { known, origin });
  }
  const parsed = ChangeRequestedDetailSchema.safeParse(e.detail);
  if (!parsed.success) {
    const why = describeIssues(parsed.error.issues, e.detail, (path) => path[0] === 'notify');
    return refuse(key, clip(`invalid change request: ${why}`, 2000), { known, origin });
  }
  return { ok: true, key, request: parsed.data, origin, contentHash: contentHashOf(parsed.data) };
};

/** The worker's view of an SQS record. */
export const incomingRecord = (record: SQSRecord): IncomingRecord => ({
  ...recordMeta(record),
  parsed: parseChangeRequestBody(record.messageId, record.body),
});

/** True when the message is a `Stickiness Change Cancel Requested` event (the rest are change requests). */
export const isCancelMessage = (body: string): boolean => {
  try {
    const json = JSON.parse(body) as { 'detail-type'?: unknown };
    return json?.['detail-type'] === DETAIL_TYPES.cancelRequested;
  } catch {
    return false;
  }
};

/** Reads a message body as a `Stickiness Change Cancel Requested` event. Never throws. */
export const parseCancelBody = (recordId: string, body: string): ParsedCancel => {
  const read = readEnvelope(body);
  if (!read.ok)
    return { ok: false, key: RECORD_KEYS.cancelRecord(clip(recordId, 100)), message: read.message };
  const { envelope: e, origin, detail } = read;
  const key = asKey(detail.cancelId)
    ? RECORD_KEYS.cancel(detail.cancelId as string)
    : RECORD_KEYS.cancelEvent(clip(e.id, 100));
  if (e['replay-name'] !== undefined)
    return {
      ok: false,
      key,
      origin,
      message: 'replayed from the archive: a replayed cancel is never carried out',
    };
  const parsed = CancelRequestedDetailSchema.safeParse(e.detail);
  if (!parsed.success)
    return {
      ok: false,
      key,
      origin,
      message: clip(`invalid cancel: ${describeIssues(parsed.error.issues, e.detail)}`, 2000),
    };
  return { ok: true, key, cancel: parsed.data, origin, contentHash: contentHashOf(parsed.data) };
};

/** The worker's view of an SQS record carrying a cancel. */
export const incomingCancel = (record: SQSRecord): IncomingCancel => ({
  ...recordMeta(record),
  parsed: parseCancelBody(record.messageId, record.body),
});
