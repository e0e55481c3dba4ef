/**
 * Tells a requester how their request ended, where they asked to be told (and, for a request
 * deferred to its window's quietest slot, when that is and the rate expected; an applied one says
 * the traffic its zone's refresh cut, when the worker read it): for a ticket, a
 * comment on it (Jira) or a work note (ServiceNow); for a Slack Apply click, a reply in that
 * conversation (its address read from stickler's table, only for requests stickler's Slack
 * function published). Never touches the change itself; a failure here is the notifier's own
 * (retried, then its dead-letter queue).
 */
import type { ChangeAuditDetail, TicketEditIgnoredDetail } from '../domain/audit-events';
import { ticketKeyProblem } from '../domain/change-request';
import { SticklerError } from '../domain/errors';
import { plainText } from '../domain/text';
import { quietestSlotText, trafficAtApplyText } from '../domain/traffic';
import type { Log } from '../ports/log';
import type { SlackResponder } from '../ports/slack-responder';
import type { TicketCommenter } from '../ports/ticket-commenter';
import { TICKETING_EVENT_SOURCE } from './handle-ticket-webhook';
import { SLACK_EVENT_SOURCE } from './slack-entry';
import { outcomeMessage } from './slack-messages';

const farmLabel = (d: ChangeAuditDetail) =>
  `${d.service ?? '?'} ${d.farmType ?? '?'}/${d.farmId ?? '?'}${d.displayName ? ` (${plainText(d.displayName, 256)})` : ''}`;

/** The outcome in a few lines a change manager can act on. */
export const outcomeText = (d: ChangeAuditDetail): string => {
  const head = `stickler, request ${d.requestId}: ${farmLabel(d)}`;
  switch (d.outcome) {
    case 'applied':
      return `${head}: stickiness ${d.before ?? '?'} → ${d.after ?? '?'}, applied in zone ${d.refresh?.zone ?? d.zone ?? '?'} (OVH task ${d.refresh?.taskId ?? '?'}) at ${d.decidedAt}. Sessions of that zone were rebalanced.${d.traffic ? ` ${plainText(trafficAtApplyText(d.traffic), 600)}` : ''}${d.before && d.after && d.before !== d.after ? ` To undo it: stickler undo ${d.requestId} --pipeline (or a change request back to ${d.before}).` : ''}`;
    case 'unchanged':
      return `${head}: already ${d.after ?? d.before ?? '?'}; nothing was changed or applied (${d.decidedAt}).`;
    case 'refused':
      return `${head}: refused, nothing was written (${d.code ?? 'refused'}): ${plainText(d.message ?? '', 2000)}`;
    case 'failed':
      return `${head}: FAILED (${d.code ?? 'failed'}${d.ovhQueryId ? `, OVH query id ${d.ovhQueryId}` : ''}): ${plainText(d.message ?? '', 2000)}${d.retryable ? ' It may succeed if tried again.' : ''}`;
    case 'cancelled':
      return `${head}: cancelled before its change window opened; nothing was written (${plainText(d.message ?? '', 2000)})`;
    case 'deferred':
      return d.quietest
        ? `${head}: ${quietestSlotText(d.quietest)} (${d.deferredUntil ?? d.quietest.at}).`
        : `${head}: waiting for its change window, which opens at ${d.deferredUntil ?? '?'}.`;
  }
};

export interface SlackReplies {
  replyTarget(requestId: string): Promise<string | undefined>;
  responder: SlackResponder;
}

type NotifyOutcomeDeps = {
  commenters: Partial<Record<'jira' | 'servicenow', TicketCommenter>>;
  slack?: SlackReplies;
  log: Log;
};
type Posting = 'posted' | 'skipped' | 'refused';

/** A Slack Apply click's outcome, replied in its conversation. */
async function postSlackOutcome(deps: NotifyOutcomeDeps, detail: ChangeAuditDetail): Promise<Posting> {
  // Only stickler's own Slack function may publish with its source (the publisher policy).
  if (!deps.slack || detail.origin?.source !== SLACK_EVENT_SOURCE) {
    deps.log.warn(
      "slack outcome not posted: not a request of stickler's Slack function, or Slack not configured",
      {
        requestId: detail.requestId,
        source: detail.origin?.source ?? null,
      },
    );
    return 'refused';
  }
  const url = await deps.slack.replyTarget(detail.requestId);
  if (!url || !deps.slack.responder.allows(url)) {
    deps.log.warn('slack outcome not posted: no reply address kept for this request (expired?)', {
      requestId: detail.requestId,
    });
    return 'skipped';
  }
  try {
    await deps.slack.responder.respond(url, outcomeMessage(detail));
  } catch (error) {
    // Slack refuses an address used 5 times or older than 30 minutes: retrying cannot help.
    if (error instanceof SticklerError && !error.retryable) {
      deps.log.warn('slack refused the outcome reply; not retried', {
        requestId: detail.requestId,
        code: error.code,
      });
      return 'skipped';
    }
    throw error;
  }
  return 'posted';
}

/** A ticket's outcome, as a comment or work note on it. */
async function postTicketOutcome(
  deps: NotifyOutcomeDeps,
  detail: ChangeAuditDetail,
  notify: { system?: string },
  ticket: string,
): Promise<Posting> {
  const system = notify.system === 'jira' || notify.system === 'servicenow' ? notify.system : undefined;
  // Only requests stickler's own ticket webhook published (a source no other publisher may use)
  // are written back, and only to a key of the system they came from: a request published on
  // the bus by anyone else never makes stickler comment on a ticket with its credentials.
  if (
    detail.origin?.source !== TICKETING_EVENT_SOURCE ||
    !system ||
    ticketKeyProblem(ticket, system) !== undefined
  ) {
    deps.log.warn("ticket outcome not posted: not a request of stickler's ticket webhook for that system", {
      requestId: detail.requestId,
      source: detail.origin?.source ?? null,
      system: notify.system ?? null,
    });
    return 'refused';
  }
  const commenter = deps.commenters[system];
  if (!commenter) {
    deps.log.warn('no commenter configured for this ticketing system; outcome not posted', {
      system: notify.system,
      requestId: detail.requestId,
    });
    return 'skipped';
  }
  await commenter.comment(ticket, outcomeText(detail));
  return 'posted';
}

export const makeNotifyOutcome = (deps: NotifyOutcomeDeps) =>
  async function notifyOutcome(detail: ChangeAuditDetail): Promise<Posting> {
    const notify = detail.notify;
    if (notify?.kind === 'slack') return postSlackOutcome(deps, detail);
    if (notify?.kind !== 'ticket' || !detail.ticket) return 'skipped';
    return postTicketOutcome(deps, detail, notify, detail.ticket);
  };

/**
 * Tells a ticket that an edit of its change after approval is not carried out: only for notices
 * stickler's own ticket webhook published (the envelope's source), to a key of that system.
 */
export const makeNotifyTicketEdit = (deps: {
  commenters: Partial<Record<'jira' | 'servicenow', TicketCommenter>>;
  log: Log;
}) =>
  async function notifyTicketEdit(
    detail: TicketEditIgnoredDetail,
    envelopeSource: string,
  ): Promise<'posted' | 'skipped' | 'refused'> {
    if (
      envelopeSource !== TICKETING_EVENT_SOURCE ||
      ticketKeyProblem(detail.ticket, detail.system) !== undefined
    ) {
      deps.log.warn(
        "ticket notice not posted: not from stickler's ticket webhook, or not a key of that system",
        {
          source: envelopeSource,
          system: detail.system,
        },
      );
      return 'refused';
    }
    const commenter = deps.commenters[detail.system];
    if (!commenter) return 'skipped';
    await commenter.comment(detail.ticket, plainText(detail.message, 2000));
    return 'posted';
  };
