/**
 * Remembers what happened to each change request, so that a redelivered request is neither
 * applied nor audited twice.
 *
 * Lifecycle of a key: claim → (decide with the audit events → complete) | release.
 * - `claimed`: nobody holds the key; the caller now does (until `expiresAt`).
 * - `in-progress`: another invocation holds it and its claim has not expired.
 * - `decided`: the change was carried out but its audit events may not all be published:
 *   publish `events` again, then complete.
 * - `completed`: done and audited; nothing more to do.
 */
import type { OutgoingEvent } from '../domain/events';

export type ClaimResult =
  | { state: 'claimed' }
  | { state: 'in-progress' }
  | { state: 'decided'; events: OutgoingEvent[] }
  | { state: 'completed' };

export interface IdempotencyStore {
  claim(key: string, now: Date, holdMs: number): Promise<ClaimResult>;
  decide(key: string, events: readonly OutgoingEvent[], now: Date): Promise<void>;
  complete(key: string, now: Date): Promise<void>;
  release(key: string): Promise<void>;
}
