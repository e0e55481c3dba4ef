/**
 * The worker's outbox: decide → publish → complete. An outcome and its audit events are stored
 * before they are published, so that whatever fails after a change was carried out, the retry
 * publishes what did not go out, and never applies again. A record is finished only once its
 * events are out; otherwise it is handed back to the queue, and the retry finishes it.
 */

import type { OutgoingEvent } from '../domain/audit-events';
import { errorFields } from '../domain/errors';
import type { Clock } from '../ports/clock';
import type { EventPublisher } from '../ports/event-publisher';
import type { IdempotencyStore } from '../ports/idempotency-store';
import type { Log } from '../ports/log';

/** What to do with one request's idempotency record once its events are out. */
export type AfterPublish =
  /** Its outcome is final: mark it completed. */
  | { kind: 'complete' }
  /** Not finished (goes to the dead-letter queue): a redrive claims it again, its acceptance time kept. */
  | { kind: 'dead-letter' }
  /** Not finished, and the record is not ours (held elsewhere, or the claim failed): leave it. */
  | { kind: 'leave' }
  /**
   * Waiting for its change window: remember until when (early copies are duplicates) and the
   * request, so that it can be cancelled or superseded while it waits.
   */
  | { kind: 'defer'; until: string; waiting: Parameters<IdempotencyStore['defer']>[3] };

export interface Outbound {
  key: string;
  events: OutgoingEvent[];
  after: AfterPublish;
  /** Store the events before publishing them (a final outcome: the retry must not decide again). */
  persist: boolean;
}

export interface OutboxDeps {
  idempotency: IdempotencyStore;
  publisher: EventPublisher;
  clock: Clock;
  log: Log;
}

export interface OutboxResult {
  /** Per key, `done`: finished; `pending`: events left over, hand the record back. */
  finished: Map<string, 'done' | 'pending'>;
  /** The events that went out. */
  published: OutgoingEvent[];
}

async function persistDecision(deps: OutboxDeps, item: Outbound): Promise<void> {
  try {
    await deps.idempotency.decide(item.key, { events: item.events }, deps.clock.now());
  } catch (error) {
    deps.log.error('could not record the outcome; publishing it anyway', {
      key: item.key,
      error: errorFields(error),
    });
  }
}

async function finishOne(
  deps: OutboxDeps,
  item: Outbound,
  unsent: OutgoingEvent[],
): Promise<'done' | 'pending'> {
  const { idempotency, clock, log } = deps;
  const { key, after } = item;
  if (after.kind === 'dead-letter' || after.kind === 'leave') {
    if (unsent.length > 0)
      log.error('the audit event of a request going to the dead-letter queue was not published', { key });
    if (after.kind === 'dead-letter') await idempotency.deadLetter(key, clock.now()).catch(() => undefined);
    return 'done';
  }
  if (unsent.length > 0) {
    if (after.kind === 'defer') {
      // Nothing was stored as deferred yet: the retry schedules (idempotently) and publishes again.
      await idempotency.release(key).catch(() => undefined);
      return 'pending';
    }
    log.error('audit events are left over; the record will be retried', { key, unsent: unsent.length });
    // The retry publishes only what did not go out, so consumers never see an event twice.
    await idempotency
      .decide(key, { events: unsent }, clock.now())
      .catch((error: unknown) =>
        log.error('could not record what is left to finish', { key, error: errorFields(error) }),
      );
    return 'pending';
  }
  try {
    if (after.kind === 'defer') await idempotency.defer(key, after.until, clock.now(), after.waiting);
    else await idempotency.complete(key, clock.now());
  } catch (error) {
    log.error('could not mark the request finished', { key, error: errorFields(error) });
  }
  return 'done';
}

/** Records, publishes and finishes every outbound item; says which records must be handed back. */
export async function flushOutbox(deps: OutboxDeps, items: readonly Outbound[]): Promise<OutboxResult> {
  await Promise.all(items.filter((item) => item.persist).map((item) => persistDecision(deps, item)));
  const all = items.flatMap((i) => i.events);
  const { failed } = all.length > 0 ? await deps.publisher.publish(all) : { failed: [] };
  const failedIds = new Set(failed.map((e) => e.dedupeKey));
  const finished: OutboxResult['finished'] = new Map();
  await Promise.all(
    items.map(async (item) => {
      const unsent = item.events.filter((e) => failedIds.has(e.dedupeKey));
      finished.set(item.key, await finishOne(deps, item, unsent));
    }),
  );
  return { finished, published: all.filter((e) => !failedIds.has(e.dedupeKey)) };
}
