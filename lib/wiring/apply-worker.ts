/**
 * The apply-worker's wiring, done once per Lambda instance: configuration read and checked,
 * logger and metrics, OVH credentials (SSM outside the `local` stage), and the ports assembled
 * into the use case, and the Lambda handler: SQS records in, ReportBatchItemFailures out (with
 * short delays for the records handed back), under the Powertools middlewares.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import {
  awsJsonClientFromEnv,
  awsRestJsonClientFromEnv,
  DYNAMODB,
  EVENTBRIDGE,
  SCHEDULER,
  SQS,
} from '../adapters/aws/aws-json-client';
import { DynamoDbFarmLedger } from '../adapters/dynamodb/dynamodb-farm-ledger';
import { DynamoDbIdempotencyStore } from '../adapters/dynamodb/dynamodb-idempotency-store';
import { DynamoDbServiceLeases } from '../adapters/dynamodb/dynamodb-service-leases';
import { DynamoDbUnappliedZones } from '../adapters/dynamodb/dynamodb-unapplied-zones';
import { DynamoDbZoneSlots } from '../adapters/dynamodb/dynamodb-zone-slots';
import { EventBridgePublisher } from '../adapters/eventbridge/eventbridge-publisher';
import { OvhLoadBalancerApi } from '../adapters/ovh/ovh-load-balancer-api';
import { OvhMetricsTraffic } from '../adapters/ovh/ovh-metrics-traffic';
import { SchedulerDeferrals } from '../adapters/scheduler/scheduler-deferrals';
import { incomingCancel, incomingRecord, isCancelMessage } from '../adapters/sqs/change-request-record';
import { makeSqsVisibility } from '../adapters/sqs/sqs-visibility';
import { incomingZoneRefresh, isZoneRefreshMessage } from '../adapters/sqs/zone-refresh-record';
import { makeApplyRequests } from '../app/apply-requests';
import { makeProcessCancels } from '../app/process-cancels';
import { makeProcessChangeRequests, type ProcessResult } from '../app/process-change-requests';
import { InvalidInputError } from '../domain/errors';
import { DETAIL_TYPES } from '../domain/events';
import { DEFAULT_TIME_LIMITS } from '../domain/request-rules';
import { systemClock } from '../ports/clock';
import type { Log } from '../ports/log';
import { functionLogger, powertoolsLog } from './log';
import { ovhClientFromEnv } from './ovh-api';
import { loadWorkerConfig, type WorkerConfig } from './worker-config';
import { mergeResults, wireZoneRefreshes } from './zone-refresh-worker';

/** Every AWS call's attempt times out after this (the client retries, with backoff). */
const AWS_TIMEOUTS = { timeoutMs: 10_000 };

/** OVH's API and the load balancers' traffic, through one client (SSM credentials outside the `local` stage). */
const ovhPorts = (env: NodeJS.ProcessEnv, config: WorkerConfig) => {
  const ovh = ovhClientFromEnv(env, {
    baseUrl: config.ovhBaseUrl,
    credentialsParameters: config.ovhCredentialsParameters,
    concurrency: config.ovhConcurrency,
    timeoutMs: config.ovhTimeoutMs,
  });
  const api = new OvhLoadBalancerApi(ovh);
  // Read as each zone's refresh is asked, for its audit events; short timeouts, since a zone's
  // outcome waits for the read (which has usually ended by the time the refresh task has).
  const traffic = new OvhMetricsTraffic(ovh, { timeoutMs: 3_000, tokenBudgetMs: 3_000 });
  return { api, traffic };
};

/** The worker's AWS adapters: the table's stores, the bus's publisher, the scheduler's deferrals. */
const awsPorts = (env: NodeJS.ProcessEnv, config: WorkerConfig) => {
  const dynamodb = awsJsonClientFromEnv(DYNAMODB, env, AWS_TIMEOUTS);
  const tableName = config.idempotencyTable;
  const idempotency = new DynamoDbIdempotencyStore({ client: dynamodb, tableName });
  const ledger = new DynamoDbFarmLedger({ client: dynamodb, tableName });
  const publisher = new EventBridgePublisher({
    client: awsJsonClientFromEnv(EVENTBRIDGE, env, AWS_TIMEOUTS),
    busName: config.eventBusName,
    clock: systemClock,
  });
  const deferrals = new SchedulerDeferrals({
    client: awsRestJsonClientFromEnv(SCHEDULER, env, AWS_TIMEOUTS),
    ...config.deferral,
  });
  const unapplied = new DynamoDbUnappliedZones({ client: dynamodb, tableName });
  // One holder per Lambda instance: an instance runs one invocation at a time.
  const leases = new DynamoDbServiceLeases({ client: dynamodb, tableName });
  // Each zone's quietest slot, joined by the zone's later requests whose windows hold it.
  const zoneSlots = new DynamoDbZoneSlots({ client: dynamodb, tableName });
  return { idempotency, ledger, publisher, deferrals, unapplied, leases, zoneSlots };
};

/** The change requests' use case, as the worker runs it. */
const workerProcessChangeRequests = (
  config: WorkerConfig,
  { api, traffic }: ReturnType<typeof ovhPorts>,
  { unapplied, zoneSlots, ...aws }: ReturnType<typeof awsPorts>,
  log: Log,
) =>
  makeProcessChangeRequests({
    applyRequests: makeApplyRequests({ api, clock: systemClock, unapplied }),
    publisher: aws.publisher,
    idempotency: aws.idempotency,
    ledger: aws.ledger,
    refreshTasks: api,
    traffic,
    // A request's zone is its farm's, read from OVH when it prefers the quietest time.
    zoneSlots: { store: zoneSlots, farms: api },
    leases: aws.leases,
    deferrals: aws.deferrals,
    clock: systemClock,
    log,
    applyOptions: {
      allowForeignPending: false,
      // Someone else's unapplied changes in a zone: wait for them (hand the requests back), never push them.
      foreignPending: 'retry',
      pollIntervalMs: config.pollIntervalMs,
      taskTimeoutMs: config.taskTimeoutMs,
      zoneBudgetMs: config.finishReserveMs,
    },
    maxReceiveCount: config.maxReceiveCount,
    claimHoldMs: config.claimHoldMs,
    leaseWaitMs: config.leaseWaitMs,
    // A window must outlast the batching window, and a moment to write.
    timeLimits: { ...DEFAULT_TIME_LIMITS, minWindowMs: config.batchWindowMs + 10_000 },
  });

/**
 * A batch's records: change requests, then cancels (a request deferred in this batch can be
 * cancelled by it), then zone refreshes.
 */
const batchProcessor = (
  processChangeRequests: ReturnType<typeof makeProcessChangeRequests>,
  processCancels: ReturnType<typeof makeProcessCancels>,
  processZoneRefreshes: ReturnType<typeof wireZoneRefreshes>,
) => {
  const processBatch = async (
    records: SQSEvent['Records'],
    options: { deadline: number },
  ): Promise<ProcessResult> => {
    const refreshes = records.filter((r) => isZoneRefreshMessage(r.body));
    const cancels = records.filter((r) => isCancelMessage(r.body));
    const changes = records.filter((r) => !cancels.includes(r) && !refreshes.includes(r));
    const a = await processChangeRequests(changes.map(incomingRecord), options);
    const b = cancels.length > 0 ? await processCancels(cancels.map(incomingCancel)) : undefined;
    const c =
      refreshes.length > 0
        ? await processZoneRefreshes(refreshes.map(incomingZoneRefresh), options)
        : undefined;
    return mergeResults(records, [a, b, c]);
  };
  return processBatch;
};

export const wireApplyWorker = (env: NodeJS.ProcessEnv) => {
  const config = loadWorkerConfig(env);
  const logger = functionLogger(env);
  // Its warnings (an empty flush, a bad dimension) go through the function's logger, as JSON.
  const metrics = new Metrics({ namespace: 'stickler', serviceName: 'apply-worker', logger });
  const log: Log = powertoolsLog(logger);
  const ovh = ovhPorts(env, config);
  const aws = awsPorts(env, config);
  const processChangeRequests = workerProcessChangeRequests(config, ovh, aws, log);
  const processCancels = makeProcessCancels({
    idempotency: aws.idempotency,
    ledger: aws.ledger,
    deferrals: aws.deferrals,
    publisher: aws.publisher,
    clock: systemClock,
    log,
    maxReceiveCount: config.maxReceiveCount,
    claimHoldMs: config.claimHoldMs,
  });
  const processZoneRefreshes = wireZoneRefreshes({ config, api: ovh.api, log, ...aws });
  const processBatch = batchProcessor(processChangeRequests, processCancels, processZoneRefreshes);
  const delayRecords = makeSqsVisibility({
    client: awsJsonClientFromEnv(SQS, env, AWS_TIMEOUTS),
    endpoint: env.AWS_ENDPOINT_URL_SQS || env.AWS_ENDPOINT_URL || undefined,
  });

  return { config, logger, metrics, processBatch, delayRecords };
};

/** A killed batch's records come back this long after the invocation's end. */
const KILLED_BATCH_MARGIN_SECONDS = 60;

/** Kept at the end of an invocation for the outbox (DynamoDB and PutEvents, with their retries). */
const OUTBOX_RESERVE_MS = 30_000;

type DelayRecords = ReturnType<typeof makeSqsVisibility>;

/**
 * If this invocation is killed, its records come back when it would have ended (and a minute),
 * not after the queue's visibility timeout (six function timeouts, 90 minutes as deployed).
 */
const boundVisibilityToInvocation = async (
  records: SQSEvent['Records'],
  remainingMs: number,
  config: WorkerConfig,
  delayRecords: DelayRecords,
  logger: Logger,
): Promise<void> => {
  const untilEnd = Math.ceil(remainingMs / 1000) + KILLED_BATCH_MARGIN_SECONDS;
  if (untilEnd >= config.queueVisibilitySeconds) return;
  const { failed } = await delayRecords(records, new Map(records.map((r) => [r.messageId, untilEnd]))).catch(
    () => ({ failed: records.map((r) => r.messageId) }),
  );
  if (failed.length > 0)
    logger.warn(
      'could not bound the visibility of some records to this invocation; a kill returns them later',
      {
        records: failed.length,
      },
    );
};

/**
 * Records handed back come again after a short, growing delay rather than the queue's
 * visibility timeout (six times the function timeout).
 */
const delayRetries = async (
  records: SQSEvent['Records'],
  result: ProcessResult,
  delayRecords: DelayRecords,
  logger: Logger,
): Promise<void> => {
  const delays = new Map(
    result.retry.filter((r) => r.delaySeconds !== undefined).map((r) => [r.recordId, r.delaySeconds!]),
  );
  if (delays.size === 0) return;
  const { failed } = await delayRecords(records, delays);
  if (failed.length > 0)
    logger.warn(
      'could not shorten the visibility of some records; they come back after the visibility timeout',
      {
        records: failed,
      },
    );
};

/** What the stack's dashboard draws: outcomes, refusals by reason, zone applies, lease waits. */
const addBatchMetrics = (metrics: Metrics, result: ProcessResult): void => {
  for (const fate of result.fates.values()) metrics.addMetric(`requests_${fate}`, MetricUnit.Count, 1);
  for (const e of result.published) {
    const code = (e.detail as { code?: unknown }).code;
    if (e.detailType === DETAIL_TYPES.refused && typeof code === 'string')
      metrics.addMetric(`refused_${code.replace(/[^\w-]/g, '_').slice(0, 40)}`, MetricUnit.Count, 1);
    if (e.detailType === DETAIL_TYPES.zoneApplied) metrics.addMetric('zone_applies', MetricUnit.Count, 1);
  }
  if (result.leaseWaitMs) metrics.addMetric('lease_wait', MetricUnit.Milliseconds, result.leaseWaitMs);
};

/** The apply-worker's Lambda handler, wired from `env` (functions/apply-worker.ts; the local pipeline). */
export const makeApplyWorkerHandler = (env: NodeJS.ProcessEnv) => {
  const { config, logger, metrics, processBatch, delayRecords } = wireApplyWorker(env);

  const lambdaHandler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    // Every wait ends by the deadline, and a zone starts only if it (and the zone ahead of it) can
    // end by then (config.finishReserveMs each): a zone cut off by the function timeout would be
    // left stored but not applied.
    const remainingMs = context.getRemainingTimeInMillis();
    if (remainingMs - OUTBOX_RESERVE_MS < config.finishReserveMs) {
      logger.error(
        'the function timeout leaves no time to start a zone: every request goes back to the queue',
        {
          remainingMs,
          finishReserveMs: config.finishReserveMs,
        },
      );
    }
    if (!Array.isArray(event?.Records)) {
      // Not an SQS event (an invoke by hand with another payload): say so, in our words.
      throw new InvalidInputError(
        'the apply-worker takes an SQS event: this one has no Records list; nothing was done',
      );
    }
    await boundVisibilityToInvocation(event.Records, remainingMs, config, delayRecords, logger);
    const result = await processBatch(event.Records, {
      deadline: Date.now() + remainingMs - OUTBOX_RESERVE_MS,
    });
    await delayRetries(event.Records, result, delayRecords, logger);
    addBatchMetrics(metrics, result);
    logger.info('batch processed', {
      records: event.Records.length,
      fates: Object.fromEntries(result.fates),
      retry: result.retry.length,
    });
    return { batchItemFailures: result.retry.map((r) => ({ itemIdentifier: r.recordId })) };
  };

  return middy(lambdaHandler).use(injectLambdaContext(logger)).use(logMetrics(metrics));
};
