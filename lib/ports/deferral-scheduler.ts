/**
 * Puts a change request back on the bus when its change window opens (EventBridge Scheduler in
 * AWS, a timer in the local pipeline).
 */
import type { ChangeRequestedDetail } from '../domain/events';

export interface Deferral {
  /** Names the schedule: the same request deferred to the same time twice makes one schedule. */
  requestId: string;
  /** When to publish it again (ISO 8601, the window's `notBefore`). */
  until: string;
  /** The original publisher's `source`, kept so the audit trail still names it. */
  source: string;
  request: ChangeRequestedDetail;
}

export interface DeferralScheduler {
  /** Schedules the re-publication; resolves once it is durably scheduled (or already was). */
  schedule(deferral: Deferral): Promise<void>;
  /**
   * Deletes the re-publication of a deferral that was cancelled or superseded (none left, because
   * it fired or was deleted, is not an error). A schedule that fires anyway finds its request ended.
   */
  cancel(deferral: Pick<Deferral, 'requestId' | 'until'>): Promise<void>;
}
