/**
 * The worker's rules for one queued change request, pure and testable without I/O: whether it
 * may be carried out now (time plausibility, change window), which request wins for a farm
 * (ordered by a time stickler trusts, not the publisher's clock), and what becomes of a record
 * that could not be finished (retry, dead-letter).
 */
import { farmRefOf } from './change-request';
import type { ChangeRequestedDetail } from './events';
import { farmKey } from './farm';

/** A change request as the worker holds it: the request and the time SQS received it. */
export interface QueuedRequest {
  request: ChangeRequestedDetail;
  /**
   * When the queue received the message (SQS `SentTimestamp`, set by SQS when EventBridge
   * delivered it). Unlike `requestedAt` or the envelope's `time`, no publisher can set it.
   */
  sentAt: Date;
}

export interface TimeLimits {
  /** How far ahead of the worker's clock `requestedAt` may be (publishers' clocks drift a little). */
  maxClockSkewMs: number;
  /** Requests older than this (by `requestedAt` or by their arrival) are refused as stale. */
  maxAgeMs: number;
}

export const DEFAULT_TIME_LIMITS: TimeLimits = {
  maxClockSkewMs: 5 * 60_000,
  // Past the queue (4 days) and its dead-letter queue (14 days) with room for a late redrive;
  // the ledger and idempotency records are kept longer than this (RECORD_RETENTION_MS).
  maxAgeMs: 20 * 24 * 3600_000,
};

/** How long idempotency records and ledger entries live: longer than any request is accepted. */
export const RECORD_RETENTION_MS = 30 * 24 * 3600_000;

export type Admission =
  | { kind: 'admit' }
  | { kind: 'defer'; until: string }
  | { kind: 'refuse'; code: 'implausible-time' | 'stale' | 'outside-window'; message: string };

const days = (ms: number) => Math.round(ms / 86_400_000);

/** Whether a well-formed request may be carried out now, later (its window opens), or never. */
export const admit = (
  queued: QueuedRequest,
  now: Date,
  limits: TimeLimits = DEFAULT_TIME_LIMITS,
): Admission => {
  const { request, sentAt } = queued;
  const t = now.getTime();
  const requestedAt = Date.parse(request.requestedAt);
  if (requestedAt > t + limits.maxClockSkewMs) {
    return {
      kind: 'refuse',
      code: 'implausible-time',
      message: `requestedAt ${request.requestedAt} is more than ${limits.maxClockSkewMs / 60_000} minutes ahead of the worker's clock (${now.toISOString()}): check the publisher's clock and publish a new request`,
    };
  }
  const oldest = Math.min(requestedAt, sentAt.getTime());
  if (oldest < t - limits.maxAgeMs) {
    return {
      kind: 'refuse',
      code: 'stale',
      message: `the request is more than ${days(limits.maxAgeMs)} days old (requested ${request.requestedAt}, queued ${sentAt.toISOString()}): publish a new request if it still holds`,
    };
  }
  const { notBefore, notAfter } = request.window ?? {};
  if (notAfter && t > Date.parse(notAfter)) {
    return {
      kind: 'refuse',
      code: 'outside-window',
      message: `its change window closed at ${notAfter}; to carry it out, publish it again with a new window and a new requestId`,
    };
  }
  if (notBefore && t < Date.parse(notBefore)) return { kind: 'defer', until: notBefore };
  return { kind: 'admit' };
};

/** What the farm ledger remembers of the newest request carried out for a farm. */
export interface LedgerEntry {
  requestId: string;
  /** The trusted time the request was ordered by (its SentTimestamp), ISO 8601. */
  sentAt: string;
}

export const farmOf = (request: ChangeRequestedDetail): string => farmKey(farmRefOf(request));

export const ledgerEntryOf = (queued: QueuedRequest): LedgerEntry => ({
  requestId: queued.request.requestId,
  sentAt: queued.sentAt.toISOString(),
});

/** True when `newest` (already carried out for the farm) was queued after `queued`. */
export const isSupersededBy = (queued: QueuedRequest, newest: LedgerEntry | undefined): boolean =>
  newest !== undefined &&
  newest.requestId !== queued.request.requestId &&
  Date.parse(newest.sentAt) > queued.sentAt.getTime();

/**
 * Keeps the latest request per farm by arrival on the queue (ties: the later in the batch) and
 * names the ones it supersedes, so that each still gets an outcome.
 */
export const latestPerFarm = (
  requests: readonly QueuedRequest[],
): { kept: QueuedRequest[]; superseded: { queued: QueuedRequest; by: QueuedRequest }[] } => {
  const latest = new Map<string, QueuedRequest>();
  for (const q of requests) {
    const current = latest.get(farmOf(q.request));
    if (!current || q.sentAt.getTime() >= current.sentAt.getTime()) latest.set(farmOf(q.request), q);
  }
  const winners = new Set(latest.values());
  return {
    kept: requests.filter((q) => winners.has(q)),
    superseded: requests
      .filter((q) => !winners.has(q))
      .map((queued) => ({ queued, by: latest.get(farmOf(queued.request))! })),
  };
};

/**
 * What becomes of a record whose request could not be finished in this invocation: handed back
 * to the queue while receives remain, or audited as failed and left to go to the dead-letter
 * queue on the last one.
 */
export const unfinishedDisposition = (
  receiveCount: number,
  maxReceiveCount: number,
): 'retry' | 'dead-letter' => (receiveCount >= maxReceiveCount ? 'dead-letter' : 'retry');

/**
 * How long a record handed back stays invisible before its next delivery: short and growing
 * (5 s, 10 s, 20 s … capped at 5 minutes) rather than the queue's visibility timeout, which is
 * six times the function timeout.
 */
export const retryDelaySeconds = (receiveCount: number): number =>
  Math.min(300, 5 * 2 ** Math.max(0, Math.min(receiveCount - 1, 10)));
