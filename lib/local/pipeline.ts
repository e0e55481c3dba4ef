/**
 * stickler's serverless pipeline on one machine, with the same apply-worker handler as in AWS:
 *
 *   publisher ──PutEvents (AWS SDK, HTTP)──▶ local bus ──rule──▶ local queue ──batches──▶ apply-worker
 *        apply-worker ──PutEvents (its AWS client, HTTP)──▶ local bus (audit events)
 *        apply-worker ──DynamoDB (its AWS client, HTTP)──▶ dynalite (idempotency records)
 *        apply-worker ──OVH API (HTTP)──▶ the simulator
 *
 * Stood in locally: the EventBridge bus and rule (lib/local/event-bus.ts), the SQS queue and
 * its event source mapping (lib/local/queue.ts), SSM (the `local` stage takes OVH credentials
 * from OVH_* variables). Real: the handler and its AWS client, the AWS SDK EventBridge client
 * publishing change requests as other systems do, DynamoDB's API (dynalite).
 */
import { randomUUID } from 'node:crypto';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { EventBridgeEnvelope } from '../adapters/eventbridge/envelope';
import type { OvhCredentials } from '../adapters/ovh/http-client';
import { type ChangeRequestedDetail, DETAIL_TYPES, QUEUED_DETAIL_TYPES } from '../domain/events';
import { simulatorEnv } from '../simulator/server';
import { startDynalite } from './dynalite';
import { type LocalEventBus, startLocalEventBus } from './event-bus';
import { type HttpHandler, type LocalHttpApi, startLocalHttpApi } from './http-api';
import { type LocalPart, portOf } from './listen';
import { LocalQueue } from './queue';
import { type LocalScheduler, startLocalScheduler } from './scheduler';
import { startTicketingStandIns, type TicketingStandIns, type TicketNote } from './ticketing-standins';

export interface LocalPipelineOptions {
  ovhBaseUrl: string;
  ovhCredentials: OvhCredentials;
  batchWindowMs?: number;
  /** Records per batch (default 100, as deployed). */
  batchSize?: number;
  /** Batches in the handler at once (default 2: the event source's maximum concurrency as deployed). */
  pollers?: number;
  pollIntervalMs?: number;
  /** Scales the retry delays the worker sets on handed-back records (default 1; tests shorten them). */
  queueDelayScale?: number;
  onEvent?: (envelope: EventBridgeEnvelope) => void;
  /** STICKLER_SLACK_* settings of the Slack function (else taken from the environment). */
  slack?: Record<string, string>;
  onBatch?: (records: SQSRecord[], result: SQSBatchResponse | undefined) => void;
  onBatchStart?: (records: SQSRecord[]) => void;
  /** The worker's LEASE_WAIT_MS (default: the worker's, 60 s). */
  leaseWaitMs?: number;
  /**
   * Told of every comment or work note the notifier posts on the local Jira and ServiceNow
   * stand-ins (started unless JIRA_BASE_URL or SERVICENOW_BASE_URL name a site of your own).
   */
  onNote?: (note: TicketNote) => void;
  /** Fixed ports from this base (see listen.ts); any free ports when undefined. */
  portBase?: number;
}

export interface LocalPipeline {
  /** The environment a handler (or `serverless invoke local`) needs to use this pipeline. */
  env: Record<string, string>;
  bus: LocalEventBus;
  queue: LocalQueue;
  scheduler: LocalScheduler;
  /** The HTTP API's routes (POST /webhooks/{source}, /slack/commands, /slack/interactions) served by the same handlers as in AWS. */
  api: LocalHttpApi;
  /** Publishes change requests as another system would: PutEvents on the bus, source `source`. */
  publish(requests: readonly ChangeRequestedDetail[], source: string): Promise<void>;
  /** The local Jira and ServiceNow stand-ins, and the notes they received (unset: sites of your own). */
  ticketing?: TicketingStandIns;
  /** Puts an already-delivered message on the queue again (what SQS does on a redelivery). */
  redeliver(envelope: EventBridgeEnvelope): void;
  close(): Promise<void>;
}

const REGION = 'eu-west-3';
const BUS = 'stickler-local';
const TABLE = 'stickler-local-idempotency';

export const startLocalPipeline = async (options: LocalPipelineOptions): Promise<LocalPipeline> => {
  // The notifier writes back to a ticketing site: the stand-ins, unless the user named real ones.
  // What has started, closed again if a later part cannot start (a port in use, a configuration
  // error): the process is never left holding half a pipeline.
  const started: { close: () => unknown }[] = [];
  const closeStarted = async () => {
    for (const part of started.reverse()) await part.close();
  };
  const start = async <T extends { close: () => unknown }>(part: Promise<T>): Promise<T> => {
    const running = await part.catch(async (error: unknown) => {
      await closeStarted();
      throw error;
    });
    started.push(running);
    return running;
  };
  const port = (part: LocalPart) => portOf(options.portBase, part);
  const ticketing =
    process.env.JIRA_BASE_URL || process.env.SERVICENOW_BASE_URL
      ? undefined
      : await start(startTicketingStandIns(options.onNote, port('ticketing')));
  const db = await start(startDynalite(TABLE, port('dynamodb')));
  const bus = await start(startLocalEventBus({ busName: BUS, region: REGION, port: port('bus') }));
  const scheduler = await start(startLocalScheduler(bus, { port: port('scheduler') }));
  const context = {
    functionName: 'stickler-local-apply-worker',
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:000000000000:function:stickler-local-apply-worker`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    getRemainingTimeInMillis: () => 900_000,
  } as unknown as Context;
  let handler: (event: SQSEvent, context: Context) => Promise<unknown>;
  let api: LocalHttpApi;
  let notifier: (event: EventBridgeEnvelope, context: Context) => Promise<unknown>;
  let compliance!: typeof notifier;
  const queue = new LocalQueue({
    name: 'stickler-local-change-requests',
    region: REGION,
    batchSize: options.batchSize ?? 100,
    pollers: options.pollers ?? 2,
    batchWindowMs: options.batchWindowMs ?? 1_000,
    visibilityTimeoutMs: 2_000,
    maxReceiveCount: 20,
    delayScale: options.queueDelayScale ?? 1,
    // The handler is imported below, once its environment is set; the queue needs no message before.
    handler: (event: SQSEvent) => handler(event, context) as Promise<SQSBatchResponse>,
    onBatch: options.onBatch,
    onBatchStart: options.onBatchStart,
  });
  const sqsEndpoint = await start(
    queue.listen(port('queue')).then((url) => ({ url, close: () => queue.close() })),
  ).then((q) => q.url);
  const env: Record<string, string> = {
    STAGE: 'local',
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: bus.url,
    AWS_ENDPOINT_URL_SCHEDULER: scheduler.url,
    AWS_ENDPOINT_URL_SQS: sqsEndpoint,
    EVENT_BUS_NAME: BUS,
    EVENT_BUS_ARN: `arn:aws:events:${REGION}:000000000000:event-bus/${BUS}`,
    DEFERRAL_SCHEDULE_GROUP: 'stickler-local',
    DEFERRAL_ROLE_ARN: 'arn:aws:iam::000000000000:role/stickler-local-deferral',
    IDEMPOTENCY_TABLE: TABLE,
    ...simulatorEnv(options.ovhBaseUrl, options.ovhCredentials),
    POLL_INTERVAL_MS: String(options.pollIntervalMs ?? 200),
    MAX_RECEIVE_COUNT: '20',
    BATCH_WINDOW_SECONDS: String(Math.ceil((options.batchWindowMs ?? 1_000) / 1000)),
    // The local queue's visibility timeout (2 s): shorter than any invocation, so left as it is.
    QUEUE_VISIBILITY_SECONDS: '2',
    ...(options.leaseWaitMs !== undefined ? { LEASE_WAIT_MS: String(options.leaseWaitMs) } : {}),
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    POWERTOOLS_METRICS_DISABLED: 'true',
    ...(ticketing
      ? {
          JIRA_BASE_URL: ticketing.jira.url,
          JIRA_EMAIL: ticketing.jira.email,
          JIRA_API_TOKEN: ticketing.jira.apiToken,
          SERVICENOW_BASE_URL: ticketing.servicenow.url,
          SERVICENOW_USER: ticketing.servicenow.user,
          SERVICENOW_PASSWORD: ticketing.servicenow.password,
        }
      : {}),
    // The `local` stage's webhook secrets: what a sender signs with (development defaults where unset).
    ...Object.fromEntries(
      (['jira', 'servicenow', 'generic'] as const).map((source) => {
        const name = `STICKLER_WEBHOOK_SECRET_${source.toUpperCase()}`;
        return [name, process.env[name] || `stickler-local-${source}-secret`];
      }),
    ),
  };
  // The `local` stage's Slack app: its signing secret, and who may set where (ids, as in Slack).
  env.SLACK_SIGNING_SECRET = process.env.SLACK_SIGNING_SECRET || 'stickler-local-slack-secret';
  for (const name of [
    'STICKLER_SLACK_TEAMS',
    'STICKLER_SLACK_SETTERS',
    'STICKLER_SLACK_CHANNELS',
    'STICKLER_SLACK_READERS',
    'STICKLER_SLACK_READ_CHANNELS',
    'STICKLER_SLACK_SECOND_APPROVER',
    'STICKLER_SLACK_RESPONSE_ORIGIN',
  ])
    if (options.slack?.[name] ?? process.env[name]) env[name] = (options.slack?.[name] ?? process.env[name])!;
  Object.assign(process.env, env);
  // Built only now, with its environment set: the handler reads its configuration once, as in Lambda.
  try {
    handler = (await import('../wiring/apply-worker')).makeApplyWorkerHandler(process.env) as typeof handler;
    const webhook = (await import('../wiring/ticketing-webhook')).makeTicketingWebhookHandler(process.env);
    const slack = (await import('../wiring/slack')).makeSlackHandler(process.env);
    notifier = (await import('../wiring/notifier')).makeNotifierHandler(
      process.env,
    ) as unknown as typeof notifier;
    compliance = (await import('../wiring/compliance-run')).makeComplianceRunHandler(
      process.env,
    ) as unknown as typeof notifier;
    api = await startLocalHttpApi(
      [
        { method: 'POST', path: '/webhooks/{source}', handler: webhook as unknown as HttpHandler },
        { method: 'POST', path: '/slack/commands', handler: slack as unknown as HttpHandler },
        { method: 'POST', path: '/slack/interactions', handler: slack as unknown as HttpHandler },
      ],
      port('api'),
    );
    env.STICKLER_API_URL = api.url;
  } catch (error) {
    await closeStarted();
    throw error;
  }
  const delivered = new Map<string, { id: string; sentAt: number }>();
  bus.addRule({
    detailTypes: [...QUEUED_DETAIL_TYPES],
    target: (envelope) => {
      const id = randomUUID();
      const sentAt = Date.now();
      delivered.set(envelope.id, { id, sentAt });
      queue.send(JSON.stringify(envelope), id, sentAt);
    },
  });
  /** A rule on stickler's terminal audit events, as the stack's rules match them (`matches` on detail). */
  const onOutcome = (
    matches: (detail: { notify?: { kind?: string }; actor?: { kind?: string } }) => boolean,
    handler: () => typeof notifier,
  ) =>
    bus.addRule({
      detailTypes: [
        DETAIL_TYPES.applied,
        DETAIL_TYPES.unchanged,
        DETAIL_TYPES.refused,
        DETAIL_TYPES.failed,
        DETAIL_TYPES.cancelled,
      ],
      target: (envelope) => {
        if (
          envelope.source !== 'stickler' ||
          !matches((envelope.detail ?? {}) as Parameters<typeof matches>[0])
        )
          return;
        handler()(envelope, context).catch(() => undefined); // logged by the handler; a DLQ in AWS
      },
    });
  // The notifier's rule (requests that asked to be told on their ticket), and the compliance
  // run's rollout rule (outcomes of requests a compliance run published).
  onOutcome(
    (d) => d.notify?.kind === 'ticket' || d.notify?.kind === 'slack',
    () => notifier,
  );
  onOutcome(
    (d) => d.actor?.kind === 'compliance',
    () => compliance,
  );
  // The notifier's third rule: a request deferred to its window's quietest slot, told when.
  bus.addRule({
    detailTypes: [DETAIL_TYPES.deferred],
    target: (envelope) => {
      const detail = (envelope.detail ?? {}) as { code?: string; notify?: { kind?: string } };
      if (envelope.source !== 'stickler' || detail.code !== 'quietest-slot') return;
      if (detail.notify?.kind !== 'ticket' && detail.notify?.kind !== 'slack') return;
      notifier(envelope, context).catch(() => undefined);
    },
  });
  // The notifier's second rule: stickler's ticket webhook telling a ticket an edit is not carried out.
  bus.addRule({
    detailTypes: [DETAIL_TYPES.ticketEditIgnored, DETAIL_TYPES.ticketApprovalRefused],
    target: (envelope) => {
      if (envelope.source !== 'stickler.ticketing') return;
      notifier(envelope, context).catch(() => undefined);
    },
  });
  if (options.onEvent) bus.onEvent(options.onEvent);

  const client = new EventBridgeClient({ region: REGION, endpoint: bus.url });
  return {
    env,
    bus,
    queue,
    scheduler,
    api,
    ...(ticketing ? { ticketing } : {}),
    async publish(requests, source) {
      for (let i = 0; i < requests.length; i += 10) {
        const answer = await client.send(
          new PutEventsCommand({
            Entries: requests.slice(i, i + 10).map((detail) => ({
              EventBusName: BUS,
              Source: source,
              DetailType: DETAIL_TYPES.changeRequested,
              Detail: JSON.stringify(detail),
            })),
          }),
        );
        if (answer.FailedEntryCount)
          throw new Error(`the local bus refused ${answer.FailedEntryCount} event(s)`);
      }
    },
    redeliver(envelope) {
      // SQS's duplicate of a message: the same message id and SentTimestamp.
      const first = delivered.get(envelope.id);
      queue.send(JSON.stringify(envelope), first?.id ?? randomUUID(), first?.sentAt);
    },
    async close() {
      queue.close();
      client.destroy();
      await api.close();
      await scheduler.close();
      await bus.close();
      await db.close();
      await ticketing?.close();
    },
  };
};
