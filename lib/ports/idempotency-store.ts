/**
 * Remembers what happened to each change request, so that a redelivered request is neither
 * applied nor audited twice, and when stickler first accepted it, for as long as it may come back.
 *
 * Lifecycle of a key: claim → (decide with the audit events → complete) | defer | release |
 * deadLetter.
 * - `claimed`: nobody holds the key; the caller now does (until `holdMs` has passed). The first
 *   claim of a key writes its acceptance time (the queue's first SentTimestamp) and the hash of
 *   its content; every later claim returns that time, and a claim with other content is `reused`.
 * - `in-progress`: another invocation holds it and its claim has not expired.
 * - `decided`: its outcome is known but its audit events may not all be published: publish
 *   those, then complete. The terminal outcome among the events is kept with the record for good
 *   (`status`), for whoever follows the request.
 * - `deferred`: waiting for its change window, the request kept with it (so that it can be
 *   cancelled or superseded while it waits); a delivery before `until` is a duplicate, the one
 *   at `until` (the scheduled re-publication) claims it again.
 * - `completed`: done and audited; nothing more to do, ever (a redrive changes nothing).
 * - released (handed back to the queue) and dead-lettered (its `Failed dead-lettered` went out)
 *   keys may be claimed again; their acceptance time and content hash stay.
 */
import type { OutgoingEvent, RequestOrigin, TerminalOutcome } from '../domain/audit-events';
import type { ChangeRequestedDetail } from '../domain/events';
import type { StickinessWord } from '../domain/stickiness';

export interface Decided {
  /** Audit events not yet published. */
  events: OutgoingEvent[];
}

/** What a claim records the first time a key is claimed. */
export interface ClaimFacts {
  /** The SHA-256 of the request's content; undefined for a record that is not a readable request. */
  contentHash?: string;
  /** This delivery's SentTimestamp: the acceptance time, if this is the first claim of the key. */
  sentAt: Date;
  /**
   * The groups the request belongs to (`ticket:KEY`, `run:RUN`; see app/request-groups), so that
   * `members` finds it: written before the claim, kept as long as the record.
   */
  groups?: readonly string[];
}

/**
 * A zone an invocation was about to refresh for this request (noted just before the refresh is
 * asked): if that invocation is killed, the next delivery looks the refresh up and reports its
 * real outcome instead of finding the farm already at its target ("unchanged").
 */
export interface ZoneInFlight {
  service: string;
  zone: string;
  /** The farm's stickiness before this request's write, and the one written (words). */
  before: StickinessWord;
  after: StickinessWord;
  displayName: string | null;
  /** When the refresh was about to be asked (ISO 8601): a refresh task created since is the one. */
  askedAt: string;
}

export type ClaimResult =
  /**
   * `deadLettered`: an earlier delivery was audited `Failed dead-lettered` (this one is a redrive).
   * `inFlight`: an earlier delivery was cut while refreshing the request's zone.
   */
  | {
      state: 'claimed';
      acceptedAt: Date;
      deadLettered: boolean;
      inFlight?: ZoneInFlight;
      /** The time the key was last deferred to, when it was ever deferred (ISO 8601). */
      deferredUntil?: string;
    }
  | { state: 'in-progress' }
  | ({ state: 'decided' } & Decided)
  | { state: 'deferred'; until: string }
  | { state: 'completed' }
  /** The key was first claimed for other content (its hash): this one is refused, the first kept. */
  | { state: 'reused'; contentHash: string; acceptedAt?: Date };

/** A request waiting for its change window, as its record keeps it. */
export interface DeferredRequest {
  request: ChangeRequestedDetail;
  origin: RequestOrigin | null;
  until: string;
}

/** Where a request stands, for whoever follows it (the CLI waits for its terminal outcome). */
export interface RequestStatus {
  state: 'in-progress' | 'decided' | 'deferred' | 'completed' | 'open' | 'dead-lettered';
  /** Its terminal outcome, once decided (kept after it is completed). */
  terminal?: TerminalOutcome;
  /** Deferred: when its window opens. */
  deferredUntil?: string;
}

export interface IdempotencyStore {
  /** Where each of these requests stands (absent: never seen). */
  status(keys: readonly string[]): Promise<Map<string, RequestStatus>>;
  claim(key: string, now: Date, holdMs: number, facts: ClaimFacts): Promise<ClaimResult>;
  decide(key: string, decided: Decided, now: Date): Promise<void>;
  /** Notes, on a key this invocation holds, the zone it is about to refresh (the next claim takes it). */
  note(key: string, inFlight: ZoneInFlight, now: Date): Promise<void>;
  /**
   * Marks the key deferred until `until`, keeping the request. `ticket` (`system:KEY`), when given,
   * lists the request under that ticket, so that the ticket's withdrawal can cancel it.
   */
  defer(
    key: string,
    until: string,
    now: Date,
    waiting: { request: ChangeRequestedDetail; origin: RequestOrigin | null; ticket?: string },
  ): Promise<void>;
  complete(key: string, now: Date): Promise<void>;
  /** Hands the key back (the queue delivers the request again); its acceptance time stays. */
  release(key: string): Promise<void>;
  /** The key's `Failed dead-lettered` went out: a redrive may claim it again, knowing that. */
  deadLetter(key: string, now: Date): Promise<void>;
  /** The request kept with a deferred key, while it is still deferred. */
  deferred(key: string): Promise<DeferredRequest | undefined>;
  /**
   * Ends a deferred key with these events as its outcome (to publish, then complete), if it is
   * still deferred; false when its window opened and it was claimed, or it ended, meanwhile.
   */
  closeDeferred(key: string, events: OutgoingEvent[], now: Date): Promise<boolean>;
  /** The keys deferred under a ticket (`system:KEY`), deferred or not any more. */
  ticketDeferrals(ticket: string): Promise<string[]>;
  /**
   * The keys claimed with `group` among their groups (any state, as long as their records are
   * kept). A member is a hint to check against its record: whoever reads it verifies.
   */
  members(group: string): Promise<string[]>;
}
