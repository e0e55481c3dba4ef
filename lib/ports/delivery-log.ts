/**
 * What the ticket webhook answered to each signed delivery it acted on, and each ticket's newest
 * transition (approval or withdrawal).
 *
 * What the ticket webhook answered to each signed delivery it acted on, kept a little longer than
 * a delivery is accepted (its signed time within a day): the same signed bytes sent again, with
 * whatever headers, get the same answer and publish nothing.
 */

/** Two days: past the one-day window in which a delivery's signed time is accepted. */
export const DELIVERY_RETENTION_MS = 2 * 24 * 3600_000;

/** The answer, as the webhook's use case gave it (JSON). */
export type DeliveryAnswer = Record<string, unknown>;

export interface DeliveryLog {
  /**
   * Records a ticket's approval or withdrawal as its newest transition, unless a newer one (a
   * higher `sequence`: Jira's changelog id, ServiceNow's sys_mod_count) is recorded already:
   * then 'stale', and this one is not acted on (ticketing systems do not deliver in order).
   */
  transition(
    ticket: string,
    sequence: number,
    kind: 'approved' | 'withdrawn',
    now: Date,
  ): Promise<'newest' | 'stale'>;
  /** The answer given to this delivery (its source and the SHA-256 of its signed bytes), if any. */
  answered(source: string, digest: string): Promise<DeliveryAnswer | undefined>;
  /** Keeps the answer given to a delivery acted on. */
  remember(source: string, digest: string, answer: DeliveryAnswer, now: Date): Promise<void>;
}
