/**
 * EventPublisher over EventBridge PutEvents: at most 10 entries and 256 KiB per call, and only
 * the entries that failed are sent again, with backoff and jitter, a bounded number of times.
 */
import type { OutgoingEvent } from '../../domain/audit-events';
import { AUDIT_SOURCE } from '../../domain/events';
import type { Clock } from '../../ports/clock';
import type { EventPublisher, PublishFailure } from '../../ports/event-publisher';
import { retry } from '../../shared/retry';
import type { AwsCall } from '../aws/aws-json-client';

/** A PutEvents request entry, as EventBridge's JSON API takes it. */
export interface PutEventsRequestEntry {
  EventBusName?: string;
  Source?: string;
  DetailType?: string;
  Detail?: string;
  /** Epoch seconds (the JSON protocol's timestamp form). */
  Time?: number;
  Resources?: string[];
}

interface PutEventsResponse {
  FailedEntryCount?: number;
  Entries?: { EventId?: string; ErrorCode?: string; ErrorMessage?: string }[];
}

export const MAX_ENTRIES_PER_CALL = 10;
export const MAX_BYTES_PER_CALL = 256 * 1024;

/** PutEvents entry size as AWS counts it: Time (14 bytes when set), Source, DetailType, Detail, Resources. */
export const entrySize = (entry: PutEventsRequestEntry): number =>
  (entry.Time !== undefined ? 14 : 0) +
  Buffer.byteLength(entry.Source ?? '') +
  Buffer.byteLength(entry.DetailType ?? '') +
  Buffer.byteLength(entry.Detail ?? '') +
  (entry.Resources ?? []).reduce((n, r) => n + Buffer.byteLength(r), 0);

/** Splits entries into PutEvents calls within both limits, keeping their order. */
export const chunkEntries = <T extends PutEventsRequestEntry>(entries: readonly T[]): T[][] => {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = entrySize(entry);
    if (size > MAX_BYTES_PER_CALL)
      throw new RangeError(`event ${entry.DetailType} is ${size} bytes, over the PutEvents limit`);
    if (current.length === MAX_ENTRIES_PER_CALL || bytes + size > MAX_BYTES_PER_CALL) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
};

export interface EventBridgePublisherOptions {
  /** An EventBridge client (makeAwsJsonClient with EVENTBRIDGE). */
  client: AwsCall;
  busName: string;
  clock: Clock;
  maxAttempts?: number;
  baseDelayMs?: number;
  random?: () => number;
}

export class EventBridgePublisher implements EventPublisher {
  constructor(private readonly options: EventBridgePublisherOptions) {}

  async publish(
    events: readonly OutgoingEvent[],
  ): Promise<{ failed: OutgoingEvent[]; why: Map<OutgoingEvent, PublishFailure> }> {
    const { client, busName, clock } = this.options;
    const maxAttempts = this.options.maxAttempts ?? 4;
    const baseDelayMs = this.options.baseDelayMs ?? 100;
    const random = this.options.random ?? Math.random;
    let pending = events.map((event) => ({
      event,
      entry: {
        EventBusName: busName,
        Source: event.source ?? AUDIT_SOURCE,
        DetailType: event.detailType,
        Detail: JSON.stringify(event.detail),
        Time: clock.now().getTime() / 1000,
      } satisfies PutEventsRequestEntry,
    }));
    // An entry over the PutEvents limit can never go out: report it failed rather than fail every
    // other entry of the batch with it (audit events are bounded, so this is a last line of defence).
    const oversized = pending.filter((p) => entrySize(p.entry) > MAX_BYTES_PER_CALL);
    pending = pending.filter((p) => entrySize(p.entry) <= MAX_BYTES_PER_CALL);
    // Each attempt sends what is left; only the entries that failed are sent again.
    const leftover = class extends Error {
      readonly retryable = true;
    };
    let left: typeof pending = pending;
    const why = new Map<OutgoingEvent, PublishFailure>();
    for (const p of oversized) why.set(p.event, { code: 'entry-too-large', maybePublished: false });
    await retry(
      async () => {
        const failedNow: typeof pending = [];
        for (const chunk of chunkEntries(left.map((p) => p.entry))) {
          const owners = chunk.map((entry) => left.find((p) => p.entry === entry)!);
          try {
            const result = await client<PutEventsResponse>('PutEvents', { Entries: chunk });
            // Entries in the answer line up with the request; those with an ErrorCode failed.
            (result.Entries ?? []).forEach((answer, i) => {
              if (answer.ErrorCode && owners[i]) {
                failedNow.push(owners[i]!);
                why.set(owners[i]!.event, { code: answer.ErrorCode.slice(0, 100), maybePublished: false });
              }
            });
          } catch (error) {
            failedNow.push(...owners); // the whole call failed (throttled, network, timeout)
            const e = error as { code?: unknown; outcomeUnknown?: unknown };
            for (const o of owners)
              why.set(o.event, {
                code: typeof e.code === 'string' ? e.code.slice(0, 100) : 'error',
                // No answer at all: the bus may have taken the entries (an AWS error answer says it did not).
                maybePublished: e.outcomeUnknown !== false,
              });
          }
        }
        left = failedNow;
        if (left.length > 0) throw new leftover(`${left.length} entries left`);
      },
      { maxAttempts, baseDelayMs, random, sleep: clock.sleep, now: () => clock.now().getTime() },
    ).catch(() => undefined); // what is left after the attempts is reported failed, not thrown
    const failed = [...oversized, ...left].map((p) => p.event);
    return { failed, why: new Map(failed.map((e) => [e, why.get(e)!])) };
  }
}
