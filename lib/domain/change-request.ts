/**
 * A request to set one farm's stickiness, whatever produced it (ticket, chat, compliance run,
 * another system, the CLI). Requests are the unit of audit: each ends with exactly one outcome.
 */
import * as z from 'zod/mini';
import { type FarmRef, farmKey, SERVICE_NAME_PATTERN, SERVICE_NAME_RULE } from './farm';
import { FarmTypeSchema, StickinessWordSchema } from './stickiness';

export const ACTOR_KINDS = ['ticket', 'chat', 'compliance', 'system', 'cli'] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];

export const ActorSchema = z.strictObject({
  kind: z.enum(ACTOR_KINDS),
  /** Who asked: a ticketing user, a chat user id, a policy file, a system name. */
  id: z.string().check(z.minLength(1), z.maxLength(256)),
  name: z.optional(z.string().check(z.maxLength(256))),
});
export type Actor = z.infer<typeof ActorSchema>;

/**
 * What a request id may be made of: it is the idempotency key (a DynamoDB key) and appears in
 * logs and audit events, so it is short and printable. Letters, digits and `. _ : @ / + = -`,
 * starting with a letter or a digit; a UUID, a ticket key or a hash all fit.
 */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}$/;
export const REQUEST_ID_RULE =
  'must be 1 to 128 characters: letters, digits and . _ : @ / + = -, starting with a letter or a digit';

export const RequestIdSchema = z.string().check(z.regex(REQUEST_ID_PATTERN, { message: REQUEST_ID_RULE }));

/** A saved plan's digest (lib/domain/saved-plan.ts): SHA-256, 64 lower-case hex digits. */
export const PLAN_DIGEST_PATTERN = /^[0-9a-f]{64}$/;
export const PLAN_DIGEST_RULE = "a saved plan's digest is 64 lower-case hex digits (stickler plan prints it)";
export const PlanDigestSchema = z.string().check(z.regex(PLAN_DIGEST_PATTERN, { message: PLAN_DIGEST_RULE }));

/**
 * A ticket key as any request may carry it: printable, short, starting with a letter or a digit
 * and never holding `..` (it is shown everywhere and, for a ticketing system, goes in a URL path).
 */
export const TICKET_KEY_PATTERN = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._:#/-]{0,63}$/;
export const TICKET_KEY_RULE =
  'a ticket key is 1 to 64 letters, digits and . _ : # / -, starting with a letter or a digit, without ..';

/** The ticketing systems stickler writes back to, and the exact shape of their keys. */
export const TICKET_SYSTEMS = ['jira', 'servicenow'] as const;
export type TicketSystem = (typeof TICKET_SYSTEMS)[number];
export const TICKET_SYSTEM_KEYS: Record<TicketSystem, { pattern: RegExp; rule: string }> = {
  jira: { pattern: /^[A-Z][A-Z0-9_]{0,49}-[1-9]\d{0,9}$/, rule: 'a Jira issue key is PROJECT-123' },
  servicenow: {
    pattern: /^[A-Z]{2,10}\d{4,12}$/,
    rule: 'a ServiceNow change number is letters then digits, like CHG0030042',
  },
};

/** Why `key` is not a ticket key of `system` (any system when undefined), or undefined when it is. */
export const ticketKeyProblem = (key: string, system?: TicketSystem): string | undefined => {
  const rule = system ? TICKET_SYSTEM_KEYS[system] : { pattern: TICKET_KEY_PATTERN, rule: TICKET_KEY_RULE };
  return rule.pattern.test(key) ? undefined : rule.rule;
};

/**
 * Strict: a key stickler does not know is refused with its name, never dropped, so a misspelled
 * safety field (`changeWindow` for `window`) cannot silently turn into "apply now".
 */
export const ChangeRequestSchema = z.strictObject({
  requestId: RequestIdSchema,
  service: z.string().check(z.regex(SERVICE_NAME_PATTERN, { message: SERVICE_NAME_RULE })),
  farmType: FarmTypeSchema,
  farmId: z.int().check(z.positive()),
  stickiness: StickinessWordSchema,
  actor: ActorSchema,
  ticket: z.optional(z.string().check(z.regex(TICKET_KEY_PATTERN, { message: TICKET_KEY_RULE }))),
  reason: z.optional(z.string().check(z.maxLength(2000))),
  requestedAt: z.iso.datetime({ offset: true }),
  /**
   * Carried out only if the farm stores this when the worker comes to it (what the requester
   * saw: an undo's "from"); otherwise refused `changed-since`, nothing written.
   */
  ifStores: z.optional(StickinessWordSchema),
  /**
   * When `ifStores` was read (a saved plan's `createdAt`): a request for the farm accepted after
   * that was decided on a later state of the farm, and this one is superseded by it.
   */
  ifStoresAt: z.optional(z.iso.datetime({ offset: true })),
  /**
   * The saved plan (its digest) this change is one of, when a ticket approved the plan as a whole
   * (README, "Approving a saved plan through a ticket"): carried into every audit event.
   */
  plan: z.optional(PlanDigestSchema),
});
export type ChangeRequest = z.infer<typeof ChangeRequestSchema>;

/** The farm a request is about, as the rest of the core names farms. */
export const farmRefOf = (request: Pick<ChangeRequest, 'service' | 'farmType' | 'farmId'>): FarmRef => ({
  service: request.service,
  type: request.farmType,
  farmId: request.farmId,
});

export interface Superseded {
  request: ChangeRequest;
  by: ChangeRequest;
}

/**
 * Keeps the latest request per farm (by `requestedAt`, then by arrival order) and names the
 * ones it supersedes, so that each still gets an outcome.
 */
export const selectLatestPerFarm = (
  requests: readonly ChangeRequest[],
): { kept: ChangeRequest[]; superseded: Superseded[] } => {
  const latest = new Map<string, ChangeRequest>();
  for (const request of requests) {
    const key = farmKey(farmRefOf(request));
    const current = latest.get(key);
    if (!current || Date.parse(request.requestedAt) >= Date.parse(current.requestedAt))
      latest.set(key, request);
  }
  const keptSet = new Set(latest.values());
  const kept = requests.filter((r) => keptSet.has(r));
  const superseded = requests
    .filter((r) => !keptSet.has(r))
    .map((request) => ({
      request,
      by: latest.get(farmKey(farmRefOf(request)))!,
    }));
  return { kept, superseded };
};

/**
 * Keys of the worker's records that are not a change request's own id (a cancel, or a message
 * that named no usable id): they start with `~`, which no request id may hold, so a change
 * request can never be given the key of a cancel or of another message (`cancel:X` is an
 * ordinary request id).
 */
export const RECORD_KEYS = {
  cancel: (cancelId: string) => `~cancel:${cancelId}`,
  cancelEvent: (eventId: string) => `~cancel-event:${eventId}`,
  cancelRecord: (recordId: string) => `~cancel-record:${recordId}`,
  event: (eventId: string) => `~event:${eventId}`,
  record: (recordId: string) => `~record:${recordId}`,
  refresh: (refreshId: string) => `~refresh:${refreshId}`,
  refreshEvent: (eventId: string) => `~refresh-event:${eventId}`,
} as const;
