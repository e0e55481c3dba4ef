/**
 * A click on Apply now, Apply at the quietest time or Cancel under a `set` plan. Verified like a command, checked against the
 * same authorisation (and, when configured, the second-approver rule), and single use: the
 * proposal is claimed with a conditional write, so a second click, a click on a copy of the
 * message or a click after 15 minutes does nothing but say so.
 *
 * Apply publishes one `Stickiness Change Requested` (actor kind `chat`, source `stickler.slack`);
 * Apply at the quietest time the same with the window `{notBefore: now (or the window's start),
 * notAfter: the window's end, prefer: 'quietest'}`, which the worker defers to its quietest slot.
 * Either keeps the click's `response_url` in the table, keyed by the request id, for the notifier
 * to post the outcome; the address is never put in an event or a log. If the bus refuses the
 * request, the proposal is opened again and the person is told to click again.
 *
 * In order: the click read (clickOf); an Undo proposes the reverse change (proposeUndo); Apply or
 * Cancel claims its proposal (claimFor), then Cancel says so and Apply publishes (applyClaimed).
 */
import * as z from 'zod/mini';
import { REQUEST_ID_PATTERN } from '../domain/change-request';
import { authorizeChat } from '../domain/chat-authorization';
import { errorFields, InvalidInputError, SticklerError } from '../domain/errors';
import type { RequestDraft } from '../domain/intake';
import { toWire } from '../domain/stickiness';
import type { ChatProposal, ChatProposals } from '../ports/chat-proposals';
import type { FarmLedger } from '../ports/farm-ledger';
import type { IdempotencyStore } from '../ports/idempotency-store';
import type { SlackMessage } from '../ports/slack-responder';
import { makePlanUndo, type UndoChange } from './pipeline-door';
import { makeRequestChanges } from './request-changes';
import { PROPOSAL_TTL_MS } from './run-slack-work';
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
  APPLY_QUIETEST_ACTION,
  applyRequestedMessage,
  CANCEL_ACTION,
  cancelledMessage,
  deniedMessage,
  esc,
  plainMessage,
  proposalMessage,
  UNDO_ACTION,
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
  /**
   * For Undo under an applied outcome: the worker's records (what the request changed) and the
   * farms' order (has another request changed the farm since?), and the id of a new proposal.
   */
  undo?: {
    records: Pick<IdempotencyStore, 'status'>;
    ledger: Pick<FarmLedger, 'read'>;
    newId: () => string;
  };
}

export type SlackInteractionResult =
  | 'ignored'
  | 'unknown'
  | 'denied'
  | 'spent'
  | 'expired'
  | 'cancelled'
  | 'applied'
  | 'publish-failed'
  | 'undo-proposed'
  | 'undo-refused'
  | 'window-ended';

/** The window Apply at the quietest time asks for: from now (or its later start) to its end. */
const quietestWindow = (proposal: ChatProposal, now: Date): RequestDraft['window'] => {
  if (!proposal.window) return undefined;
  const end = Date.parse(proposal.window.end);
  if (!(end > now.getTime())) return undefined;
  const start = Math.max(Date.parse(proposal.window.start), now.getTime());
  return { notBefore: new Date(start).toISOString(), notAfter: proposal.window.end, prefer: 'quietest' };
};

/** The buttons stickler puts under its messages. */
const OUR_ACTIONS: ReadonlySet<string> = new Set([
  APPLY_ACTION,
  APPLY_QUIETEST_ACTION,
  CANCEL_ACTION,
  UNDO_ACTION,
]);

/** The id of the change request an Apply click publishes: one per proposal, so a retry is deduplicated. */
export const slackRequestId = (proposalId: string) => `slack-${proposalId}`;

/** A click on a proposal another click has spent: what it was spent on (Apply asks; it may be deferred). */
const spentText = (how: 'applied' | 'cancelled', by: string) =>
  `This change was already ${how === 'applied' ? 'requested (Apply now or Apply at the quietest time: its outcome is posted here)' : how} by <@${by}>: nothing more was done.`;

/** The button clicked (one of stickler's) and who clicked it, or undefined for anything else. */
const clickOf = (form: URLSearchParams) => {
  let json: unknown;
  try {
    json = JSON.parse(form.get('payload') ?? '');
  } catch {
    throw new InvalidInputError('not a Slack interaction: the payload field is not JSON', [
      { path: 'payload', message: 'not JSON' },
    ]);
  }
  const parsed = BlockActionsSchema.safeParse(json);
  if (!parsed.success) return undefined; // another kind of interaction: nothing stickler offers
  const payload = parsed.data;
  const action = payload.actions.find((a) => OUR_ACTIONS.has(a.action_id));
  if (!action) return undefined;
  const caller: SlackCaller = {
    teamId: payload.team.id,
    userId: payload.user.id,
    channelId: payload.channel?.id ?? '',
    ...((payload.user.username ?? payload.user.name)
      ? { userName: (payload.user.username ?? payload.user.name)! }
      : {}),
  };
  return { action, caller, responseUrl: payload.response_url };
};

/** The proposal of the reverse of `requestId`'s change, made by the caller who clicked Undo. */
const undoProposal = (
  id: string,
  requestId: string,
  change: UndoChange,
  caller: SlackCaller,
  zone: string,
  now: Date,
): ChatProposal => ({
  id,
  requester: {
    teamId: caller.teamId,
    userId: caller.userId,
    ...(caller.userName ? { userName: caller.userName } : {}),
  },
  channelId: caller.channelId,
  service: change.farm.service,
  farmType: change.farm.type,
  farmId: change.farm.farmId,
  stickiness: change.to,
  reason: `undo of ${requestId}`,
  before: change.from,
  zone,
  displayName: null,
  createdAt: now.toISOString(),
  expiresAt: new Date(now.getTime() + PROPOSAL_TTL_MS).toISOString(),
  undoOf: requestId,
});

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
  const publishChange = async (
    proposal: ChatProposal,
    caller: SlackCaller,
    url: string | undefined,
    window: RequestDraft['window'],
  ) => {
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
      ...(window ? { window } : {}),
      ...(url ? { notify: { kind: 'slack' as const } } : {}),
      // An Undo is carried out only over what it showed: a change made since is not overwritten.
      ...(proposal.undoOf ? { ifStores: proposal.before } : {}),
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

  /** Apply at the quietest time after the proposal's window ended: nothing published, Apply now still open. */
  const refuseEndedWindow = async (proposalId: string, url: string | undefined) => {
    await deps.proposals.release(proposalId).catch(() => undefined);
    await tell(
      url,
      plainMessage(
        'The window of this change has ended (or it has none): nothing was changed. Apply now, or run `set` again.',
        false,
      ),
    );
    return 'window-ended' as const;
  };

  /** Why `requestId` cannot be undone now, or undefined with the reverse change. */
  const planUndo = deps.undo ? makePlanUndo(deps.undo) : undefined;
  const undoProblem = async (requestId: string): Promise<string | undefined> => {
    if (!planUndo) return 'undo is not available here';
    const { refused } = await planUndo([requestId], false);
    return refused[0]?.reason;
  };

  /**
   * Undo under an applied outcome: whoever may `set` gets a proposal of the reverse change, with
   * the usual Apply and Cancel (single use, the second-approver rule, the warning), checked again
   * at Apply. Nothing is changed by this click.
   */
  const proposeUndo = async (
    requestId: string,
    caller: SlackCaller,
    url: string | undefined,
  ): Promise<SlackInteractionResult> => {
    const verdict = authorizeChat(deps.authorization, 'set', caller);
    if (!verdict.allowed) {
      await auditDenied(deps, caller, 'set', `undo of ${requestId.slice(0, 140)}`, verdict.reason);
      await tell(url, deniedMessage(verdict.reason));
      return 'denied';
    }
    if (!REQUEST_ID_PATTERN.test(requestId) || !deps.undo || !planUndo) {
      await tell(url, plainMessage('This outcome cannot be undone from here.', false));
      return 'undo-refused';
    }
    const { reverse, refused } = await planUndo([requestId], false);
    const change = reverse[0];
    if (!change) {
      await tell(
        url,
        plainMessage(
          `This change cannot be undone: ${esc(refused[0]?.reason ?? 'unknown')}. Nothing was changed.`,
          false,
        ),
      );
      return 'undo-refused';
    }
    const status = (await deps.undo.records.status([requestId])).get(requestId);
    const zone = status?.terminal?.zone ?? '?';
    const proposal = undoProposal(deps.undo.newId(), requestId, change, caller, zone, deps.clock.now());
    await deps.proposals.save(proposal);
    await tell(
      url,
      proposalMessage(
        {
          kind: 'change',
          farm: { ...change.farm, zone, displayName: null, stickiness: toWire(change.from) },
          target: change.to,
          otherPendingInZone: false,
        },
        proposal,
      ),
    );
    return 'undo-proposed';
  };

  /** Apply (now or at the quietest time) on a claimed proposal: its change request published. */
  const applyClaimed = async (
    proposal: ChatProposal,
    proposalId: string,
    caller: SlackCaller,
    url: string | undefined,
    atQuietest: boolean,
  ): Promise<SlackInteractionResult> => {
    const window = atQuietest ? quietestWindow(proposal, deps.clock.now()) : undefined;
    if (atQuietest && !window) return refuseEndedWindow(proposalId, url);
    let outcome: { requestId: string; published: boolean };
    try {
      outcome = await publishChange(proposal, caller, url, window);
    } catch (error) {
      outcome = { requestId: slackRequestId(proposalId), published: false };
      deps.log.error('slack change could not be requested', { error: errorFields(error) });
    }
    if (!outcome.published) {
      await deps.proposals.release(proposalId).catch(() => undefined);
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
    const said = applyRequestedMessage(proposal, caller.userId, outcome.requestId, window?.notAfter);
    await tell(url, said);
    return 'applied';
  };

  /**
   * The proposal as stored and as claimed for this click (single use), or what the click gets
   * instead: denied, unknown, an Undo that cannot go on any more, spent or expired.
   */
  const claimFor = async (
    kind: 'apply' | 'cancel',
    proposalId: string,
    caller: SlackCaller,
    url: string | undefined,
  ): Promise<{ proposal: ChatProposal; claimed: ChatProposal } | SlackInteractionResult> => {
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
    // An Undo is checked again at Apply: another request may have changed the farm meanwhile.
    if (kind === 'apply' && proposal.undoOf) {
      const why = await undoProblem(proposal.undoOf);
      if (why) {
        await tell(url, plainMessage(`This undo cannot go on: ${esc(why)}. Nothing was changed.`, false));
        return 'undo-refused';
      }
    }
    const how = kind === 'apply' ? 'applied' : 'cancelled';
    const claim = await deps.proposals.claim(proposal.id, how, caller.userId, deps.clock.now());
    if (claim.kind === 'spent') {
      await tell(url, plainMessage(spentText(claim.how, claim.by), false));
      return 'spent';
    }
    if (claim.kind !== 'claimed') {
      await tell(
        url,
        plainMessage('This change has expired (its buttons work for 15 minutes): run `set` again.', true),
      );
      return claim.kind === 'expired' ? 'expired' : 'unknown';
    }
    return { proposal, claimed: claim.proposal };
  };

  /** Apply now, Apply at the quietest time or Cancel on a proposal. */
  const answerProposal = async (
    actionId: string,
    proposalId: string,
    caller: SlackCaller,
    url: string | undefined,
  ): Promise<SlackInteractionResult> => {
    const kind = actionId === CANCEL_ACTION ? 'cancel' : 'apply';
    const claimed = await claimFor(kind, proposalId, caller, url);
    if (typeof claimed === 'string') return claimed;
    const { proposal } = claimed;
    if (kind === 'cancel') {
      deps.log.info('slack change cancelled', { proposal: proposal.id, by: chatActor(caller).id });
      await tell(url, cancelledMessage(proposal, caller.userId));
      return 'cancelled';
    }
    return applyClaimed(claimed.claimed, proposal.id, caller, url, actionId === APPLY_QUIETEST_ACTION);
  };

  return async function handleSlackInteraction(request: SlackRequest): Promise<SlackInteractionResult> {
    const click = clickOf(await verifiedForm(deps, request, 'interaction'));
    if (!click) return 'ignored';
    const { action, caller } = click;
    const url = usableResponseUrl(deps, click.responseUrl, caller);
    if (action.action_id === UNDO_ACTION) return proposeUndo(action.value ?? '', caller, url);
    return answerProposal(action.action_id, action.value ?? '', caller, url);
  };
};
