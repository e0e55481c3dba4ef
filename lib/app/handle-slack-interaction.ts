/**
 * A click on Apply or Cancel under a `set` plan. Verified like a command, checked against the
 * same authorisation (and, when configured, the second-approver rule), and single use: the
 * proposal is claimed with a conditional write, so a second click, a click on a copy of the
 * message or a click after 15 minutes does nothing but say so.
 *
 * Apply publishes one `Stickiness Change Requested` (actor kind `chat`, source `stickler.slack`)
 * and keeps the click's `response_url` in the table, keyed by the request id, for the notifier
 * to post the outcome; the address is never put in an event or a log. If the bus refuses the
 * request, the proposal is opened again and the person is told to click again.
 */
import * as z from 'zod/mini';
import { authorizeChat } from '../domain/chat-authorization';
import { errorFields, InvalidInputError, SticklerError } from '../domain/errors';
import type { RequestDraft } from '../domain/intake';
import type { ChatProposal, ChatProposals } from '../ports/chat-proposals';
import type { SlackMessage } from '../ports/slack-responder';
import { makeRequestChanges } from './request-changes';
import {
  auditDenied,
  chatActor,
  SLACK_EVENT_SOURCE,
  SLACK_ID,
  type SlackCaller,
  type SlackEntryDeps,
  type SlackRequest,
  usableResponseUrl,
  verifiedForm,
} from './slack-entry';
import {
  APPLY_ACTION,
  applyRequestedMessage,
  CANCEL_ACTION,
  cancelledMessage,
  deniedMessage,
  plainMessage,
} from './slack-messages';

/** How long the reply address is kept for the outcome (Slack honours it for 30 minutes). */
export const REPLY_TARGET_TTL_MS = 30 * 60_000;

const Id = z.string().check(z.regex(SLACK_ID));
const BlockActionsSchema = z.object({
  type: z.literal('block_actions'),
  team: z.object({ id: Id }),
  user: z.object({ id: Id, username: z.optional(z.string()), name: z.optional(z.string()) }),
  channel: z.optional(z.object({ id: Id })),
  response_url: z.optional(z.string()),
  actions: z.array(z.object({ action_id: z.string(), value: z.optional(z.string()) })).check(z.minLength(1)),
});

export interface SlackInteractionDeps extends SlackEntryDeps {
  proposals: ChatProposals;
}

export type SlackInteractionResult =
  | 'ignored'
  | 'unknown'
  | 'denied'
  | 'spent'
  | 'expired'
  | 'cancelled'
  | 'applied'
  | 'publish-failed';

/** The id of the change request an Apply click publishes: one per proposal, so a retry is deduplicated. */
export const slackRequestId = (proposalId: string) => `slack-${proposalId}`;

export const makeHandleSlackInteraction = (deps: SlackInteractionDeps) => {
  const tell = async (url: string | undefined, message: SlackMessage) => {
    if (!url) return;
    try {
      await deps.responder.respond(url, message);
    } catch (error) {
      deps.log.warn('slack reply could not be posted', {
        error: error instanceof Error ? error.name : 'unexpected',
      });
    }
  };

  const requestChanges = makeRequestChanges({ publisher: deps.publisher, clock: deps.clock });

  /** The proposal as a change request, through the intake like every other door. */
  const publishChange = async (proposal: ChatProposal, caller: SlackCaller, url: string | undefined) => {
    const requestId = slackRequestId(proposal.id);
    const requester = proposal.requester;
    const sameAsRequester = requester.teamId === caller.teamId && requester.userId === caller.userId;
    const draft: RequestDraft = {
      requestId,
      target: {
        service: proposal.service,
        farmType: proposal.farmType,
        farmId: proposal.farmId,
        stickiness: proposal.stickiness,
      },
      actor: chatActor(caller),
      ...(proposal.ticket ? { ticket: { key: proposal.ticket } } : {}),
      reason:
        [
          sameAsRequester ? undefined : `requested in Slack by slack:${requester.teamId}:${requester.userId}`,
          proposal.reason,
        ]
          .filter(Boolean)
          .join('; ') || 'requested in Slack',
      requestedAt: deps.clock.now().toISOString(),
      ...(url ? { notify: { kind: 'slack' as const } } : {}),
    };
    if (url)
      await deps.proposals.saveReplyTarget(
        requestId,
        url,
        new Date(deps.clock.now().getTime() + REPLY_TARGET_TTL_MS),
      );
    try {
      await requestChanges(SLACK_EVENT_SOURCE, [draft], `the proposal ${proposal.id}`);
    } catch (error) {
      if (error instanceof SticklerError && error.code === 'publish-failed')
        return { requestId, published: false };
      throw error;
    }
    return { requestId, published: true };
  };

  return async function handleSlackInteraction(request: SlackRequest): Promise<SlackInteractionResult> {
    const form = await verifiedForm(deps, request, 'interaction');
    let json: unknown;
    try {
      json = JSON.parse(form.get('payload') ?? '');
    } catch {
      throw new InvalidInputError('not a Slack interaction: the payload field is not JSON', [
        { path: 'payload', message: 'not JSON' },
      ]);
    }
    const parsed = BlockActionsSchema.safeParse(json);
    if (!parsed.success) return 'ignored'; // another kind of interaction: nothing stickler offers
    const payload = parsed.data;
    const action = payload.actions.find((a) => a.action_id === APPLY_ACTION || a.action_id === CANCEL_ACTION);
    if (!action) return 'ignored';
    const caller: SlackCaller = {
      teamId: payload.team.id,
      userId: payload.user.id,
      channelId: payload.channel?.id ?? '',
      ...((payload.user.username ?? payload.user.name)
        ? { userName: (payload.user.username ?? payload.user.name)! }
        : {}),
    };
    const url = usableResponseUrl(deps, payload.response_url, caller);
    const kind = action.action_id === APPLY_ACTION ? 'apply' : 'cancel';
    const proposalId = action.value ?? '';
    const proposal = /^[0-9a-f]{32}$/.test(proposalId) ? await deps.proposals.get(proposalId) : undefined;

    const verdict = authorizeChat(deps.authorization, kind, caller, proposal?.requester);
    if (!verdict.allowed) {
      await auditDenied(deps, caller, kind, `${kind} proposal ${proposalId.slice(0, 64)}`, verdict.reason);
      await tell(url, deniedMessage(verdict.reason));
      return 'denied';
    }
    if (!proposal) {
      await tell(url, plainMessage('This change is unknown or has expired: run `set` again.', true));
      return 'unknown';
    }
    const claim = await deps.proposals.claim(
      proposal.id,
      kind === 'apply' ? 'applied' : 'cancelled',
      caller.userId,
      deps.clock.now(),
    );
    if (claim.kind === 'spent') {
      await tell(
        url,
        plainMessage(`This change was already ${claim.how} by <@${claim.by}>: nothing more was done.`, false),
      );
      return 'spent';
    }
    if (claim.kind !== 'claimed') {
      await tell(
        url,
        plainMessage('This change has expired (its buttons work for 15 minutes): run `set` again.', true),
      );
      return claim.kind === 'expired' ? 'expired' : 'unknown';
    }
    if (kind === 'cancel') {
      deps.log.info('slack change cancelled', { proposal: proposal.id, by: chatActor(caller).id });
      await tell(url, cancelledMessage(proposal, caller.userId));
      return 'cancelled';
    }
    let outcome: { requestId: string; published: boolean };
    try {
      outcome = await publishChange(claim.proposal, caller, url);
    } catch (error) {
      outcome = { requestId: slackRequestId(proposal.id), published: false };
      deps.log.error('slack change could not be requested', {
        error: errorFields(error),
      });
    }
    if (!outcome.published) {
      await deps.proposals.release(proposal.id).catch(() => undefined);
      await tell(
        url,
        plainMessage(
          'stickler could not hand the change over just now: nothing was changed. Click Apply again.',
          false,
        ),
      );
      return 'publish-failed';
    }
    deps.log.info('slack change requested', { requestId: outcome.requestId, by: chatActor(caller).id });
    await tell(url, applyRequestedMessage(claim.proposal, caller.userId, outcome.requestId));
    return 'applied';
  };
};
