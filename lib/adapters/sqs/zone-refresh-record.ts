/**
 * Reads one SQS record of the change-request queue carrying a `Zone Refresh Requested`: SQS
 * record → EventBridge envelope → detail. Never throws: whatever the body holds, the result names
 * a bounded idempotency key (`~refresh:<refreshId>`, or the event's or the record's id) and either
 * the refresh or why it is refused.
 */
import type { SQSRecord } from 'aws-lambda';
import type { IncomingZoneRefresh, ParsedZoneRefresh } from '../../app/incoming-record';
import { RECORD_KEYS, REQUEST_ID_PATTERN } from '../../domain/change-request';
import { describeIssues } from '../../domain/describe-issue';
import { DETAIL_TYPES, ZoneRefreshRequestedDetailSchema } from '../../domain/events';
import { contentHashOf, readEnvelope, recordMeta } from './change-request-record';

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 3)}...` : text);

/** True when the message is a `Zone Refresh Requested` event. */
export const isZoneRefreshMessage = (body: string): boolean => {
  try {
    const json = JSON.parse(body) as { 'detail-type'?: unknown };
    return json?.['detail-type'] === DETAIL_TYPES.zoneRefreshRequested;
  } catch {
    return false;
  }
};

/** What can be said of a detail that is not a valid refresh (bounded, for its audit event). */
const knownOf = (detail: Record<string, unknown>) => ({
  ...(typeof detail.refreshId === 'string' && REQUEST_ID_PATTERN.test(detail.refreshId)
    ? { refreshId: detail.refreshId }
    : {}),
  ...(typeof detail.service === 'string' ? { service: clip(detail.service, 128) } : {}),
  ...(typeof detail.zone === 'string' ? { zone: clip(detail.zone, 40) } : {}),
});

/** Reads a message body as a `Zone Refresh Requested` event. Never throws. */
export const parseZoneRefreshBody = (recordId: string, body: string): ParsedZoneRefresh => {
  const recordKey = RECORD_KEYS.refreshEvent(`record-${clip(recordId, 100)}`);
  const read = readEnvelope(body);
  if (!read.ok) return { ok: false, key: recordKey, message: read.message, known: {} };
  const { envelope: e, origin, detail } = read;
  const known = knownOf(detail);
  const key = known.refreshId
    ? RECORD_KEYS.refresh(known.refreshId)
    : RECORD_KEYS.refreshEvent(clip(e.id, 100));
  if (e['replay-name'] !== undefined)
    return {
      ok: false,
      key,
      origin,
      known,
      message: 'replayed from the archive: a replayed refresh is never carried out',
    };
  const parsed = ZoneRefreshRequestedDetailSchema.safeParse(e.detail);
  if (!parsed.success)
    return {
      ok: false,
      key,
      origin,
      known,
      message: clip(`invalid zone refresh: ${describeIssues(parsed.error.issues, e.detail)}`, 2000),
    };
  return { ok: true, key, refresh: parsed.data, origin, contentHash: contentHashOf(parsed.data) };
};

/** The worker's view of an SQS record carrying a zone refresh. */
export const incomingZoneRefresh = (record: SQSRecord): IncomingZoneRefresh => ({
  ...recordMeta(record),
  parsed: parseZoneRefreshBody(record.messageId, record.body),
});
