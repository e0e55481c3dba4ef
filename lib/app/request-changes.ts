/**
 * Publishes change requests, for every door: each draft goes through the one constructor
 * (lib/domain/intake.ts), and either every request of a call passes and all are published
 * together, or none is and the caller learns every field that was wrong (InvalidInputError, or
 * UnprocessableError for well-formed requests that can never be carried out). A bus that refuses
 * some of them is a retryable failure: the door asks its caller to send again, and the same
 * content yields the same request ids, which the worker deduplicates.
 */

import type { OutgoingEvent } from '../domain/audit-events';
import { type InputIssue, InvalidInputError, SticklerError, UnprocessableError } from '../domain/errors';
import { type ChangeRequestedDetail, DETAIL_TYPES } from '../domain/events';
import { buildChangeRequest, type RequestDraft } from '../domain/intake';
import type { TimeLimits } from '../domain/request-rules';
import { plainText } from '../domain/text';
import type { Clock } from '../ports/clock';
import type { EventPublisher } from '../ports/event-publisher';

export interface RequestChangesDeps {
  publisher: EventPublisher;
  clock: Clock;
  timeLimits?: TimeLimits;
}

/** The fields of one farm's change; every other field of a draft is shared by a door's drafts. */
const FARM_FIELDS = new Set(['service', 'farmType', 'farmId', 'stickiness', 'requestId', '']);

/** Builds every draft, or throws with all the issues (paths prefixed `changes[i]` when several). */
export const buildAll = (
  drafts: readonly RequestDraft[],
  now: Date,
  what: string,
  timeLimits?: TimeLimits,
): ChangeRequestedDetail[] => {
  const invalid: InputIssue[] = [];
  const impossible: InputIssue[] = [];
  const built: ChangeRequestedDetail[] = [];
  drafts.forEach((draft, i) => {
    const result = buildChangeRequest(draft, now, timeLimits);
    if (result.ok) {
      built.push(result.request);
      return;
    }
    const prefix = drafts.length > 1 ? `changes[${i}]` : '';
    const list = result.kind === 'invalid' ? invalid : impossible;
    for (const issue of result.issues) {
      // What every change of a call shares (the ticket, who asked, the window) is said once.
      const shared = !FARM_FIELDS.has(issue.path.split(/[.[]/)[0]!);
      const path = shared ? issue.path : [prefix, issue.path].filter(Boolean).join('.');
      if (!list.some((i) => i.path === path && i.message === issue.message)) list.push({ ...issue, path });
    }
  });
  // One change per farm in one call: two for the same farm (say, contradictory targets) would be
  // decided by their request ids' order, which nobody chose.
  const seen = new Map<string, number>();
  built.forEach((r, i) => {
    const farm = `${r.service}/${r.farmType}/${r.farmId}`;
    const first = seen.get(farm);
    if (first === undefined) seen.set(farm, i);
    else
      invalid.push({
        path: `changes[${drafts.findIndex((d) => d.requestId === r.requestId)}]`,
        message: `names farm ${r.service} ${r.farmType}/${r.farmId} again (changes[${drafts.findIndex((d) => d.requestId === built[first]!.requestId)}] already does): one change per farm`,
      });
  });
  if (invalid.length > 0)
    throw new InvalidInputError(`${plainText(what, 200)} does not say a valid change`, invalid);
  if (impossible.length > 0)
    throw new UnprocessableError(`${plainText(what, 200)} asks for what cannot be done`, impossible);
  return built;
};

/** A request already built (stored, then published again later) as a draft for the intake. */
export const draftOfRequest = (request: ChangeRequestedDetail): RequestDraft => ({
  requestId: request.requestId,
  target: {
    service: request.service,
    farmType: request.farmType,
    farmId: request.farmId,
    stickiness: request.stickiness,
  },
  actor: request.actor,
  ...(request.ticket ? { ticket: { key: request.ticket } } : {}),
  ...(request.reason ? { reason: request.reason } : {}),
  requestedAt: request.requestedAt,
  ...(request.window ? { window: request.window } : {}),
  ...(request.notify ? { notify: request.notify } : {}),
});

/** The `Stickiness Change Requested` event of a built request, published with the door's source. */
export const changeRequestedEvent = (request: ChangeRequestedDetail, source: string): OutgoingEvent => ({
  detailType: DETAIL_TYPES.changeRequested,
  detail: request,
  dedupeKey: request.requestId,
  source,
});

export const makeRequestChanges = (deps: RequestChangesDeps) =>
  /**
   * Builds and publishes `drafts` from `source` (the door's own EventBridge source). `what` names
   * the input in errors ("ticket OPS-12"). Returns the requests published.
   */
  async function requestChanges(
    source: string,
    drafts: readonly RequestDraft[],
    what: string,
  ): Promise<ChangeRequestedDetail[]> {
    const requests = buildAll(drafts, deps.clock.now(), what, deps.timeLimits);
    if (requests.length === 0) return [];
    const { failed } = await deps.publisher.publish(requests.map((r) => changeRequestedEvent(r, source)));
    if (failed.length > 0)
      throw new SticklerError(
        'publish-failed',
        `${failed.length} of ${requests.length} change request(s) could not be published`,
        { retryable: true },
      );
    return requests;
  };

export type RequestChanges = ReturnType<typeof makeRequestChanges>;
