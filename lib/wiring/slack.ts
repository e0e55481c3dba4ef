/**
 * The slack function's wiring and handler. One function, three kinds of invocation:
 *
 *   POST /slack/commands      (HTTP API)  → verify, authorise, answer at once; dispatch the work
 *   POST /slack/interactions  (HTTP API)  → an Apply/Cancel click, decided and answered inline
 *   { kind: 'stickler.slack-command' }    → the dispatched work (OVH reads), posted to Slack
 *
 * The work is dispatched by invoking this same function asynchronously (Lambda's own queue): it
 * needs no other resource, keeps the `response_url` off the bus and out of any queue someone can
 * browse, and Lambda drops what waits longer than the function's maximum event age. In the
 * `local` stage the work runs in the same process, after the answer.
 *
 * Configuration (README, "Slack chat-ops"): the signing secret from SSM
 * (SLACK_SIGNING_SECRET_PARAMETER; local stage: SLACK_SIGNING_SECRET), the authorisation from
 * STICKLER_SLACK_* lists of ids, OVH credentials as for the worker.
 */

import { randomBytes } from 'node:crypto';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import {
  awsJsonClientFromEnv,
  awsRestJsonClientFromEnv,
  DYNAMODB,
  EVENTBRIDGE,
  LAMBDA,
  SSM,
} from '../adapters/aws/aws-json-client';
import { DynamoDbChatProposals } from '../adapters/dynamodb/dynamodb-chat-proposals';
import { DynamoDbFarmLedger } from '../adapters/dynamodb/dynamodb-farm-ledger';
import { DynamoDbIdempotencyStore } from '../adapters/dynamodb/dynamodb-idempotency-store';
import { DynamoDbZoneSlots } from '../adapters/dynamodb/dynamodb-zone-slots';
import { EventBridgePublisher } from '../adapters/eventbridge/eventbridge-publisher';
import { jsonAnswer } from '../adapters/http/error-response';
import { httpEdge, httpIn } from '../adapters/http/http-edge';
import { verifySlackSignature } from '../adapters/http/slack-signature';
import { LambdaSelfInvoker } from '../adapters/lambda/lambda-self-invoker';
import { OvhLoadBalancerApi } from '../adapters/ovh/ovh-load-balancer-api';
import { OvhMetricsTraffic } from '../adapters/ovh/ovh-metrics-traffic';
import { HttpSlackResponder } from '../adapters/slack/slack-responder';
import { makeSsmSecret } from '../adapters/ssm/ssm-secret';
import { makeHandleSlackCommand, type SlackWork } from '../app/handle-slack-command';
import { makeHandleSlackInteraction } from '../app/handle-slack-interaction';
import { makeRunSlackWork } from '../app/run-slack-work';
import { MAX_SLACK_BODY_BYTES, type SlackEntryDeps } from '../app/slack-entry';
import { type ChatAuthorization, idList } from '../domain/chat-authorization';
import { ConfigError, errorFields } from '../domain/errors';
import { systemClock } from '../ports/clock';
import type { Log } from '../ports/log';
import type { WorkDispatcher } from '../ports/work-dispatcher';
import { ovhCallSettings, requiredVar, stageOf } from './config';
import { functionLogger, powertoolsLog } from './log';
import { ovhClientFromEnv, ovhCredentialParametersFromEnv } from './ovh-api';

/** The `local` stage's signing secret when none is set (printed by `simulate --pipeline`). */
export const LOCAL_SLACK_SIGNING_SECRET = 'stickler-local-slack-secret';

/** Every AWS call on the answer path is short: Slack waits 3 seconds in all. */
const ANSWER_PATH = { timeoutMs: 1_200, maxAttempts: 2, maxDelayMs: 200 };
/**
 * The proposal's look at the slot its zone waits for: a nicety, read while the traffic is, short
 * enough that a slow table leaves the proposal its time (it is then made without it).
 */
const ZONE_SLOT_READ = { timeoutMs: 2_000, maxAttempts: 2, maxDelayMs: 200 };

const required = requiredVar;

/** The authorisation from configuration; the local stage allows any workspace unless told. */
export const chatAuthorizationFromEnv = (env: NodeJS.ProcessEnv, local: boolean): ChatAuthorization => {
  const teams = idList(env.STICKLER_SLACK_TEAMS);
  if (teams.size === 0 && local) teams.add('*');
  return {
    teams,
    setters: idList(env.STICKLER_SLACK_SETTERS),
    setterChannels: idList(env.STICKLER_SLACK_CHANNELS),
    readers: env.STICKLER_SLACK_READERS?.trim() ? idList(env.STICKLER_SLACK_READERS) : new Set(['*']),
    readerChannels: env.STICKLER_SLACK_READ_CHANNELS?.trim()
      ? idList(env.STICKLER_SLACK_READ_CHANNELS)
      : new Set(['*']),
    requireSecondApprover: /^(1|true|yes)$/i.test(env.STICKLER_SLACK_SECOND_APPROVER?.trim() ?? ''),
  };
};

/**
 * What the work reads of OVH: farms (read-only calls, with the same credentials rule as the
 * worker) and the proposal's traffic line (short reads: a slow metrics endpoint leaves time to answer).
 */
const ovhReads = (env: NodeJS.ProcessEnv, local: boolean) => {
  const ovh = ovhClientFromEnv(env, {
    // Shorter calls than the worker's: the work invocation has 30 s in all.
    ...ovhCallSettings(env, { timeoutMs: 10_000 }),
    credentialsParameters: local ? undefined : ovhCredentialParametersFromEnv(env),
  });
  return {
    api: new OvhLoadBalancerApi(ovh),
    traffic: new OvhMetricsTraffic(ovh, { timeoutMs: 5_000, tokenBudgetMs: 5_000 }),
  };
};

/**
 * Slack's signing secret: from SSM in a deployed stage (refused without its parameter), from
 * SLACK_SIGNING_SECRET (or the local default) in the local stage.
 */
const signingSecretOf = (env: NodeJS.ProcessEnv, local: boolean): (() => Promise<string>) => {
  const secretParameter = env.SLACK_SIGNING_SECRET_PARAMETER?.trim();
  if (!local && !secretParameter)
    throw new ConfigError(
      'SLACK_SIGNING_SECRET_PARAMETER is not set: deployed stages read the signing secret from SSM only',
    );
  return !local && secretParameter
    ? makeSsmSecret({
        ssm: awsJsonClientFromEnv(SSM, env, ANSWER_PATH),
        parameterName: secretParameter,
        clock: systemClock,
      })
    : async () => env.SLACK_SIGNING_SECRET || LOCAL_SLACK_SIGNING_SECRET;
};

/**
 * The dispatched work: OVH reads, the proposals it writes (with the work's longer timeouts), the
 * slot the proposal's zone waits for, posted to Slack.
 */
const slackWorkRunner = (
  env: NodeJS.ProcessEnv,
  local: boolean,
  tableName: string,
  responder: HttpSlackResponder,
  log: Log,
) => {
  const slotDb = awsJsonClientFromEnv(DYNAMODB, env, ZONE_SLOT_READ);
  return makeRunSlackWork({
    ...ovhReads(env, local),
    proposals: new DynamoDbChatProposals({
      client: awsJsonClientFromEnv(DYNAMODB, env, { timeoutMs: 5_000 }),
      tableName,
    }),
    // The slot the farm's zone already waits for (GetItem on slot:*), and whether its request
    // still waits (the worker's records, read only).
    zoneSlots: {
      store: new DynamoDbZoneSlots({ client: slotDb, tableName }),
      requests: new DynamoDbIdempotencyStore({ client: slotDb, tableName }),
      // As the worker: a slot in a window's last BATCH_WINDOW_SECONDS + 10 s is not joined.
      marginMs: joinMarginMs(env),
    },
    responder,
    clock: systemClock,
    log,
    newId: () => randomBytes(16).toString('hex'),
  });
};

/** The worker's margin before a window's end (worker-config: BATCH_WINDOW_SECONDS, 20 by default, and 10 s). */
const joinMarginMs = (env: NodeJS.ProcessEnv): number => {
  const seconds = Number(env.BATCH_WINDOW_SECONDS ?? '20');
  return (Number.isInteger(seconds) && seconds >= 0 && seconds <= 300 ? seconds : 20) * 1000 + 10_000;
};

/** How a command's work leaves the answer: this function invoked again, or (local stage) this process, later. */
const workDispatcherOf = (
  env: NodeJS.ProcessEnv,
  local: boolean,
  runWork: (work: SlackWork) => Promise<unknown>,
  log: Log,
): WorkDispatcher<SlackWork> =>
  local
    ? {
        // Lambda's asynchronous invocation, in this process: after the answer, never awaited by it.
        dispatch: async (work) => {
          setImmediate(() => {
            runWork(work).catch((error) => log.error('slack work failed', { error: errorFields(error) }));
          });
        },
      }
    : new LambdaSelfInvoker<SlackWork>({
        client: awsRestJsonClientFromEnv(LAMBDA, env, ANSWER_PATH),
        functionName: required(env, 'AWS_LAMBDA_FUNCTION_NAME'),
      });

export const wireSlack = (env: NodeJS.ProcessEnv) => {
  const local = stageOf(env) === 'local';
  const busName = required(env, 'EVENT_BUS_NAME');
  const tableName = required(env, 'IDEMPOTENCY_TABLE');
  const logger = functionLogger(env);
  const log: Log = powertoolsLog(logger);
  const authorization = chatAuthorizationFromEnv(env, local);
  if (authorization.teams.size === 0)
    log.warn('STICKLER_SLACK_TEAMS is empty: every Slack request will be refused');
  const signingSecret = signingSecretOf(env, local);

  const testOrigin = local ? env.STICKLER_SLACK_RESPONSE_ORIGIN?.trim() : undefined;
  const responder = new HttpSlackResponder(testOrigin ? { allowedOrigin: testOrigin } : {});
  const answerDb = awsJsonClientFromEnv(DYNAMODB, env, ANSWER_PATH);
  const proposals = new DynamoDbChatProposals({ client: answerDb, tableName });
  const entry: SlackEntryDeps = {
    signingSecret,
    verify: verifySlackSignature,
    authorization,
    publisher: new EventBridgePublisher({
      client: awsJsonClientFromEnv(EVENTBRIDGE, env, ANSWER_PATH),
      busName,
      clock: systemClock,
      maxAttempts: 1,
    }),
    responder,
    clock: systemClock,
    log,
  };

  const runWork = slackWorkRunner(env, local, tableName, responder, log);

  const dispatcher = workDispatcherOf(env, local, runWork, log);

  return {
    logger,
    log,
    handleCommand: makeHandleSlackCommand({ ...entry, dispatcher }),
    handleInteraction: makeHandleSlackInteraction({
      ...entry,
      proposals,
      // Undo reads the worker's records and the farms' order (read only: its role allows no more).
      undo: {
        records: new DynamoDbIdempotencyStore({ client: answerDb, tableName }),
        ledger: new DynamoDbFarmLedger({ client: answerDb, tableName }),
        newId: () => randomBytes(16).toString('hex'),
      },
    }),
    runWork,
  };
};

const isWork = (event: unknown): event is SlackWork =>
  typeof event === 'object' &&
  event !== null &&
  (event as { kind?: unknown }).kind === 'stickler.slack-command';

/** The slack Lambda handler, wired from `env` (functions/slack.ts; the local pipeline). */
export const makeSlackHandler = (env: NodeJS.ProcessEnv) => {
  const { logger, log, handleCommand, handleInteraction, runWork } = wireSlack(env);
  const lambdaHandler = async (
    event: APIGatewayProxyEventV2 | SlackWork,
    context: Context,
  ): Promise<APIGatewayProxyStructuredResultV2 | { result: string }> => {
    // The dispatched work comes only from Lambda's Invoke (IAM): an HTTP event always has requestContext.
    if (isWork(event) && !('requestContext' in event)) return { result: await runWork(event) };
    const { path, headers, body } = httpIn(context)!;
    if (path.endsWith('/slack/commands')) {
      const { message } = await handleCommand({ headers, body });
      return message ? jsonAnswer(200, message) : { statusCode: 200, body: '' };
    }
    if (path.endsWith('/slack/interactions')) {
      const result = await handleInteraction({ headers, body });
      log.info('slack interaction', { result });
      return { statusCode: 200, body: '' };
    }
    return jsonAnswer(404, { error: 'not-found', message: 'not found' });
  };
  return middy(lambdaHandler)
    .use(injectLambdaContext(logger))
    .use(
      httpEdge({
        log,
        what: 'slack request',
        maxBodyBytes: MAX_SLACK_BODY_BYTES,
      }) as unknown as MiddlewareObj<
        APIGatewayProxyEventV2 | SlackWork,
        APIGatewayProxyStructuredResultV2 | { result: string }
      >,
    );
};
