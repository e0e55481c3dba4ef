/**
 * A Slack slash command (`/stickiness …`), answered within Slack's 3 seconds whatever OVH does:
 * only checks that need no outside call happen here (signature, the command's words, who may do
 * it where); the answer is either final (usage, a refusal) or "working on it", and the work that
 * reads OVH is dispatched to a later invocation, which posts its result to the command's
 * `response_url`.
 */

import { authorizeChat } from '../domain/chat-authorization';
import { type ChatCommand, ChatUsageError, parseChatCommand } from '../domain/chat-command';
import { errorFields, InvalidInputError } from '../domain/errors';
import { DEFAULT_TIME_LIMITS } from '../domain/request-rules';
import { parseTimeWindow } from '../domain/traffic';
import type { SlackMessage } from '../ports/slack-responder';
import type { WorkDispatcher } from '../ports/work-dispatcher';
import {
  auditDenied,
  SLACK_ID,
  type SlackCaller,
  type SlackEntryDeps,
  type SlackRequest,
  usableResponseUrl,
  verifiedForm,
} from './slack-entry';
import { deniedMessage, plainMessage, usageMessage, workingMessage } from './slack-messages';

/** What a later invocation does for a command: read OVH and post to `responseUrl`. */
export interface SlackWork {
  kind: 'stickler.slack-command';
  command: Exclude<ChatCommand, { kind: 'help' }>;
  caller: SlackCaller;
  responseUrl: string;
  receivedAt: string;
}

export interface SlackCommandDeps extends SlackEntryDeps {
  dispatcher: WorkDispatcher<SlackWork>;
}

/** The HTTP answer: 200 with a message, or 200 with nothing (Slack's SSL check). */
export type SlackCommandAnswer = { message?: SlackMessage };

/** The command's words, with a `set`'s window checked against the time (one already over is a usage problem). */
const readCommand = (text: string, now: Date): ChatCommand => {
  const command = parseChatCommand(text);
  if (command.kind === 'set' && command.window !== undefined) {
    const window = parseTimeWindow(command.window, now.getTime());
    if (!window.ok) throw new ChatUsageError(window.message.replace('--window', 'window'));
    // The worker refuses a request whose window opens later than it accepts requests (the CLI
    // says so before publishing): said here, before a proposal offers it.
    const maxAgeMs = DEFAULT_TIME_LIMITS.maxAgeMs;
    if (window.window.start > now.getTime() + maxAgeMs)
      throw new ChatUsageError(
        `window: it opens more than ${Math.round(maxAgeMs / 86_400_000)} days from now: stickler refuses requests that old, so it could never be carried out; ask again nearer the time`,
      );
  }
  return command;
};

export const makeHandleSlackCommand = (deps: SlackCommandDeps) =>
  async function handleSlackCommand(request: SlackRequest): Promise<SlackCommandAnswer> {
    const form = await verifiedForm(deps, request, 'command');
    if (form.get('ssl_check') === '1') return {};
    const caller: SlackCaller = {
      teamId: form.get('team_id') ?? '',
      userId: form.get('user_id') ?? '',
      channelId: form.get('channel_id') ?? '',
      ...(form.get('user_name') ? { userName: form.get('user_name')! } : {}),
    };
    if (!SLACK_ID.test(caller.teamId) || !SLACK_ID.test(caller.userId) || !SLACK_ID.test(caller.channelId))
      throw new InvalidInputError('not a Slack slash command: team_id, user_id and channel_id are required', [
        { path: 'team_id, user_id, channel_id', message: 'missing or not Slack ids' },
      ]);
    const name = (form.get('command') ?? '/stickiness').slice(0, 40);
    const text = (form.get('text') ?? '').trim();
    let command: ChatCommand;
    try {
      command = readCommand(text, deps.clock.now());
    } catch (error) {
      if (!(error instanceof ChatUsageError)) throw error;
      // A stranger to the workspace learns nothing, not even the usage.
      const verdict = authorizeChat(deps.authorization, 'help', caller);
      if (!verdict.allowed) {
        await auditDenied(deps, caller, 'help', text, verdict.reason);
        return { message: deniedMessage(verdict.reason) };
      }
      return { message: usageMessage(name, error.message) };
    }
    const verdict = authorizeChat(deps.authorization, command.kind, caller);
    if (!verdict.allowed) {
      await auditDenied(deps, caller, command.kind, `${name} ${text}`, verdict.reason);
      return { message: deniedMessage(verdict.reason) };
    }
    if (command.kind === 'help') return { message: usageMessage(name) };
    const responseUrl = usableResponseUrl(deps, form.get('response_url'), caller);
    if (!responseUrl)
      return {
        message: plainMessage(
          'stickler cannot answer this request: it came without a Slack response address.',
        ),
      };
    try {
      await deps.dispatcher.dispatch({
        kind: 'stickler.slack-command',
        command,
        caller,
        responseUrl,
        receivedAt: deps.clock.now().toISOString(),
      });
    } catch (error) {
      deps.log.error('slack command could not be dispatched', {
        kind: command.kind,
        error: errorFields(error),
      });
      return {
        message: plainMessage('stickler could not start on that just now: please try again in a minute.'),
      };
    }
    return { message: workingMessage(name, text) };
  };
