/** Writes on a ticket in the system it came from (a Jira comment, a ServiceNow work note). */
export interface TicketCommenter {
  comment(ticket: string, text: string): Promise<void>;
}
