/**
 * The one constructor of a change request. Every door (the ticket webhook, Slack's Apply, a
 * compliance run, a rollout's next zone, the CLI through the pipeline) turns what it was given
 * into a `Stickiness Change Requested` detail here, and nothing is published that did not pass:
 * - the fields, by the event's own schema (strict: an unknown key is an error);
 * - the ticket key, by the syntax of the system it belongs to (Jira, ServiceNow, or any);
 * - free text (who asked, why) stripped of control and bidirectional characters and bounded;
 * - the target against the farm's type (`cookie` on a TCP farm, anything on UDP: impossible);
 * - the window: it must still be open, and open before the acceptance horizon (a window opening
 *   after the worker would refuse the request as stale can never be met).
 * Pure: the time is given.
 */
import { type ActorKind, type TicketSystem, ticketKeyProblem } from './change-request';
import { describeIssue, formatPath } from './describe-issue';
import type { InputIssue } from './errors';
import { type ChangeRequestedDetail, ChangeRequestedDetailSchema, type Notify } from './events';
import { formatFarmRef } from './farm';
import { DEFAULT_TIME_LIMITS, type TimeLimits } from './request-rules';
import { checkTarget, type StickinessWord, toWire } from './stickiness';
import { plainText, quoted } from './text';

/** The farm and target as a door read them: checked here, field by field. */
export interface FarmTarget {
  service: unknown;
  farmType: unknown;
  farmId: unknown;
  stickiness: unknown;
}

export interface RequestDraft {
  /** Derived by the door from what its caller signed or approved (see each door). */
  requestId: string;
  target: FarmTarget;
  actor: { kind: ActorKind; id: string; name?: string | undefined };
  /** The ticket, and the system its key belongs to (checked against that system's syntax). */
  ticket?: { key: string; system?: TicketSystem | undefined } | undefined;
  reason?: string | undefined;
  requestedAt: string;
  window?:
    | { notBefore?: string | undefined; notAfter?: string | undefined; prefer?: 'quietest' | undefined }
    | undefined;
  notify?: Notify | undefined;
  /** Carried out only if the farm stores this then (what the requester saw: an undo's from). */
  ifStores?: StickinessWord | undefined;
  /** When `ifStores` was read (a saved plan's `createdAt`). */
  ifStoresAt?: string | undefined;
  /** The saved plan (its digest) the change is one of, as a ticket approved it. */
  plan?: string | undefined;
}

export type IntakeResult =
  | { ok: true; request: ChangeRequestedDetail }
  /** `invalid`: not a change request; `impossible`: well formed, but it can never be carried out. */
  | { ok: false; kind: 'invalid' | 'impossible'; issues: InputIssue[] };

export const MAX_ACTOR_TEXT = 256;
export const MAX_REASON = 2000;

const defined = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/** Why a request's window makes it impossible (closed, or opening past what the worker accepts). */
const windowProblem = (
  request: ChangeRequestedDetail,
  now: Date,
  limits: TimeLimits,
): InputIssue | undefined => {
  const window = request.window;
  if (window?.notAfter && Date.parse(window.notAfter) <= now.getTime())
    return { path: 'window.notAfter', message: `the change window closed at ${window.notAfter}` };
  const horizon = Date.parse(request.requestedAt) + limits.maxAgeMs;
  if (window?.notBefore && Date.parse(window.notBefore) > horizon)
    return {
      path: 'window.notBefore',
      message: `the change window opens at ${window.notBefore}, more than ${Math.round(limits.maxAgeMs / 86_400_000)} days after the request (${request.requestedAt}): stickler refuses requests that old, so it could never be carried out; ask again nearer the time`,
    };
  return undefined;
};

/** The draft as a request's fields, free text made plain and bounded, for the schema to check. */
const candidateOf = (draft: RequestDraft) => {
  const reason = draft.reason === undefined ? undefined : plainText(draft.reason, MAX_REASON) || undefined;
  const actorName =
    draft.actor.name === undefined ? undefined : plainText(draft.actor.name, MAX_ACTOR_TEXT) || undefined;
  return defined({
    requestId: draft.requestId,
    service: draft.target.service,
    farmType: draft.target.farmType,
    farmId: draft.target.farmId,
    stickiness: draft.target.stickiness,
    actor: defined({
      kind: draft.actor.kind,
      id: plainText(draft.actor.id, MAX_ACTOR_TEXT),
      name: actorName,
    }),
    ticket: draft.ticket?.key,
    reason,
    requestedAt: draft.requestedAt,
    window: draft.window ? defined({ ...draft.window }) : undefined,
    notify: draft.notify,
    ifStores: draft.ifStores,
    ifStoresAt: draft.ifStoresAt,
    plan: draft.plan,
  });
};

/** Builds one change request from a door's draft, or says every field that is wrong. */
export const buildChangeRequest = (
  draft: RequestDraft,
  now: Date,
  limits: TimeLimits = DEFAULT_TIME_LIMITS,
): IntakeResult => {
  const issues: InputIssue[] = [];
  if (draft.ticket) {
    const problem = ticketKeyProblem(draft.ticket.key, draft.ticket.system);
    if (problem)
      issues.push({
        path: 'ticket',
        message: `${problem}, got ${quoted(draft.ticket.key)}`,
      });
  }
  const candidate = candidateOf(draft);
  const parsed = ChangeRequestedDetailSchema.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // The ticket was checked above with the system's own rule.
      if (issue.path[0] === 'ticket' && issues.some((i) => i.path === 'ticket')) continue;
      issues.push({ path: formatPath(issue.path), message: describeIssue(issue, candidate) });
    }
  }
  if (issues.length > 0 || !parsed.success) return { ok: false, kind: 'invalid', issues };
  const request = parsed.data;
  const verdict = checkTarget(request.farmType, toWire(request.stickiness));
  if (!verdict.ok)
    return {
      ok: false,
      kind: 'impossible',
      issues: [
        {
          path: 'stickiness',
          message: `${formatFarmRef({ service: request.service, type: request.farmType, farmId: request.farmId })}: ${verdict.reason}`,
        },
      ],
    };
  const late = windowProblem(request, now, limits);
  if (late) return { ok: false, kind: 'impossible', issues: [late] };
  return { ok: true, request };
};
