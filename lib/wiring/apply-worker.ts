/**
 * The apply-worker's wiring, done once per Lambda instance: configuration read and checked,
 * logger and metrics, OVH credentials (SSM outside the `local` stage), and the ports assembled
 * into the use case. functions/apply-worker.ts only adds the Lambda translation and middleware.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  awsJsonClientFromEnv,
  awsRestJsonClientFromEnv,
  DYNAMODB,
  EVENTBRIDGE,
  SCHEDULER,
  SQS,
  SSM,
} from '../adapters/aws/aws-json-client';
import { DynamoDbFarmLedger } from '../adapters/dynamodb/dynamodb-farm-ledger';
import { DynamoDbIdempotencyStore } from '../adapters/dynamodb/dynamodb-idempotency-store';
import { DynamoDbServiceLeases } from '../adapters/dynamodb/dynamodb-service-leases';
import { EventBridgePublisher } from '../adapters/eventbridge/eventbridge-publisher';
import { ovhConfigFromEnv } from '../adapters/ovh/config';
import { OvhHttpClient } from '../adapters/ovh/http-client';
import { OvhLoadBalancerApi } from '../adapters/ovh/ovh-load-balancer-api';
import { SchedulerDeferrals } from '../adapters/scheduler/scheduler-deferrals';
import { makeSqsVisibility } from '../adapters/sqs/sqs-visibility';
import { makeSsmCredentialsLoader } from '../adapters/ssm/ovh-credentials';
import { makeApplyRequests } from '../app/apply-requests';
import { makeProcessChangeRequests } from '../app/process-change-requests';
import { systemClock } from '../ports/clock';
import type { Log } from '../ports/log';
import { loadWorkerConfig } from '../shared/worker-config';

/** Every AWS call's attempt times out after this (the client retries, with backoff). */
const AWS_TIMEOUTS = { timeoutMs: 10_000 };

export const wireApplyWorker = (env: NodeJS.ProcessEnv) => {
  const config = loadWorkerConfig(env);
  const logger = new Logger({ serviceName: 'stickler' });
  const metrics = new Metrics({ namespace: 'stickler', serviceName: 'apply-worker' });
  const log: Log = {
    info: (message, extra) => logger.info(message, extra ?? {}),
    warn: (message, extra) => logger.warn(message, extra ?? {}),
    error: (message, extra) => logger.error(message, extra ?? {}),
  };

  const credentials = config.ovhCredentialsParameter
    ? makeSsmCredentialsLoader({
        ssm: awsJsonClientFromEnv(SSM, env, AWS_TIMEOUTS),
        parameterName: config.ovhCredentialsParameter,
        clock: systemClock,
      })
    : ovhConfigFromEnv(env).credentials; // the `local` stage only (loadWorkerConfig enforces it)

  const api = new OvhLoadBalancerApi(
    new OvhHttpClient({
      baseUrl: config.ovhBaseUrl,
      credentials,
      concurrency: config.ovhConcurrency,
      timeoutMs: config.ovhTimeoutMs,
    }),
  );
  const dynamodb = awsJsonClientFromEnv(DYNAMODB, env, AWS_TIMEOUTS);

  const processChangeRequests = makeProcessChangeRequests({
    applyRequests: makeApplyRequests({ api, clock: systemClock }),
    publisher: new EventBridgePublisher({
      client: awsJsonClientFromEnv(EVENTBRIDGE, env, AWS_TIMEOUTS),
      busName: config.eventBusName,
      clock: systemClock,
    }),
    idempotency: new DynamoDbIdempotencyStore({ client: dynamodb, tableName: config.idempotencyTable }),
    ledger: new DynamoDbFarmLedger({ client: dynamodb, tableName: config.idempotencyTable }),
    // One holder per Lambda instance: an instance runs one invocation at a time.
    leases: new DynamoDbServiceLeases({ client: dynamodb, tableName: config.idempotencyTable }),
    deferrals: new SchedulerDeferrals({
      client: awsRestJsonClientFromEnv(SCHEDULER, env, AWS_TIMEOUTS),
      ...config.deferral,
    }),
    clock: systemClock,
    log,
    applyOptions: {
      allowForeignPending: false,
      pollIntervalMs: config.pollIntervalMs,
      taskTimeoutMs: config.taskTimeoutMs,
      zoneBudgetMs: config.finishReserveMs,
    },
    maxReceiveCount: config.maxReceiveCount,
    claimHoldMs: config.claimHoldMs,
  });

  const delayRecords = makeSqsVisibility({
    client: awsJsonClientFromEnv(SQS, env, AWS_TIMEOUTS),
    endpoint: env.AWS_ENDPOINT_URL_SQS || env.AWS_ENDPOINT_URL || undefined,
  });

  return { config, logger, metrics, processChangeRequests, delayRecords };
};
