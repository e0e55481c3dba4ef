/**
 * A ticketing system's webhook turned into `Stickiness Change Requested` events: the worker stays
 * the only thing that writes to OVH.
 *
 * In this order, and nothing is published unless every step passes:
 * 1. a source without a configured secret does not exist (404); a body over the limit is refused
 *    (413) before it is read;
 * 2. the signature is checked on the raw bytes, before anything is parsed (401, no detail);
 * 3. the body must be JSON (415 by content type, 400 when it does not parse);
 * 4. the ticket is read by its source's reader; one not in an approved state is acknowledged and
 *    ignored (200), so the ticketing system does not retry it;
 * 5. every farm change is checked: fields (400) and whether the farm type can take the target,
 *    and whether the window is still open (422);
 * 6. one request per farm, with a request id derived from the source, the ticket, the farm and
 *    the ticket's change identity, so a redelivery yields the same ids (the worker makes it a
 *    no-op); published together (202), or the caller is told to retry (503).
 */
import { createHash } from 'node:crypto';
import { farmRefOf } from '../domain/change-request';
import { describeIssues } from '../domain/describe-issue';
import {
  InvalidInputError,
  NotFoundError,
  PayloadTooLargeError,
  SticklerError,
  UnauthenticatedError,
  UnprocessableError,
  UnsupportedMediaTypeError,
} from '../domain/errors';
import { type ChangeRequestedDetail, ChangeRequestedDetailSchema, DETAIL_TYPES } from '../domain/events';
import { formatFarmRef } from '../domain/farm';
import { checkTarget, toWire } from '../domain/stickiness';
import type { Clock } from '../ports/clock';
import type { EventPublisher } from '../ports/event-publisher';
import type { Log } from '../ports/log';
import type { TicketChangeSet } from './ticket-change';

export const TICKET_SOURCES = ['jira', 'servicenow', 'generic'] as const;
export type TicketSource = (typeof TICKET_SOURCES)[number];

/** EventBridge's limit on one event: a body larger than this could never become one. */
export const MAX_WEBHOOK_BYTES = 256 * 1024;

/**
 * A delivery whose signed time is further back than this is not acted on: ticketing systems
 * retry within hours, and a replay of a captured request must not apply an old change again
 * once the worker's idempotency records have expired.
 */
export const MAX_DELIVERY_AGE_MS = 24 * 3600_000;

/** `source` of the change requests the webhook publishes. */
export const TICKETING_EVENT_SOURCE = 'stickler.ticketing';

export interface WebhookRequest {
  source: string;
  /** Header names in lower case. */
  headers: Readonly<Record<string, string | undefined>>;
  /** The body exactly as received (decoded from base64 when the gateway encoded it). */
  body: Buffer;
}

export type WebhookResult =
  | { kind: 'accepted'; requestIds: string[] }
  | { kind: 'ignored'; requestIds: []; ignored: string };

export interface TicketWebhookDeps {
  /** The source's shared secret, or undefined when the source is not configured. */
  secretFor(source: TicketSource): Promise<string | undefined>;
  /** Checks the source's signature header over the raw body. */
  verify(source: TicketSource, headers: WebhookRequest['headers'], body: Buffer, secret: string): boolean;
  /** Reads the source's payload (throws InvalidInputError with fields). */
  read(
    source: TicketSource,
    json: unknown,
    headers: WebhookRequest['headers'],
    rawBody: Buffer,
  ): TicketChangeSet;
  publisher: EventPublisher;
  clock: Clock;
  log: Log;
}

/** Stable per (source, ticket, farm, change identity), and within the request-id alphabet. */
export const ticketRequestId = (source: string, ticket: string, farm: string, identity: string): string =>
  `tkt-${createHash('sha256').update(`${source}\n${ticket}\n${farm}\n${identity}`).digest('hex').slice(0, 40)}`;

const isSource = (s: string): s is TicketSource => (TICKET_SOURCES as readonly string[]).includes(s);

function toRequests(source: TicketSource, set: TicketChangeSet, now: Date): ChangeRequestedDetail[] {
  const requests: ChangeRequestedDetail[] = [];
  const invalid: { path: string; message: string }[] = [];
  const impossible: { path: string; message: string }[] = [];
  set.changes.forEach((change, i) => {
    const path = set.changes.length > 1 ? `changes[${i}]` : '';
    const candidate = {
      requestId: 'pending',
      service: change.service,
      farmType: change.farmType,
      farmId: change.farmId,
      stickiness: change.stickiness,
      actor: {
        kind: 'ticket',
        id: `${source}:${set.requester.id}`.slice(0, 256),
        ...(set.requester.name ? { name: set.requester.name.slice(0, 256) } : {}),
      },
      ticket: set.ticket.slice(0, 256),
      ...(set.reason ? { reason: set.reason.slice(0, 2000) } : {}),
      requestedAt: now.toISOString(),
      ...(set.window ? { window: set.window } : {}),
      // The outcome goes back to the ticket (the notifier), for the systems it can write to.
      ...(source === 'generic' ? {} : { notify: { kind: 'ticket', system: source } }),
    };
    const parsed = ChangeRequestedDetailSchema.safeParse(candidate);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        invalid.push({
          path: [path, ...issue.path.map(String)].filter(Boolean).join('.'),
          message: describeIssues([{ ...issue, path: [] }], candidate).replace(/^\(root\): /, ''),
        });
      }
      return;
    }
    const r = parsed.data;
    const verdict = checkTarget(r.farmType, toWire(r.stickiness));
    if (!verdict.ok) {
      impossible.push({
        path: [path, 'stickiness'].filter(Boolean).join('.'),
        message: `${formatFarmRef(farmRefOf(r))}: ${verdict.reason}`,
      });
      return;
    }
    const farm = `${r.service}/${r.farmType}/${r.farmId}`;
    requests.push({ ...r, requestId: ticketRequestId(source, set.ticket, farm, set.identity) });
  });
  if (invalid.length > 0)
    throw new InvalidInputError(`ticket ${set.ticket} does not say a valid change`, invalid);
  if (impossible.length > 0)
    throw new UnprocessableError(`ticket ${set.ticket} asks for what its farms cannot take`, impossible);
  const closed = set.window?.notAfter && Date.parse(set.window.notAfter) < now.getTime();
  if (closed)
    throw new UnprocessableError(`ticket ${set.ticket}'s change window closed at ${set.window!.notAfter}`, [
      { path: 'window.notAfter', message: 'in the past' },
    ]);
  return requests;
}

export const makeHandleTicketWebhook = (deps: TicketWebhookDeps) =>
  async function handleTicketWebhook(request: WebhookRequest): Promise<WebhookResult> {
    const { source } = request;
    if (!isSource(source)) throw new NotFoundError(`no webhook source '${source.slice(0, 32)}'`);
    const secret = await deps.secretFor(source);
    if (!secret) throw new NotFoundError(`no webhook is configured for source '${source}'`);
    if (request.body.length > MAX_WEBHOOK_BYTES) throw new PayloadTooLargeError(MAX_WEBHOOK_BYTES);
    if (!deps.verify(source, request.headers, request.body, secret)) {
      deps.log.warn('webhook refused: signature missing or wrong', { source });
      throw new UnauthenticatedError();
    }
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') throw new UnsupportedMediaTypeError('application/json');
    let json: unknown;
    try {
      json = JSON.parse(request.body.toString('utf8'));
    } catch {
      throw new InvalidInputError('the body is not JSON', [{ path: '', message: 'not JSON' }]);
    }
    const set = deps.read(source, json, request.headers, request.body);
    const now = deps.clock.now().getTime();
    if (
      set.sentAt &&
      (Date.parse(set.sentAt) < now - MAX_DELIVERY_AGE_MS || Date.parse(set.sentAt) > now + 5 * 60_000)
    ) {
      deps.log.warn('webhook ignored: its signed time is out of range (a replay?)', {
        source,
        ticket: set.ticket,
        sentAt: set.sentAt,
      });
      return {
        kind: 'ignored',
        requestIds: [],
        ignored: `the delivery's own time (${set.sentAt}) is more than a day away from now: not acted on, as a replay would not be; send the ticket again`,
      };
    }
    if (set.notApproved) {
      deps.log.info('webhook ignored: ticket not approved', { source, ticket: set.ticket });
      return { kind: 'ignored', requestIds: [], ignored: set.notApproved };
    }
    const requests = toRequests(source, set, deps.clock.now());
    const { failed } = await deps.publisher.publish(
      requests.map((detail) => ({
        detailType: DETAIL_TYPES.changeRequested,
        detail,
        dedupeKey: detail.requestId,
        source: TICKETING_EVENT_SOURCE,
      })),
    );
    if (failed.length > 0) {
      // Some may have gone out: the same delivery again yields the same ids, which the worker dedupes.
      throw new SticklerError('publish-failed', `${failed.length} change request(s) could not be published`, {
        retryable: true,
      });
    }
    deps.log.info('webhook accepted', {
      source,
      ticket: set.ticket,
      requestIds: requests.map((r) => r.requestId),
    });
    return { kind: 'accepted', requestIds: requests.map((r) => r.requestId) };
  };
