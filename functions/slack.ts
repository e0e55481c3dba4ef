/**
 * slack: the `/stickiness` slash command and its Apply/Cancel buttons (chat-ops), and the work
 * a command dispatches to itself. Wiring and handler: lib/wiring/slack.ts.
 */
import { makeSlackHandler } from '../lib/wiring/slack';

export const handler = makeSlackHandler(process.env);
