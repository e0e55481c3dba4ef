/**
 * A request to set one farm's stickiness, whatever produced it (ticket, chat, compliance run,
 * another system, the CLI). Requests are the unit of audit: each ends with exactly one outcome.
 */
import * as z from 'zod/mini';
import { type FarmRef, farmKey, SERVICE_NAME_PATTERN, SERVICE_NAME_RULE } from './farm';
import { FarmTypeSchema, StickinessWordSchema } from './stickiness';

export const ACTOR_KINDS = ['ticket', 'chat', 'compliance', 'system', 'cli'] as const;

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
  ticket: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
  reason: z.optional(z.string().check(z.maxLength(2000))),
  requestedAt: z.iso.datetime({ offset: true }),
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
