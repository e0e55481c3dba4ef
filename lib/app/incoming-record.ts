/** What the queue worker's use case takes in: one queued record, already read by an adapter. */
import type { RequestOrigin } from '../domain/audit-events';
import type {
  CancelRequestedDetail,
  ChangeRequestedDetail,
  ZoneRefreshRequestedDetail,
} from '../domain/events';

export type ParsedRequest =
  | {
      ok: true;
      key: string;
      request: ChangeRequestedDetail;
      origin: RequestOrigin;
      /** The SHA-256 of the request's content (every field but `requestedAt`): one id, one content. */
      contentHash: string;
    }
  | {
      ok: false;
      key: string;
      code: 'invalid-request' | 'replayed';
      message: string;
      /** What can be trusted of the detail, so the audit trail says whose it was (bounded). */
      known: { service?: string; farmId?: number; ticket?: string };
      origin?: RequestOrigin;
    };

export interface IncomingRecord {
  /** The queue's id for the message (SQS messageId), used to report batch item failures. */
  recordId: string;
  /** How many times the queue has delivered this message, this time included. */
  receiveCount: number;
  /**
   * When the queue received this message (SQS SentTimestamp). The first delivery's becomes the
   * request's acceptance time, kept in its record: the time requests are ordered by.
   */
  sentAt: Date;
  /** The idempotency key, and the request or why it cannot be one. */
  parsed: ParsedRequest;
}

/** A queued `Stickiness Change Cancel Requested`, or why it cannot be one. */
export type ParsedCancel =
  | { ok: true; key: string; cancel: CancelRequestedDetail; origin: RequestOrigin; contentHash: string }
  | { ok: false; key: string; message: string; origin?: RequestOrigin };

export interface IncomingCancel {
  recordId: string;
  receiveCount: number;
  sentAt: Date;
  parsed: ParsedCancel;
}

/** A queued `Zone Refresh Requested`, or why it cannot be one (with what can be said of it, bounded). */
export type ParsedZoneRefresh =
  | {
      ok: true;
      key: string;
      refresh: ZoneRefreshRequestedDetail;
      origin: RequestOrigin;
      /** The SHA-256 of its content (every field but `requestedAt`): one refresh id, one content. */
      contentHash: string;
    }
  | {
      ok: false;
      key: string;
      message: string;
      origin?: RequestOrigin;
      known: { refreshId?: string; service?: string; zone?: string };
    };

export interface IncomingZoneRefresh {
  recordId: string;
  receiveCount: number;
  sentAt: Date;
  parsed: ParsedZoneRefresh;
}
