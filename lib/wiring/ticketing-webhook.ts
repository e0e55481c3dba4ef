/**
 * The ticketing-webhook function's wiring and handler: configuration read once, the signing
 * secret of each source (SSM SecureStrings `<prefix><source>`; in the `local` stage,
 * STICKLER_WEBHOOK_SECRET_<SOURCE>), the readers configured, the publisher on the bus; then API
 * Gateway HTTP API (payload 2.0) events in, HTTP answers out through the one error map.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { awsJsonClientFromEnv, DYNAMODB, EVENTBRIDGE, SSM } from '../adapters/aws/aws-json-client';
import { DynamoDbDeliveryLog } from '../adapters/dynamodb/dynamodb-delivery-log';
import { DynamoDbPlanRegistry } from '../adapters/dynamodb/dynamodb-plan-registry';
import { EventBridgePublisher } from '../adapters/eventbridge/eventbridge-publisher';
import { jsonAnswer } from '../adapters/http/error-response';
import { httpEdge, httpIn } from '../adapters/http/http-edge';
import { hubSignatureMatches } from '../adapters/http/hub-signature';
import { isMissingParameter, makeSsmSecret } from '../adapters/ssm/ssm-secret';
import { readGenericTicket } from '../adapters/ticketing/generic';
import { DEFAULT_JIRA_FIELDS, type JiraFieldMap, readJiraWebhook } from '../adapters/ticketing/jira';
import {
  DEFAULT_SERVICENOW_FIELDS,
  readServiceNowChange,
  type ServiceNowFieldMap,
} from '../adapters/ticketing/servicenow';
import {
  MAX_WEBHOOK_BYTES,
  makeHandleTicketWebhook,
  TICKET_SOURCES,
  type TicketSource,
} from '../app/handle-ticket-webhook';
import { makeRequestChanges } from '../app/request-changes';
import { describeIssues } from '../domain/describe-issue';
import { ConfigError } from '../domain/errors';
import { systemClock } from '../ports/clock';
import type { Log } from '../ports/log';
import { stageOf } from './config';
import { functionLogger, powertoolsLog } from './log';

const AWS_TIMEOUTS = { timeoutMs: 5_000 };

/** The development secret of a source in the `local` stage, when none is set (printed by `simulate --pipeline`). */
export const localWebhookSecret = (source: string) => `stickler-local-${source}-secret`;

const FieldId = z.string().check(z.minLength(1), z.maxLength(128));
const JiraFieldsSchema = z.strictObject({
  service: FieldId,
  farms: FieldId,
  stickiness: FieldId,
  notBefore: z.optional(FieldId),
  notAfter: z.optional(FieldId),
  prefer: z.optional(FieldId),
  plan: z.optional(FieldId),
  approvedStatuses: z.optional(z.array(z.string().check(z.minLength(1))).check(z.minLength(1))),
  approveOnCreate: z.optional(z.boolean()),
});
const ServiceNowFieldsSchema = z.strictObject({
  service: FieldId,
  farms: FieldId,
  stickiness: FieldId,
  prefer: z.optional(FieldId),
  plan: z.optional(FieldId),
});

const jsonSetting = <T>(env: NodeJS.ProcessEnv, name: string, schema: z.ZodMiniType<T>): T | undefined => {
  const raw = env[name];
  if (!raw) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError(`${name} must be JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw new ConfigError(`${name} is not valid: ${describeIssues(parsed.error.issues, json)}`);
  return parsed.data;
};

/** The webhook's items of the table, when it is configured: the answers given to deliveries, and the registered plans. */
const tableStores = (env: NodeJS.ProcessEnv) => {
  const table = env.IDEMPOTENCY_TABLE?.trim();
  if (!table) return {};
  return {
    deliveries: new DynamoDbDeliveryLog({
      // Short: the function answers within 10 s, and a log that cannot be read only costs a
      // duplicate the worker ignores.
      client: awsJsonClientFromEnv(DYNAMODB, env, { timeoutMs: 1_500, maxAttempts: 2 }),
      tableName: table,
    }),
    // Saved plans registered for tickets to approve (items ~plan:…): read once per approval naming
    // one, up to 350 KB; a plan that cannot be read is a 503 (the sender retries).
    plans: new DynamoDbPlanRegistry({
      client: awsJsonClientFromEnv(DYNAMODB, env, { timeoutMs: 3_000, maxAttempts: 2 }),
      tableName: table,
    }),
  };
};

export const wireTicketingWebhook = (env: NodeJS.ProcessEnv) => {
  const stage = stageOf(env);
  const busName = env.EVENT_BUS_NAME?.trim();
  if (!busName) throw new ConfigError('EVENT_BUS_NAME is not set');
  const prefix = env.WEBHOOK_SECRET_PARAMETER_PREFIX?.trim();
  if (stage !== 'local' && !prefix)
    throw new ConfigError(
      'WEBHOOK_SECRET_PARAMETER_PREFIX is not set: deployed stages read webhook secrets from SSM only',
    );
  const jiraOverride = jsonSetting(env, 'TICKETING_JIRA_FIELDS', JiraFieldsSchema);
  const jira: JiraFieldMap = jiraOverride
    ? {
        ...jiraOverride,
        approvedStatuses: jiraOverride.approvedStatuses ?? DEFAULT_JIRA_FIELDS.approvedStatuses,
      }
    : DEFAULT_JIRA_FIELDS;
  const servicenow: ServiceNowFieldMap =
    jsonSetting(env, 'TICKETING_SERVICENOW_FIELDS', ServiceNowFieldsSchema) ?? DEFAULT_SERVICENOW_FIELDS;

  const logger = functionLogger(env);
  const log: Log = powertoolsLog(logger);

  const ssm = prefix && stage !== 'local' ? awsJsonClientFromEnv(SSM, env, AWS_TIMEOUTS) : undefined;
  const secrets = new Map(
    TICKET_SOURCES.map((source) => [
      source,
      ssm ? makeSsmSecret({ ssm, parameterName: `${prefix}${source}`, clock: systemClock }) : undefined,
    ]),
  );
  const secretFor = async (source: TicketSource): Promise<string | undefined> => {
    const load = secrets.get(source);
    if (!load) return env[`STICKLER_WEBHOOK_SECRET_${source.toUpperCase()}`] || localWebhookSecret(source);
    try {
      return await load();
    } catch (error) {
      if (isMissingParameter(error)) return undefined; // this source is not configured
      throw error;
    }
  };

  const publisher = new EventBridgePublisher({
    client: awsJsonClientFromEnv(EVENTBRIDGE, env, AWS_TIMEOUTS),
    busName,
    clock: systemClock,
    maxAttempts: 2,
  });
  const { deliveries, plans } = tableStores(env);
  const handle = makeHandleTicketWebhook({
    ...(deliveries ? { deliveries } : {}),
    ...(plans ? { plans } : {}),
    secretFor,
    verify: (source, headers, body, secret) =>
      hubSignatureMatches(
        source === 'jira' ? headers['x-hub-signature'] : headers['x-hub-signature-256'],
        body,
        secret,
      ),
    read: (source, json, rawBody) => {
      switch (source) {
        case 'jira':
          return readJiraWebhook(json, jira);
        case 'servicenow':
          return readServiceNowChange(json, servicenow);
        case 'generic':
          return readGenericTicket(json, rawBody);
      }
    },
    requestChanges: makeRequestChanges({ publisher, clock: systemClock }),
    publisher,
    clock: systemClock,
    log,
  });
  return { logger, log, handle };
};

/** The ticketing-webhook Lambda handler, wired from `env` (functions/ticketing-webhook.ts; the local pipeline). */
export const makeTicketingWebhookHandler = (env: NodeJS.ProcessEnv) => {
  const { logger, log, handle } = wireTicketingWebhook(env);
  const lambdaHandler = async (
    event: APIGatewayProxyEventV2,
    context: Context,
  ): Promise<APIGatewayProxyStructuredResultV2> => {
    const http = httpIn(context)!;
    const source = event.pathParameters?.source ?? /^\/webhooks\/([^/]+)$/.exec(http.path)?.[1] ?? '';
    const result = await handle({ source, headers: http.headers, body: http.body });
    switch (result.kind) {
      case 'accepted':
        return jsonAnswer(202, { requestIds: result.requestIds });
      case 'withdrawn':
        return jsonAnswer(202, { requestIds: [], cancelId: result.cancelId, withdrawn: result.withdrawn });
      case 'ignored':
        return jsonAnswer(200, { requestIds: [], ignored: result.ignored });
    }
  };
  return middy(lambdaHandler)
    .use(injectLambdaContext(logger))
    .use(httpEdge({ log, what: 'webhook', maxBodyBytes: MAX_WEBHOOK_BYTES }));
};
