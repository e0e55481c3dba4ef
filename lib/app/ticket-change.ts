/** What a ticketing system's delivery says, once its payload is read (lib/adapters/ticketing/). */
import type { FarmTarget } from '../domain/intake';

/** One farm change as a ticket states it: checked by the intake, field by field. */
export type TicketFarmChange = FarmTarget;

/**
 * What the delivery means for stickler, decided from the signed body alone:
 * - `approved`: the ticket has just been approved (a transition into an approved state, never a
 *   later edit or comment); `approval` identifies that approval (Jira's changelog id, ServiceNow's
 *   `sys_id:sys_mod_count` at approval, the generic body's hash), and with the farm and target it
 *   makes the request ids, so the same signed bytes always give the same ids;
 * - `withdrawn`: the ticket has left the approved state: its changes still waiting for their
 *   window are cancelled;
 * - `ignored`: nothing to do (a comment, an edit, another event), with the reason; `notice`, when
 *   set, is said once on the ticket (an edit of the change after its approval).
 */
export type TicketVerdict =
  /**
   * `sequence`: the transition's place in the ticket's history (Jira's changelog id, ServiceNow's
   * sys_mod_count), so that an approval delivered after a later withdrawal is not acted on.
   */
  | { kind: 'approved'; approval: string; sequence?: number }
  /** `withdrawal` identifies the withdrawal itself (as `approval` does the approval). */
  | { kind: 'withdrawn'; reason: string; withdrawal: string; sequence?: number }
  | { kind: 'ignored'; reason: string; notice?: string };

export interface TicketChangeSet {
  /** The ticket's key or number (OPS-1042, CHG0000023). */
  ticket: string;
  verdict: TicketVerdict;
  /** Who asked, as the ticket says (an account id, a sys_id), and their display name. */
  requester: { id: string; name?: string };
  changes: TicketFarmChange[];
  /**
   * A saved plan the ticket approves as a whole, by its digest (instead of `changes`, which is then
   * empty): its changes are read from the pipeline's registry on approval. `field` names where the
   * ticket gave it, for a refusal.
   */
  plan?: { digest: string; field: string };
  /** `prefer: 'quietest'`: at the quietest slot of the window (the worker chooses it). */
  window?: { notBefore?: string; notAfter?: string; prefer?: 'quietest' };
  reason?: string;
  /**
   * When the ticketing system sent this, from the signed body (Jira's `timestamp`, ServiceNow's
   * `sys_updated_on`, the generic `sentAt`): a delivery far from now is a replay, and it is the
   * requests' `requestedAt`.
   */
  sentAt: string;
}
