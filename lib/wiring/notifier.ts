/**
 * The notifier function's wiring and handler: terminal audit events of requests that asked to
 * be told (a rule on the bus) in, a comment on the ticket or a Slack reply out. Base URLs come from configuration
 * only; credentials from SSM SecureStrings (`local` stage: environment variables).
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { awsJsonClientFromEnv, DYNAMODB, SSM } from '../adapters/aws/aws-json-client';
import { DynamoDbChatProposals } from '../adapters/dynamodb/dynamodb-chat-proposals';
import { makeJsonCall } from '../adapters/http/json-call';
import { HttpSlackResponder } from '../adapters/slack/slack-responder';
import { makeSsmSecret } from '../adapters/ssm/ssm-secret';
import { checkedBaseUrl, JiraCommenter, ServiceNowCommenter } from '../adapters/ticketing/commenters';
import { makeNotifyOutcome, makeNotifyTicketEdit, type SlackReplies } from '../app/notify-outcome';
import { ChangeAuditDetailSchema, TicketEditIgnoredDetailSchema } from '../domain/audit-events';
import { ConfigError, errorFields } from '../domain/errors';
import { DETAIL_TYPES } from '../domain/events';
import { systemClock } from '../ports/clock';
import type { Log } from '../ports/log';
import type { TicketCommenter } from '../ports/ticket-commenter';
import { stageOf } from './config';
import { functionLogger, powertoolsLog } from './log';

const JiraCredentials = z.object({
  email: z.string().check(z.minLength(1)),
  apiToken: z.string().check(z.minLength(1)),
});
const ServiceNowCredentials = z.object({
  user: z.string().check(z.minLength(1)),
  password: z.string().check(z.minLength(1)),
});

export const wireNotifier = (env: NodeJS.ProcessEnv) => {
  const local = stageOf(env) === 'local';
  const logger = functionLogger(env);
  const log: Log = powertoolsLog(logger);
  const call = makeJsonCall({ timeoutMs: 10_000 });
  const ssm = local ? undefined : awsJsonClientFromEnv(SSM, env, { timeoutMs: 5_000 });
  /** Credentials from `parameter` (SSM JSON) or, in the local stage, from two environment variables. */
  const credentials = <T>(
    schema: z.ZodMiniType<T>,
    parameter: string | undefined,
    fromEnv: () => unknown,
    what: string,
  ) => {
    const secret =
      ssm && parameter ? makeSsmSecret({ ssm, parameterName: parameter, clock: systemClock }) : undefined;
    if (!local && !secret) throw new ConfigError(`${what}: the credentials parameter is not set`);
    return async (): Promise<T> => {
      let json: unknown;
      try {
        json = secret ? JSON.parse(await secret()) : fromEnv();
      } catch (error) {
        if (error instanceof SyntaxError) json = undefined;
        else throw error;
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success)
        throw new ConfigError(`${what}: the credentials are missing or not in the expected shape`);
      return parsed.data;
    };
  };
  const commenters: Partial<Record<'jira' | 'servicenow', TicketCommenter>> = {};
  if (env.JIRA_BASE_URL) {
    commenters.jira = new JiraCommenter({
      baseUrl: checkedBaseUrl(env.JIRA_BASE_URL, 'JIRA_BASE_URL', local),
      credentials: credentials(
        JiraCredentials,
        env.JIRA_CREDENTIALS_PARAMETER,
        () => ({ email: env.JIRA_EMAIL, apiToken: env.JIRA_API_TOKEN }),
        'Jira',
      ),
      call,
    });
  }
  if (env.SERVICENOW_BASE_URL) {
    commenters.servicenow = new ServiceNowCommenter({
      baseUrl: checkedBaseUrl(env.SERVICENOW_BASE_URL, 'SERVICENOW_BASE_URL', local),
      credentials: credentials(
        ServiceNowCredentials,
        env.SERVICENOW_CREDENTIALS_PARAMETER,
        () => ({ user: env.SERVICENOW_USER, password: env.SERVICENOW_PASSWORD }),
        'ServiceNow',
      ),
      call,
    });
  }
  // Slack replies: the address an Apply click left in the table (only when the table is configured).
  const table = env.IDEMPOTENCY_TABLE?.trim();
  const testOrigin = local ? env.STICKLER_SLACK_RESPONSE_ORIGIN?.trim() : undefined;
  const replies = table
    ? new DynamoDbChatProposals({
        client: awsJsonClientFromEnv(DYNAMODB, env, { timeoutMs: 5_000 }),
        tableName: table,
      })
    : undefined;
  const slack: SlackReplies | undefined = replies
    ? {
        replyTarget: (requestId) => replies.replyTarget(requestId),
        responder: new HttpSlackResponder({
          ...(testOrigin ? { allowedOrigin: testOrigin } : {}),
          timeoutMs: 5_000,
        }),
      }
    : undefined;
  return {
    logger,
    log,
    notifyOutcome: makeNotifyOutcome({ commenters, ...(slack ? { slack } : {}), log }),
    notifyTicketEdit: makeNotifyTicketEdit({ commenters, log }),
  };
};

/** The notifier Lambda handler, wired from `env` (functions/notifier.ts; the local pipeline). */
export const makeNotifierHandler = (env: NodeJS.ProcessEnv) => {
  const { logger, log, notifyOutcome, notifyTicketEdit } = wireNotifier(env);
  const lambdaHandler = async (event: EventBridgeEvent<string, unknown>): Promise<{ result: string }> => {
    // Notices for a ticket: an edit after its approval, or an approval refused (the same detail).
    if (
      event['detail-type'] === DETAIL_TYPES.ticketEditIgnored ||
      event['detail-type'] === DETAIL_TYPES.ticketApprovalRefused
    ) {
      const notice = TicketEditIgnoredDetailSchema.safeParse(event.detail);
      if (!notice.success) {
        log.error('not a readable ticket notice; nothing posted', { id: event.id });
        return { result: 'skipped' };
      }
      const result = await notifyTicketEdit(notice.data, event.source).catch((error: unknown) => {
        log.error('ticket notice failed; it is retried, then kept in the dead-letter queue', {
          ticket: notice.data.ticket,
          error: errorFields(error),
        });
        throw error;
      });
      log.info('ticket notice', { ticket: notice.data.ticket, result });
      return { result };
    }
    const parsed = ChangeAuditDetailSchema.safeParse(event.detail);
    if (!parsed.success) {
      // Not an audit event this version reads: retrying cannot help.
      log.error('not a readable audit event; nothing posted', {
        detailType: event['detail-type'],
        id: event.id,
      });
      return { result: 'skipped' };
    }
    // A failure throws: EventBridge retries the invocation, then it goes to the notifier's DLQ.
    // It is logged first, in our words, so that it is seen even where nothing retries.
    const result = await notifyOutcome(parsed.data).catch((error: unknown) => {
      log.error('outcome notification failed; it is retried, then kept in the dead-letter queue', {
        requestId: parsed.data.requestId,
        error: errorFields(error),
      });
      throw error;
    });
    log.info('outcome notification', { requestId: parsed.data.requestId, result });
    return { result };
  };
  return middy(lambdaHandler).use(injectLambdaContext(logger));
};
