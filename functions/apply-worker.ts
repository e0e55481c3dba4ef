/**
 * apply-worker: takes queued `Stickiness Change Requested` events in batches (SQS), applies them
 * with one refresh per touched (service, zone), publishes an audit event per request, and reports
 * the records to deliver again (ReportBatchItemFailures).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { awsJsonClientFromEnv, DYNAMODB, EVENTBRIDGE, SSM } from '../lib/adapters/aws/aws-json-client';
import { DynamoDbFarmLedger } from '../lib/adapters/dynamodb/dynamodb-farm-ledger';
import { DynamoDbIdempotencyStore } from '../lib/adapters/dynamodb/dynamodb-idempotency-store';
import { EventBridgePublisher } from '../lib/adapters/eventbridge/eventbridge-publisher';
import { ovhConfigFromEnv } from '../lib/adapters/ovh/config';
import { OvhHttpClient } from '../lib/adapters/ovh/http-client';
import { OvhLoadBalancerApi } from '../lib/adapters/ovh/ovh-load-balancer-api';
import { makeSsmCredentialsLoader } from '../lib/adapters/ssm/ovh-credentials';
import { makeApplyRequests } from '../lib/app/apply-requests';
import { makeProcessChangeRequests, type ProcessDeps } from '../lib/app/process-change-requests';
import { systemClock } from '../lib/ports/clock';
import { loadWorkerConfig } from '../lib/shared/worker-config';

const config = loadWorkerConfig(process.env);
const logger = new Logger({ serviceName: 'stickler' });
const metrics = new Metrics({ namespace: 'stickler', serviceName: 'apply-worker' });
// AWS calls: fetch + SigV4 rather than the AWS SDK clients, whose loading alone took longer than
// the rest of this module (README, "Cold start"). Each attempt times out after 10 s.
const awsTimeouts = { timeoutMs: 10_000 };

const credentials = config.ovhCredentialsParameter
  ? makeSsmCredentialsLoader({
      ssm: awsJsonClientFromEnv(SSM, process.env, awsTimeouts),
      parameterName: config.ovhCredentialsParameter,
      clock: systemClock,
    })
  : ovhConfigFromEnv(process.env).credentials; // the `local` stage only (loadWorkerConfig enforces it)

const api = new OvhLoadBalancerApi(
  new OvhHttpClient({
    baseUrl: config.ovhBaseUrl,
    credentials,
    concurrency: config.ovhConcurrency,
    timeoutMs: config.ovhTimeoutMs,
  }),
);

const dynamodb = awsJsonClientFromEnv(DYNAMODB, process.env, awsTimeouts);

const deps: ProcessDeps = {
  applyRequests: makeApplyRequests({ api, clock: systemClock }),
  publisher: new EventBridgePublisher({
    client: awsJsonClientFromEnv(EVENTBRIDGE, process.env, awsTimeouts),
    busName: config.eventBusName,
    clock: systemClock,
  }),
  idempotency: new DynamoDbIdempotencyStore({ client: dynamodb, tableName: config.idempotencyTable }),
  ledger: new DynamoDbFarmLedger({ client: dynamodb, tableName: config.idempotencyTable }),
  clock: systemClock,
  log: {
    info: (message, extra) => logger.info(message, extra ?? {}),
    warn: (message, extra) => logger.warn(message, extra ?? {}),
    error: (message, extra) => logger.error(message, extra ?? {}),
  },
  applyOptions: {
    allowForeignPending: false,
    pollIntervalMs: config.pollIntervalMs,
    taskTimeoutMs: config.taskTimeoutMs,
  },
  maxReceiveCount: config.maxReceiveCount,
  claimHoldMs: config.claimHoldMs,
};

const processRecords = makeProcessChangeRequests(deps);

export const lambdaHandler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  // Zones are started only while enough time remains to finish them (config.finishReserveMs):
  // a zone cut off by the function timeout would be left stored but not applied.
  const startWindowMs = context.getRemainingTimeInMillis() - config.finishReserveMs;
  if (startWindowMs <= 0) {
    logger.error(
      'the function timeout leaves no time to start a zone: every request goes back to the queue',
      {
        remainingMs: context.getRemainingTimeInMillis(),
        finishReserveMs: config.finishReserveMs,
      },
    );
  }
  const result = await processRecords(
    event.Records.map((r) => ({
      id: r.messageId,
      body: r.body,
      receiveCount: Number(r.attributes.ApproximateReceiveCount) || 1,
    })),
    { signal: startWindowMs > 0 ? AbortSignal.timeout(startWindowMs) : AbortSignal.abort() },
  );
  for (const fate of result.fates.values()) metrics.addMetric(`requests_${fate}`, MetricUnit.Count, 1);
  logger.info('batch processed', {
    records: event.Records.length,
    fates: Object.fromEntries([...result.fates].map(([id, fate]) => [id, fate])),
    retry: result.failedRecordIds.length,
  });
  return { batchItemFailures: result.failedRecordIds.map((itemIdentifier) => ({ itemIdentifier })) };
};

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger)).use(logMetrics(metrics));
