/**
 * The worker's outbox: decide → publish → complete. An outcome and its audit events are stored
 * (with the request's farm-ledger entry) before they are published, so that whatever fails
 * after a change was carried out, the retry publishes what did not go out, and never applies
 * again. A record is finished only once its events are out and its ledger entry is written;
 * otherwise it is handed back to the queue, and the retry finishes it.
 */
import type { OutgoingEvent } from '../domain/audit-events';
import type { Clock } from '../ports/clock';
import type { EventPublisher } from '../ports/event-publisher';
import type { FarmLedger } from '../ports/farm-ledger';
import type { IdempotencyStore, PendingLedgerWrite } from '../ports/idempotency-store';
import type { Log } from '../ports/log';

/** What to do with one request's idempotency record once its events are out. */
export type AfterPublish =
  /** Its outcome is final: mark it completed. */
  | { kind: 'complete' }
  /** Not finished (goes to the dead-letter queue): delete the claim so a redrive starts afresh. */
  | { kind: 'release' }
  /** Not finished, and the record is not ours (held elsewhere, or the claim failed): leave it. */
  | { kind: 'leave' }
  /** Waiting for its change window: remember until when, so early copies are duplicates. */
  | { kind: 'defer'; until: string };

export interface Outbound {
  key: string;
  events: OutgoingEvent[];
  after: AfterPublish;
  /** Store the events before publishing them (a final outcome: the retry must not decide again). */
  persist: boolean;
  /** The farm-ledger entry to write with the outcome (applied or unchanged requests). */
  ledger?: PendingLedgerWrite;
}

export interface OutboxDeps {
  idempotency: IdempotencyStore;
  ledger: FarmLedger;
  publisher: EventPublisher;
  clock: Clock;
  log: Log;
}

export interface OutboxResult {
  /** Per key, `done`: finished; `pending`: events or the ledger entry left over, hand the record back. */
  finished: Map<string, 'done' | 'pending'>;
  /** The events that went out. */
  published: OutgoingEvent[];
}

async function writeLedger(deps: OutboxDeps, key: string, write: PendingLedgerWrite): Promise<boolean> {
  try {
    await deps.ledger.record(write.farmKey, write.entry, deps.clock.now());
    return true;
  } catch (error) {
    deps.log.error('could not record the request in the farm ledger; the record will be handed back', {
      key,
      error: String(error),
    });
    return false;
  }
}

async function persistDecision(deps: OutboxDeps, item: Outbound): Promise<void> {
  try {
    await deps.idempotency.decide(
      item.key,
      { events: item.events, ...(item.ledger ? { ledger: item.ledger } : {}) },
      deps.clock.now(),
    );
  } catch (error) {
    deps.log.error('could not record the outcome; publishing it anyway', {
      key: item.key,
      error: String(error),
    });
  }
}

async function finishOne(
  deps: OutboxDeps,
  item: Outbound,
  unsent: OutgoingEvent[],
  ledgerWritten: boolean,
): Promise<'done' | 'pending'> {
  const { idempotency, clock, log } = deps;
  const { key, after } = item;
  if (after.kind === 'release' || after.kind === 'leave') {
    if (unsent.length > 0)
      log.error('the audit event of a request going to the dead-letter queue was not published', { key });
    if (after.kind === 'release') await idempotency.release(key).catch(() => undefined);
    return 'done';
  }
  if (unsent.length > 0 || !ledgerWritten) {
    if (after.kind === 'defer') {
      // Nothing was stored as deferred yet: the retry schedules (idempotently) and publishes again.
      await idempotency.release(key).catch(() => undefined);
      return 'pending';
    }
    log.error('audit events or the ledger entry are left over; the record will be retried', {
      key,
      unsent: unsent.length,
      ledgerPending: !ledgerWritten,
    });
    // The retry publishes only what did not go out, so consumers never see an event twice.
    await idempotency
      .decide(
        key,
        { events: unsent, ...(ledgerWritten || !item.ledger ? {} : { ledger: item.ledger }) },
        clock.now(),
      )
      .catch((error: unknown) =>
        log.error('could not record what is left to finish', { key, error: String(error) }),
      );
    return 'pending';
  }
  try {
    if (after.kind === 'defer') await idempotency.defer(key, after.until, clock.now());
    else await idempotency.complete(key, clock.now());
  } catch (error) {
    log.error('could not mark the request finished', { key, error: String(error) });
  }
  return 'done';
}

/** Records, publishes and finishes every outbound item; says which records must be handed back. */
export async function flushOutbox(deps: OutboxDeps, items: readonly Outbound[]): Promise<OutboxResult> {
  const ledgerWritten = new Map<string, boolean>();
  await Promise.all(
    items.map(async (item) => {
      ledgerWritten.set(item.key, item.ledger ? await writeLedger(deps, item.key, item.ledger) : true);
      if (item.persist) await persistDecision(deps, item);
    }),
  );
  const all = items.flatMap((i) => i.events);
  const { failed } = all.length > 0 ? await deps.publisher.publish(all) : { failed: [] };
  const failedIds = new Set(failed.map((e) => e.dedupeKey));
  const finished: OutboxResult['finished'] = new Map();
  await Promise.all(
    items.map(async (item) => {
      const unsent = item.events.filter((e) => failedIds.has(e.dedupeKey));
      finished.set(item.key, await finishOne(deps, item, unsent, ledgerWritten.get(item.key) ?? true));
    }),
  );
  return { finished, published: all.filter((e) => !failedIds.has(e.dedupeKey)) };
}
