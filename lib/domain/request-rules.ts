/**
 * The worker's rules for one queued change request, pure and testable without I/O: whether it
 * may be carried out now (time plausibility, change window), which request wins for a farm
 * (ordered by the time stickler first accepted it, which no publisher sets and nothing later
 * moves), and what becomes of a record that could not be finished (retry, dead-letter).
 */
import { farmRefOf } from './change-request';
import type { ChangeRequestedDetail } from './events';
import { farmKey } from './farm';

/** A change request as the worker holds it: the request and the time stickler accepted it. */
export interface QueuedRequest {
  request: ChangeRequestedDetail;
  /**
   * When stickler's queue first delivered this request: the SQS `SentTimestamp` of its first
   * delivery, written in the request's record then and kept for life. Unlike `requestedAt` or
   * the envelope's `time`, no publisher can set it; unlike the SentTimestamp of a later delivery,
   * a deferral firing, a hand-back or a redrive from the dead-letter queue never moves it.
   */
  acceptedAt: Date;
}

export interface TimeLimits {
  /** How far ahead of the worker's clock `requestedAt` may be (publishers' clocks drift a little). */
  maxClockSkewMs: number;
  /** Requests older than this (by `requestedAt` or by their arrival) are refused as stale. */
  maxAgeMs: number;
  /**
   * The shortest window that can be met: a request waits up to the queue's batching window before
   * the worker sees it, then needs a moment to be written (the batching window plus a margin).
   */
  minWindowMs?: number;
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
  | {
      kind: 'refuse';
      code: 'implausible-time' | 'stale' | 'outside-window' | 'window-too-late' | 'window-too-short';
      message: string;
    };

const days = (ms: number) => Math.round(ms / 86_400_000);

/** Whether a well-formed request may be carried out now, later (its window opens), or never. */
export const admit = (
  queued: QueuedRequest,
  now: Date,
  limits: TimeLimits = DEFAULT_TIME_LIMITS,
): Admission => {
  const { request, acceptedAt } = queued;
  const t = now.getTime();
  const requestedAt = Date.parse(request.requestedAt);
  if (requestedAt > t + limits.maxClockSkewMs) {
    return {
      kind: 'refuse',
      code: 'implausible-time',
      message: `requestedAt ${request.requestedAt} is more than ${limits.maxClockSkewMs / 60_000} minutes ahead of the worker's clock (${now.toISOString()}): check the publisher's clock and publish a new request`,
    };
  }
  const oldest = Math.min(requestedAt, acceptedAt.getTime());
  if (oldest < t - limits.maxAgeMs) {
    return {
      kind: 'refuse',
      code: 'stale',
      message: `the request is more than ${days(limits.maxAgeMs)} days old (requested ${request.requestedAt}, accepted ${acceptedAt.toISOString()}): publish a new request if it still holds`,
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
  if (notBefore && Date.parse(notBefore) > acceptedAt.getTime() + limits.maxAgeMs) {
    return {
      kind: 'refuse',
      code: 'window-too-late',
      message: `its change window opens at ${notBefore}, more than ${days(limits.maxAgeMs)} days after it was accepted (${acceptedAt.toISOString()}): it would be refused as stale then, so it is refused now; publish it again nearer the time`,
    };
  }
  const opens = Math.max(t, notBefore ? Date.parse(notBefore) : t);
  if (notAfter && limits.minWindowMs && Date.parse(notAfter) - opens < limits.minWindowMs) {
    return {
      kind: 'refuse',
      code: 'window-too-short',
      message: `its change window (${notBefore ?? 'now'} to ${notAfter}) is shorter than the ${Math.round(limits.minWindowMs / 1000)} s a request can wait in the queue's batching window before it is written: it could be missed; publish it again with a longer window and a new requestId`,
    };
  }
  if (notBefore && t < Date.parse(notBefore)) return { kind: 'defer', until: notBefore };
  return { kind: 'admit' };
};

/** A request as the farm ledger names it: its id and the time it was accepted (ISO 8601). */
export interface LedgerEntry {
  requestId: string;
  acceptedAt: string;
}

/**
 * The order of acceptance: by acceptance time, and for requests accepted in the same millisecond
 * by their request id (the smaller first). Deterministic, and the same in every batch.
 */
export const acceptedBefore = (a: LedgerEntry, b: LedgerEntry): boolean => {
  const ta = Date.parse(a.acceptedAt);
  const tb = Date.parse(b.acceptedAt);
  return ta < tb || (ta === tb && a.requestId < b.requestId);
};

export const farmKeyOfRequest = (request: ChangeRequestedDetail): string => farmKey(farmRefOf(request));

export const ledgerEntryOf = (queued: QueuedRequest): LedgerEntry => ({
  requestId: queued.request.requestId,
  acceptedAt: queued.acceptedAt.toISOString(),
});

/**
 * What the farm ledger keeps per farm: the newest request that went (or is going) to OVH, and the
 * newest request waiting for its change window, if any.
 */
export interface FarmOrder {
  live?: LedgerEntry;
  deferred?: LedgerEntry & { until: string };
}

export type OrderVerdict =
  /** A request accepted later has already taken the farm (`waiting`: it waits for its window). */
  | { kind: 'superseded'; by: LedgerEntry; waiting: boolean }
  /**
   * The request may go on; `next` is the farm's order to write before anything else happens, and
   * `cancels` an older request waiting for its window, which would undo this one when it opens.
   */
  | { kind: 'go'; next: FarmOrder; cancels?: LedgerEntry & { until: string } };

/**
 * Whether `entry` may be carried out now (`until` undefined) or deferred to `until`, given the
 * farm's order. The request accepted last wins: an older request never undoes a newer one, now
 * or when its window opens. A newer request waiting for its window does not stop an older one
 * from being carried out before it (nothing newer is live yet); it wins when its window opens.
 */
export const orderRequest = (
  order: FarmOrder | undefined,
  entry: LedgerEntry,
  until?: string,
  /** When the request's expectation of the farm was read (`ifStoresAt`: a saved plan's time). */
  readAt?: string,
): OrderVerdict => {
  const newer = (other: LedgerEntry | undefined): boolean =>
    other !== undefined && other.requestId !== entry.requestId && acceptedBefore(entry, other);
  // A request made against the farm as read at `readAt`: one accepted after that read was
  // decided on a later state of the farm (live or still waiting for its window), and wins.
  const madeSince = (other: LedgerEntry | undefined): boolean =>
    other !== undefined &&
    other.requestId !== entry.requestId &&
    readAt !== undefined &&
    Date.parse(other.acceptedAt) > Date.parse(readAt);
  const live = order?.live;
  if (live && (newer(live) || madeSince(live))) return { kind: 'superseded', by: live, waiting: false };
  const waiting = order?.deferred;
  if (waiting && madeSince(waiting)) return { kind: 'superseded', by: waiting, waiting: true };
  if (until !== undefined) {
    if (waiting && newer(waiting)) return { kind: 'superseded', by: waiting, waiting: true };
    const cancels = waiting && waiting.requestId !== entry.requestId ? waiting : undefined;
    return {
      kind: 'go',
      next: { ...(order?.live ? { live: order.live } : {}), deferred: { ...entry, until } },
      ...(cancels ? { cancels } : {}),
    };
  }
  if (waiting === undefined || waiting.requestId === entry.requestId)
    return { kind: 'go', next: { live: entry } };
  if (acceptedBefore(waiting, entry)) return { kind: 'go', next: { live: entry }, cancels: waiting };
  return { kind: 'go', next: { live: entry, deferred: waiting } };
};

/**
 * Keeps the request accepted last per farm (ties: see acceptedBefore) and names the ones it
 * supersedes, so that each still gets an outcome.
 */
export const latestPerFarm = <Q extends QueuedRequest>(
  requests: readonly Q[],
): { kept: Q[]; superseded: { queued: Q; by: Q }[] } => {
  const latest = new Map<string, Q>();
  for (const q of requests) {
    const current = latest.get(farmKeyOfRequest(q.request));
    if (!current || acceptedBefore(ledgerEntryOf(current), ledgerEntryOf(q)))
      latest.set(farmKeyOfRequest(q.request), q);
  }
  const winners = new Set(latest.values());
  return {
    kept: requests.filter((q) => winners.has(q)),
    superseded: requests
      .filter((q) => !winners.has(q))
      .map((queued) => ({ queued, by: latest.get(farmKeyOfRequest(queued.request))! })),
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
