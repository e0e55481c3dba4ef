/**
 * Tells a requester how their request ended, where they asked to be told: for a ticket, a
 * comment on it (Jira) or a work note (ServiceNow). Never touches the change itself; a failure
 * here is the notifier's own (retried, then its dead-letter queue).
 */
import type { ChangeAuditDetail } from '../domain/audit-events';
import type { Log } from '../ports/log';
import type { TicketCommenter } from '../ports/ticket-commenter';

const farmOf = (d: ChangeAuditDetail) =>
  `${d.service ?? '?'} ${d.farmType ?? '?'}/${d.farmId ?? '?'}${d.displayName ? ` (${d.displayName})` : ''}`;

/** The outcome in a few lines a change manager can act on. */
export const outcomeText = (d: ChangeAuditDetail): string => {
  const head = `stickler, request ${d.requestId}: ${farmOf(d)}`;
  switch (d.outcome) {
    case 'applied':
      return `${head}: stickiness ${d.before ?? '?'} → ${d.after ?? '?'}, applied in zone ${d.refresh?.zone ?? d.zone ?? '?'} (OVH task ${d.refresh?.taskId ?? '?'}) at ${d.decidedAt}. Sessions of that zone were rebalanced.`;
    case 'unchanged':
      return `${head}: already ${d.after ?? d.before ?? '?'}; nothing was changed or applied (${d.decidedAt}).`;
    case 'refused':
      return `${head}: refused, nothing was written (${d.code ?? 'refused'}): ${d.message ?? ''}`;
    case 'failed':
      return `${head}: FAILED (${d.code ?? 'failed'}${d.ovhQueryId ? `, OVH query id ${d.ovhQueryId}` : ''}): ${d.message ?? ''}${d.retryable ? ' It may succeed if tried again.' : ''}`;
    case 'deferred':
      return `${head}: waiting for its change window, which opens at ${d.deferredUntil ?? '?'}.`;
  }
};

export const makeNotifyOutcome = (deps: {
  commenters: Partial<Record<'jira' | 'servicenow', TicketCommenter>>;
  log: Log;
}) =>
  async function notifyOutcome(detail: ChangeAuditDetail): Promise<'posted' | 'skipped'> {
    const notify = detail.notify;
    if (notify?.kind !== 'ticket' || !detail.ticket) return 'skipped';
    const system = notify.system === 'jira' || notify.system === 'servicenow' ? notify.system : undefined;
    const commenter = system ? deps.commenters[system] : undefined;
    if (!commenter) {
      deps.log.warn('no commenter configured for this ticketing system; outcome not posted', {
        system: notify.system,
        requestId: detail.requestId,
      });
      return 'skipped';
    }
    await commenter.comment(detail.ticket, outcomeText(detail));
    return 'posted';
  };
