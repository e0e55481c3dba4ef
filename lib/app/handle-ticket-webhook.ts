/**
 * A ticketing system's webhook turned into `Stickiness Change Requested` events: the worker stays
 * the only thing that writes to OVH.
 *
 * In this order, and nothing is published unless every step passes:
 * 1. a source without a configured secret does not exist (404); a body over the limit is refused
 *    (413) before it is read;
 * 2. the signature is checked on the raw bytes, before anything is parsed (401, no detail);
 * 3. the body must be JSON (415 by content type, 400 when it does not parse);
 * 4. the delivery is read by its source's reader from the signed body alone (400 when a field it
 *    needs is missing); a delivery whose signed time is more than a day from now is a replay,
 *    acknowledged and ignored (200);
 * 5. only an approval asks for a change (Jira: a move into an approved status; ServiceNow: the
 *    approval moving to approved; generic: every signed body): anything else is acknowledged and
 *    ignored (200), so the ticketing system does not retry it;
 * 6. every farm change goes through the intake (lib/domain/intake.ts): fields (400), and whether
 *    the farm type can take the target and the window can still be met (422);
 * 7. one request per farm, its id derived from the source, the ticket, the approval, the farm and
 *    the target, all signed, so a redelivery or a replay with other headers yields the same ids
 *    (the worker makes it a no-op); published together (202), or the caller is told to retry (503).
 *
 * A ticket approving a saved plan (its digest) has that plan's changes requested instead of
 * farms it lists: the plan is read from the registry and checked (registered, not expired, its
 * body hashing to the digest, a saved plan of this version: 422 naming the ticket's field
 * otherwise), and each change goes with `ifStores` (what the plan read: the worker refuses it
 * `changed-since`, writing nothing, when the farm stores something else by then) and the plan's
 * digest, which every audit event of the request names.
 */
import { createHash } from 'node:crypto';
import type { TicketEditIgnoredDetail } from '../domain/audit-events';
import {
  errorFields,
  InvalidInputError,
  NotFoundError,
  PayloadTooLargeError,
  SticklerError,
  UnauthenticatedError,
  UnprocessableError,
  UnsupportedMediaTypeError,
} from '../domain/errors';
import { AUDIT_SCHEMA_VERSION, type CancelRequestedDetail, DETAIL_TYPES } from '../domain/events';
import type { RequestDraft } from '../domain/intake';
import { readRegisteredPlan, type SavedPlan, SavedPlanError } from '../domain/saved-plan';
import type { StickinessWord } from '../domain/stickiness';
import { plainText } from '../domain/text';
import type { Clock } from '../ports/clock';
import type { DeliveryAnswer, DeliveryLog } from '../ports/delivery-log';
import type { EventPublisher } from '../ports/event-publisher';
import type { Log } from '../ports/log';
import { PLAN_RETENTION_MS, type PlanRegistry } from '../ports/plan-registry';
import type { RequestChanges } from './request-changes';
import type { TicketChangeSet, TicketVerdict } from './ticket-change';

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
/** How far ahead of stickler's clock a delivery's signed time may be (senders' clocks drift a little). */
export const MAX_DELIVERY_SKEW_MS = 5 * 60_000;

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
  /** The ticket left its approved state: a cancel of its requests still waiting for their window was published. */
  | { kind: 'withdrawn'; requestIds: []; cancelId: string; withdrawn: string }
  | { kind: 'ignored'; requestIds: []; ignored: string };

export interface TicketWebhookDeps {
  /** The source's shared secret, or undefined when the source is not configured. */
  secretFor(source: TicketSource): Promise<string | undefined>;
  /** Checks the source's signature header over the raw body. */
  verify(source: TicketSource, headers: WebhookRequest['headers'], body: Buffer, secret: string): boolean;
  /** Reads the source's payload from its JSON and the signed bytes (throws InvalidInputError with fields). */
  read(source: TicketSource, json: unknown, rawBody: Buffer): TicketChangeSet;
  /** The intake: builds and publishes the requests, or says what is wrong with them. */
  requestChanges: RequestChanges;
  /** Publishes the cancel of a withdrawn ticket's waiting requests. */
  publisher: EventPublisher;
  /**
   * The answers given to deliveries acted on: the same signed bytes again get the same answer and
   * publish nothing. Without it (or when it cannot be read), a resend publishes the same requests
   * again, which the worker acknowledges without doing or saying anything.
   */
  deliveries?: DeliveryLog;
  /** Saved plans registered for tickets to approve by digest; without it, a ticket naming a plan is refused. */
  plans?: Pick<PlanRegistry, 'read'>;
  clock: Clock;
  log: Log;
}

/** The most changes one ticket may ask for (the generic payload's `changes`), a saved plan's included. */
export const MAX_TICKET_CHANGES = 50;

/**
 * Stable per (source, ticket, approval, farm, target), all of them from the signed body, and
 * within the request-id alphabet: the same signed bytes always give the same ids, whatever
 * headers come with them (a delivery id is for logs only).
 */
export const ticketRequestId = (
  source: string,
  ticket: string,
  approval: string,
  farm: string,
  target: string,
): string =>
  `tkt-${createHash('sha256').update(`${source}\n${ticket}\n${approval}\n${farm}\n${target}`).digest('hex').slice(0, 40)}`;

const isSource = (s: string): s is TicketSource => (TICKET_SOURCES as readonly string[]).includes(s);

/** One change a ticket asks for: as it lists it, or one of the saved plan it approves. */
interface AskedChange {
  target: TicketChangeSet['changes'][number];
  /** A plan's change: only if the farm still stores what the plan read, when it read it. */
  ifStores?: StickinessWord;
  ifStoresAt?: string;
  /** A plan's change: the plan's digest. */
  plan?: string;
}

/** One draft per farm change, for the intake to check. */
function draftsOf(
  source: TicketSource,
  set: TicketChangeSet,
  approval: string,
  changes: readonly AskedChange[],
): RequestDraft[] {
  return changes.map(({ target, ifStores, ifStoresAt, plan }) => ({
    requestId: ticketRequestId(
      source,
      set.ticket,
      approval,
      `${String(target.service)}/${String(target.farmType)}/${String(target.farmId)}`,
      String(target.stickiness),
    ),
    target,
    actor: {
      kind: 'ticket' as const,
      id: `${source}:${set.requester.id}`,
      ...(set.requester.name ? { name: set.requester.name } : {}),
    },
    ticket: { key: set.ticket, ...(source === 'generic' ? {} : { system: source }) },
    ...(set.reason ? { reason: set.reason } : {}),
    // The time the ticketing system signed: the same delivery always makes the same request.
    requestedAt: set.sentAt,
    ...(set.window ? { window: set.window } : {}),
    // The outcome goes back to the ticket (the notifier), for the systems it can write to.
    ...(source === 'generic' ? {} : { notify: { kind: 'ticket' as const, system: source } }),
    ...(ifStores ? { ifStores } : {}),
    ...(ifStoresAt ? { ifStoresAt } : {}),
    ...(plan ? { plan } : {}),
  }));
}

/** A ticket's saved plan refused: 422, naming the ticket's field, and logged with why. */
async function planRefused(
  deps: TicketWebhookDeps,
  source: TicketSource,
  set: TicketChangeSet,
  why: string,
): Promise<UnprocessableError> {
  const { digest, field } = set.plan!;
  deps.log.warn('webhook refused the saved plan a ticket approved', {
    ticket: set.ticket,
    plan: digest,
    why,
  });
  if (source !== 'generic')
    await tellRefusal(deps, source, set, `the saved plan ${digest} cannot be applied: ${why}`);
  return new UnprocessableError(`the saved plan ${digest} cannot be applied: ${why}`, [
    { path: field, message: why },
  ]);
}

/**
 * Says on a Jira or ServiceNow ticket why its approval was refused (`Ticket Approval Refused`, for
 * the notifier): the webhook's answer reaches the ticketing system, never its people. Best effort:
 * a notice that cannot be published is logged, and the refusal stands.
 */
async function tellRefusal(deps: TicketWebhookDeps, source: TicketSystem, set: TicketChangeSet, why: string) {
  const auditId = `ticket-refused:${source}:${set.ticket.slice(0, 64)}:${createHash('sha256').update(why).digest('hex').slice(0, 24)}`;
  const detail: TicketEditIgnoredDetail = {
    schemaVersion: AUDIT_SCHEMA_VERSION,
    auditId,
    system: source,
    ticket: set.ticket.slice(0, 64),
    message: `stickler did not act on this approval: ${why}. Nothing was changed.`,
    ignoredAt: deps.clock.now().toISOString(),
  };
  const { failed } = await deps.publisher
    .publish([
      {
        detailType: DETAIL_TYPES.ticketApprovalRefused,
        detail,
        dedupeKey: auditId,
        source: TICKETING_EVENT_SOURCE,
      },
    ])
    .catch(() => ({ failed: [detail] }));
  if (failed.length > 0)
    deps.log.warn('could not tell the ticket why its approval was refused', { ticket: set.ticket });
}

/**
 * The saved plan a ticket approves, from the registry, checked: registered, not expired, its
 * body hashing to its digest and reading as a saved plan, and no more changes than a ticket's.
 */
async function approvedPlan(
  deps: TicketWebhookDeps,
  source: TicketSource,
  set: TicketChangeSet,
): Promise<SavedPlan> {
  const { digest } = set.plan!;
  if (!deps.plans)
    throw await planRefused(deps, source, set, 'this webhook keeps no saved plans (no table configured)');
  const kept = await deps.plans.read(digest).catch((error: unknown) => {
    throw new SticklerError('plan-unreadable', 'the saved plan could not be read: send it again', {
      retryable: true,
      cause: error,
    });
  });
  if (!kept)
    throw await planRefused(
      deps,
      source,
      set,
      "no saved plan with this digest is registered: register it with 'stickler plan --policy FILE --out PLAN_FILE --pipeline' (the digest it prints)",
    );
  if (kept.expiresAt.getTime() <= deps.clock.now().getTime())
    throw await planRefused(
      deps,
      source,
      set,
      kept.expiresAt.getTime() === 0
        ? 'its registration has no expiry stickler can read (not written by stickler): make a new plan, register it, and approve that'
        : `its registration expired at ${kept.expiresAt.toISOString()}: make a new plan, register it, and approve that`,
    );
  let plan: SavedPlan;
  try {
    plan = readRegisteredPlan(kept.body, digest);
  } catch (error) {
    if (!(error instanceof SavedPlanError)) throw error;
    throw await planRefused(deps, source, set, error.message);
  }
  // A registration kept longer than stickler keeps one (its expiry written by hand) changes nothing.
  if (Date.parse(plan.createdAt) < deps.clock.now().getTime() - PLAN_RETENTION_MS)
    throw await planRefused(
      deps,
      source,
      set,
      `it was made at ${plan.createdAt}, more than 7 days ago: make a new plan, register it, and approve that`,
    );
  if (plan.changes.length > MAX_TICKET_CHANGES)
    throw await planRefused(
      deps,
      source,
      set,
      `it holds ${plan.changes.length} changes, over the ${MAX_TICKET_CHANGES} a ticket may carry`,
    );
  return plan;
}

/** What the approval asks for: the farms the ticket lists, or its saved plan's changes (perhaps none). */
async function askedChanges(
  deps: TicketWebhookDeps,
  source: TicketSource,
  set: TicketChangeSet,
): Promise<AskedChange[]> {
  if (!set.plan) return set.changes.map((target) => ({ target }));
  const plan = await approvedPlan(deps, source, set);
  return plan.changes.map((c) => ({
    target: { service: c.service, farmType: c.type, farmId: c.farmId, stickiness: c.to },
    ifStores: c.from,
    ifStoresAt: plan.createdAt,
    plan: plan.digest,
  }));
}

type TicketSystem = Exclude<TicketSource, 'generic'>;
type Withdrawal = Extract<TicketVerdict, { kind: 'withdrawn' }>;

/** Steps 1-2: the source, its secret, the body's size and its signature, before anything is read. */
async function authenticate(deps: TicketWebhookDeps, request: WebhookRequest): Promise<TicketSource> {
  const { source } = request;
  if (!isSource(source)) throw new NotFoundError(`no webhook source '${source.slice(0, 32)}'`);
  const secret = await deps.secretFor(source);
  if (!secret) throw new NotFoundError(`no webhook is configured for source '${source}'`);
  if (request.body.length > MAX_WEBHOOK_BYTES) throw new PayloadTooLargeError(MAX_WEBHOOK_BYTES);
  if (!deps.verify(source, request.headers, request.body, secret)) {
    deps.log.warn('webhook refused: signature missing or wrong', { source });
    throw new UnauthenticatedError();
  }
  return source;
}

/** The answer given to the same signed bytes before, if the delivery log has it (and can be read). */
async function earlierAnswer(
  deps: TicketWebhookDeps,
  source: TicketSource,
  digest: string,
): Promise<WebhookResult | undefined> {
  const earlier = await deps.deliveries?.answered(source, digest).catch((error: unknown) => {
    deps.log.warn('could not read the delivery log; the delivery is handled as new', {
      error: errorFields(error),
    });
    return undefined;
  });
  return earlier as WebhookResult | undefined;
}

/** Keeps the answer to a delivery acted on (a failure to keep it is only logged), and gives it. */
async function remembered(
  deps: TicketWebhookDeps,
  source: TicketSource,
  digest: string,
  result: WebhookResult,
): Promise<WebhookResult> {
  await deps.deliveries
    ?.remember(source, digest, result as unknown as DeliveryAnswer, deps.clock.now())
    .catch((error: unknown) =>
      deps.log.warn('could not keep the answer to a delivery', { error: errorFields(error) }),
    );
  return result;
}

/** Step 3: the body as JSON. */
function jsonOf(request: WebhookRequest): unknown {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new UnsupportedMediaTypeError('application/json');
  try {
    return JSON.parse(request.body.toString('utf8'));
  } catch {
    throw new InvalidInputError('the body is not JSON', [{ path: '', message: 'not JSON' }]);
  }
}

/** Step 4's replay check: the answer for a delivery whose signed time is out of range, else undefined. */
function replayed(
  deps: TicketWebhookDeps,
  source: TicketSource,
  set: TicketChangeSet,
): WebhookResult | undefined {
  const now = deps.clock.now().getTime();
  const sentAt = Date.parse(set.sentAt);
  if (sentAt < now - MAX_DELIVERY_AGE_MS || sentAt > now + MAX_DELIVERY_SKEW_MS) {
    deps.log.warn('webhook ignored: its signed time is out of range (a replay?)', {
      source,
      ticket: set.ticket,
      sentAt: set.sentAt,
    });
    return {
      kind: 'ignored',
      requestIds: [],
      ignored: `the delivery's own time (${set.sentAt}) is more than a day from now: not acted on, as a replay would not be; send the ticket again`,
    };
  }
  return undefined;
}

/**
 * An approval or a withdrawal older than one already acted on (deliveries come in any order) is
 * not acted on: the ticket's newest transition decides. The answer for a stale one, else undefined.
 */
async function staleTransition(
  deps: TicketWebhookDeps,
  source: TicketSource,
  set: TicketChangeSet,
): Promise<WebhookResult | undefined> {
  const { verdict } = set;
  if (verdict.kind === 'ignored' || verdict.sequence === undefined || !deps.deliveries) return undefined;
  const place = await deps.deliveries
    .transition(`${source}:${set.ticket}`, verdict.sequence, verdict.kind, deps.clock.now())
    .catch((error: unknown) => {
      throw new SticklerError(
        'transition-unknown',
        "the ticket's newest transition could not be checked: send it again",
        { retryable: true, cause: error },
      );
    });
  if (place !== 'stale') return undefined;
  deps.log.info('webhook ignored a transition older than one acted on', { source, ticket: set.ticket });
  return {
    kind: 'ignored',
    requestIds: [],
    ignored: `this ${verdict.kind === 'approved' ? 'approval' : 'withdrawal'} of ${set.ticket} is older than a later transition already acted on: not acted on`,
  };
}

/** The ticket left its approved state: a cancel of its requests still waiting for their window. */
async function publishCancel(
  deps: TicketWebhookDeps,
  source: TicketSystem,
  set: TicketChangeSet,
  verdict: Withdrawal,
): Promise<WebhookResult> {
  const cancelId = `tkt-cancel-${createHash('sha256').update(`${source}\n${set.ticket}\n${verdict.withdrawal}`).digest('hex').slice(0, 40)}`;
  const cancel: CancelRequestedDetail = {
    cancelId,
    ticket: { system: source, key: set.ticket.slice(0, 64) },
    actor: {
      kind: 'ticket',
      id: plainText(`${source}:${set.requester.id}`, 256),
      ...(set.requester.name ? { name: plainText(set.requester.name, 256) } : {}),
    },
    reason: plainText(verdict.reason, 2000),
    requestedAt: set.sentAt,
  };
  const { failed } = await deps.publisher.publish([
    {
      detailType: DETAIL_TYPES.cancelRequested,
      detail: cancel,
      dedupeKey: cancelId,
      source: TICKETING_EVENT_SOURCE,
    },
  ]);
  if (failed.length > 0)
    throw new SticklerError('publish-failed', 'the cancel could not be published', { retryable: true });
  deps.log.info('webhook: approval withdrawn, cancel published', {
    source,
    ticket: set.ticket,
    cancelId,
  });
  return { kind: 'withdrawn', requestIds: [], cancelId, withdrawn: verdict.reason };
}

/**
 * An edit of an approved ticket's change: said once on the ticket (the notifier), and the answer
 * kept (by the caller), so that a redelivery of this edit says nothing more. Its own comment
 * coming back is a comment: ignored, with no notice.
 */
async function publishEditNotice(
  deps: TicketWebhookDeps,
  source: TicketSystem,
  set: TicketChangeSet,
  edit: { notice: string; reason: string },
  digest: string,
): Promise<WebhookResult> {
  const auditId = `ticket-edit:${source}:${set.ticket.slice(0, 64)}:${digest.slice(0, 24)}`;
  const detail: TicketEditIgnoredDetail = {
    schemaVersion: AUDIT_SCHEMA_VERSION,
    auditId,
    system: source,
    ticket: set.ticket.slice(0, 64),
    message: edit.notice,
    ignoredAt: deps.clock.now().toISOString(),
  };
  const { failed } = await deps.publisher.publish([
    {
      detailType: DETAIL_TYPES.ticketEditIgnored,
      detail,
      dedupeKey: auditId,
      source: TICKETING_EVENT_SOURCE,
    },
  ]);
  if (failed.length > 0)
    throw new SticklerError('publish-failed', 'the notice could not be published', { retryable: true });
  deps.log.info('webhook ignored an edit after approval, and says so on the ticket', {
    source,
    ticket: set.ticket,
  });
  return { kind: 'ignored', requestIds: [], ignored: edit.reason };
}

/** Steps 6-7: an approval's requests, through the intake, published together. */
async function acceptApproval(
  deps: TicketWebhookDeps,
  source: TicketSource,
  set: TicketChangeSet,
  approval: string,
): Promise<WebhookResult> {
  const changes = await askedChanges(deps, source, set);
  if (set.plan && changes.length === 0) {
    deps.log.info('webhook: the approved saved plan holds no change', { source, ticket: set.ticket });
    return {
      kind: 'ignored',
      requestIds: [],
      ignored: `the saved plan ${set.plan.digest} holds no change: nothing to apply`,
    };
  }
  const requests = await deps.requestChanges(
    TICKETING_EVENT_SOURCE,
    draftsOf(source, set, approval, changes),
    `ticket ${set.ticket.slice(0, 64)}`,
  );
  deps.log.info('webhook accepted', {
    source,
    ticket: set.ticket,
    requestIds: requests.map((r) => r.requestId),
    ...(set.plan ? { plan: set.plan.digest } : {}),
  });
  return { kind: 'accepted', requestIds: requests.map((r) => r.requestId) };
}

/** Step 5: what the delivery's verdict asks for, and the answer (kept when it was acted on). */
async function actOn(
  deps: TicketWebhookDeps,
  source: TicketSource,
  set: TicketChangeSet,
  digest: string,
): Promise<WebhookResult> {
  const { verdict } = set;
  if (verdict.kind === 'withdrawn' && source !== 'generic')
    return remembered(deps, source, digest, await publishCancel(deps, source, set, verdict));
  if (verdict.kind === 'ignored' && verdict.notice && source !== 'generic')
    return remembered(
      deps,
      source,
      digest,
      await publishEditNotice(deps, source, set, { notice: verdict.notice, reason: verdict.reason }, digest),
    );
  if (verdict.kind !== 'approved') {
    deps.log.info('webhook ignored', {
      source,
      ticket: set.ticket,
      verdict: verdict.kind,
      reason: verdict.reason,
    });
    return { kind: 'ignored', requestIds: [], ignored: verdict.reason };
  }
  return remembered(deps, source, digest, await acceptApproval(deps, source, set, verdict.approval));
}

export const makeHandleTicketWebhook = (deps: TicketWebhookDeps) =>
  async function handleTicketWebhook(request: WebhookRequest): Promise<WebhookResult> {
    const source = await authenticate(deps, request);
    // The same signed bytes as a delivery already acted on (a redelivery, or a captured one resent
    // with other headers): the same answer, and nothing published again.
    const digest = createHash('sha256').update(request.body).digest('hex');
    const earlier = await earlierAnswer(deps, source, digest);
    if (earlier) {
      deps.log.info('webhook: a delivery already acted on, answered again, nothing published', { source });
      return earlier;
    }
    const set = deps.read(source, jsonOf(request), request.body);
    return (
      replayed(deps, source, set) ??
      (await staleTransition(deps, source, set)) ??
      actOn(deps, source, set, digest)
    );
  };
