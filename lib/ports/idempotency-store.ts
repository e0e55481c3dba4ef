/**
 * Remembers what happened to each change request, so that a redelivered request is neither
 * applied nor audited twice.
 *
 * Lifecycle of a key: claim → (decide with the audit events → complete) | defer | release.
 * - `claimed`: nobody holds the key; the caller now does (until `holdMs` has passed).
 * - `in-progress`: another invocation holds it and its claim has not expired.
 * - `decided`: the change was carried out but its audit events may not all be published (and
 *   its ledger entry may not be written): finish those, then complete.
 * - `deferred`: waiting for its change window; a delivery before `until` is a duplicate, the
 *   one at `until` (the scheduled re-publication) claims it again.
 * - `completed`: done and audited; nothing more to do.
 */
import type { OutgoingEvent } from '../domain/audit-events';
import type { LedgerEntry } from '../domain/request-rules';

/** A ledger entry still to be written for a decided request. */
export interface PendingLedgerWrite {
  farmKey: string;
  entry: LedgerEntry;
}

export interface Decided {
  /** Audit events not yet published. */
  events: OutgoingEvent[];
  ledger?: PendingLedgerWrite;
}

export type ClaimResult =
  | { state: 'claimed' }
  | { state: 'in-progress' }
  | ({ state: 'decided' } & Decided)
  | { state: 'deferred'; until: string }
  | { state: 'completed' };

export interface IdempotencyStore {
  claim(key: string, now: Date, holdMs: number): Promise<ClaimResult>;
  decide(key: string, decided: Decided, now: Date): Promise<void>;
  defer(key: string, until: string, now: Date): Promise<void>;
  complete(key: string, now: Date): Promise<void>;
  release(key: string): Promise<void>;
}
