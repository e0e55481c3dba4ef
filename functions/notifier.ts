/**
 * notifier: posts a request's outcome back to the ticket it came from (a Jira comment, a
 * ServiceNow work note), from the terminal audit events of requests that asked to be told.
 * Wiring and handler: lib/wiring/notifier.ts.
 */
import { makeNotifierHandler } from '../lib/wiring/notifier';

export const handler = makeNotifierHandler(process.env);
