/**
 * A zone refresh through the pipeline, as a door asks for it: one `Zone Refresh Requested` of
 * source `stickler.cli` carrying the count of unapplied changes the operator saw and approved
 * (`ifPending`), published on the bus and followed in the worker's records (`~refresh:<id>`) to
 * its one terminal outcome: applied, unchanged, refused (with its code: `changed-since` when the
 * zone holds another count by then) or failed. The worker takes the load balancer's lease first,
 * so the refresh never races its own writes there, and audits the outcome.
 */
import { randomBytes } from 'node:crypto';
import type { TerminalOutcome } from '../domain/audit-events';
import { RECORD_KEYS } from '../domain/change-request';
import { InvalidInputError } from '../domain/errors';
import { DETAIL_TYPES, ZoneRefreshRequestedDetailSchema } from '../domain/events';
import { plainText } from '../domain/text';
import type { Clock } from '../ports/clock';
import type { EventPublisher } from '../ports/event-publisher';
import type { IdempotencyStore } from '../ports/idempotency-store';
import { type FollowOptions, makeFollowRequests } from './follow-requests';
import type { Asker } from './pipeline-door';
import { CLI_SOURCE, cliActor } from './request-groups';

/** What the operator approved: this zone, holding this many unapplied changes. */
export interface ZoneRefreshAsk {
  service: string;
  zone: string;
  ifPending: number;
  /** When `ifPending` was read (ISO 8601). */
  lookedAt: string;
}

export interface ZoneRefreshResult {
  refreshId: string;
  /** The worker's outcome; `not-published`: the bus refused it (nothing asked); `running`: no outcome yet. */
  outcome: TerminalOutcome['outcome'] | 'not-published' | 'running';
  terminal?: TerminalOutcome;
  /** `not-published`: the bus's error code; `running`: the state last seen, or the bus's non-answer. */
  detail?: string;
}

/** A refresh's id: time-ordered and unique enough (base-36 milliseconds and 8 random hex). */
export const newRefreshId = (now: Date): string =>
  `refresh-${now.getTime().toString(36)}-${randomBytes(4).toString('hex')}`;

/** The refresh as the worker's schema takes it (free text bounded and stripped), or why not. */
const refreshDetail = (refreshId: string, ask: ZoneRefreshAsk, asker: Asker, now: Date) => {
  const parsed = ZoneRefreshRequestedDetailSchema.safeParse({
    refreshId,
    service: ask.service,
    zone: ask.zone,
    actor: cliActor(asker),
    ...(asker.reason ? { reason: plainText(asker.reason, 2000) } : {}),
    requestedAt: now.toISOString(),
    ifPending: ask.ifPending,
    lookedAt: ask.lookedAt,
  });
  if (!parsed.success)
    throw new InvalidInputError(
      'the zone refresh is not valid',
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  return parsed.data;
};

export const makeRefreshDoor = (deps: {
  publisher: EventPublisher;
  records: Pick<IdempotencyStore, 'status'>;
  clock: Clock;
}) => {
  const follow = makeFollowRequests({ idempotency: deps.records, clock: deps.clock });
  /** Publishes the refresh and follows it until its outcome, or until `followOptions.timeoutMs` runs out. */
  return async (
    refreshId: string,
    ask: ZoneRefreshAsk,
    asker: Asker,
    followOptions: FollowOptions,
  ): Promise<ZoneRefreshResult> => {
    const detail = refreshDetail(refreshId, ask, asker, deps.clock.now());
    const key = RECORD_KEYS.refresh(refreshId);
    // One look at the records before anything is published: a table that cannot be read fails here.
    await deps.records.status([key]);
    const event = {
      detailType: DETAIL_TYPES.zoneRefreshRequested,
      detail,
      dedupeKey: refreshId,
      source: CLI_SOURCE,
    };
    const { failed, why } = await deps.publisher.publish([event]);
    const refusal =
      failed.length > 0
        ? (why?.get(failed[0]!) ?? { code: 'not-published', maybePublished: false })
        : undefined;
    // Refused by the bus: nothing was asked. No answer: it may be out, so it is followed.
    if (refusal && !refusal.maybePublished)
      return { refreshId, outcome: 'not-published', detail: refusal.code };
    const followed = (await follow([key], followOptions)).get(key);
    if (followed?.kind === 'ended')
      return { refreshId, outcome: followed.terminal.outcome, terminal: followed.terminal };
    const state = followed?.kind === 'running' ? followed.state : undefined;
    return { refreshId, outcome: 'running', ...(state || refusal ? { detail: state ?? refusal!.code } : {}) };
  };
};
