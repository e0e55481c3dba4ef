/**
 * What every Slack request goes through before stickler acts on it, commands and clicks alike:
 * a size limit, Slack's signature over the raw body with its 5-minute window (401 with no
 * detail), then the form read. And the refusal path: a polite answer and a
 * `Stickiness Change Denied` audit event, nothing published or written.
 */
import { createHash } from 'node:crypto';
import type { ChangeDeniedDetail } from '../domain/audit-events';
import type { ChatAction, ChatAuthorization } from '../domain/chat-authorization';
import { errorFields, PayloadTooLargeError, UnauthenticatedError } from '../domain/errors';
import { AUDIT_SCHEMA_VERSION, DETAIL_TYPES } from '../domain/events';
import type { Clock } from '../ports/clock';
import type { EventPublisher } from '../ports/event-publisher';
import type { Log } from '../ports/log';
import type { SlackResponder } from '../ports/slack-responder';

/** Slack's bodies are a few kilobytes; anything much larger is not Slack. */
export const MAX_SLACK_BODY_BYTES = 64 * 1024;

/** A Slack team, user or channel id (`T…`, `U…`/`W…`, `C…`/`G…`/`D…`). */
export const SLACK_ID = /^[A-Z0-9][A-Z0-9_-]{0,63}$/i;

/** `source` of what stickler's Slack function publishes (change requests after an Apply click). */
export const SLACK_EVENT_SOURCE = 'stickler.slack';

export interface SlackRequest {
  /** Header names in lower case. */
  headers: Readonly<Record<string, string | undefined>>;
  /** The body exactly as received. */
  body: Buffer;
}

export interface SlackEntryDeps {
  signingSecret(): Promise<string>;
  verify(
    headers: SlackRequest['headers'],
    body: Buffer,
    secret: string,
    nowMs: number,
  ): 'ok' | 'bad' | 'stale';
  authorization: ChatAuthorization;
  publisher: EventPublisher;
  responder: SlackResponder;
  clock: Clock;
  log: Log;
}

/** Checks size and signature, then reads the form. Throws before anything else happens. */
export const verifiedForm = async (
  deps: SlackEntryDeps,
  request: SlackRequest,
  what: string,
): Promise<URLSearchParams> => {
  if (request.body.length > MAX_SLACK_BODY_BYTES) throw new PayloadTooLargeError(MAX_SLACK_BODY_BYTES);
  const verdict = deps.verify(
    request.headers,
    request.body,
    await deps.signingSecret(),
    deps.clock.now().getTime(),
  );
  if (verdict !== 'ok') {
    deps.log.warn(
      `slack ${what} refused: ${verdict === 'stale' ? 'timestamp out of the 5-minute window' : 'signature missing or wrong'}`,
    );
    throw new UnauthenticatedError();
  }
  return new URLSearchParams(request.body.toString('utf8'));
};

export interface SlackCaller {
  teamId: string;
  userId: string;
  userName?: string;
  channelId: string;
}

/** How a chat user appears in change requests and audit events: stable ids, the name for reading. */
export const chatActor = (caller: SlackCaller) => ({
  kind: 'chat' as const,
  id: `slack:${caller.teamId}:${caller.userId}`.slice(0, 256),
  ...(caller.userName ? { name: caller.userName.slice(0, 256) } : {}),
});

/** Publishes `Stickiness Change Denied`; a bus failure is logged, the refusal stands either way. */
export const auditDenied = async (
  deps: SlackEntryDeps,
  caller: SlackCaller,
  action: ChatAction,
  command: string,
  reason: string,
): Promise<void> => {
  const deniedAt = deps.clock.now().toISOString();
  const auditId = `denied-${createHash('sha256')
    .update(`${caller.teamId}\n${caller.userId}\n${action}\n${command}\n${deniedAt}`)
    .digest('hex')
    .slice(0, 32)}`;
  const detail: ChangeDeniedDetail = {
    schemaVersion: AUDIT_SCHEMA_VERSION,
    auditId,
    actor: chatActor(caller),
    channelId: caller.channelId.slice(0, 64) || null,
    action,
    command: command.slice(0, 500),
    reason,
    deniedAt,
  };
  deps.log.warn('slack request denied', {
    actor: detail.actor.id,
    channelId: detail.channelId,
    action,
    reason,
  });
  try {
    const { failed } = await deps.publisher.publish([
      { detailType: DETAIL_TYPES.denied, detail, dedupeKey: auditId },
    ]);
    if (failed.length > 0) deps.log.error('the denied audit event could not be published', { auditId });
  } catch (error) {
    deps.log.error('the denied audit event could not be published', { auditId, error: errorFields(error) });
  }
};

/** Whether stickler may answer at `url`; an address that is not Slack's is logged as suspicious, never called. */
export const usableResponseUrl = (
  deps: SlackEntryDeps,
  url: string | null | undefined,
  caller: SlackCaller,
) => {
  if (url && deps.responder.allows(url)) return url;
  deps.log.warn('suspicious slack request: its response_url is not a Slack address; not used', {
    actor: chatActor(caller).id,
    present: Boolean(url),
  });
  return undefined;
};
