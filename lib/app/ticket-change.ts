/** What a ticketing system asks for, once its payload is read (lib/adapters/ticketing/). */

/** One farm change as a ticket states it: checked by the use case, field by field. */
export interface TicketFarmChange {
  service: unknown;
  farmType: unknown;
  farmId: unknown;
  stickiness: unknown;
}

export interface TicketChangeSet {
  /** The ticket's key or number (OPS-1042, CHG0000023). */
  ticket: string;
  /**
   * This version of the ticket's change (a delivery id, or the record's revision): a redelivery
   * carries the same one, so it yields the same request ids.
   */
  identity: string;
  /** Who asked, as the ticket says (an account id, a sys_id), and their display name. */
  requester: { id: string; name?: string };
  /** Set when the ticket is not in an approved state: why it is ignored. */
  notApproved?: string;
  changes: TicketFarmChange[];
  window?: { notBefore?: string; notAfter?: string };
  reason?: string;
  /**
   * When the ticketing system sent (or last updated) this, from the signed body (Jira's
   * `timestamp`, ServiceNow's `sys_updated_on`): a delivery much older than that is a replay.
   */
  sentAt?: string;
}
