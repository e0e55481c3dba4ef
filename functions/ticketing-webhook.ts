/**
 * ticketing-webhook: `POST /webhooks/{source}` (jira, servicenow, generic). A signed ticket
 * becomes `Stickiness Change Requested` events on the bus; the apply-worker carries them out.
 * Wiring and handler: lib/wiring/ticketing-webhook.ts.
 */
import { makeTicketingWebhookHandler } from '../lib/wiring/ticketing-webhook';

export const handler = makeTicketingWebhookHandler(process.env);
