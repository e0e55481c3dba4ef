/**
 * apply-worker: takes queued `Stickiness Change Requested` events in batches (SQS), applies them
 * with one refresh per touched (service, zone), publishes an audit event per request, and reports
 * the records to deliver again (ReportBatchItemFailures). Wiring: lib/wiring/apply-worker.ts.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { incomingRecord } from '../lib/adapters/sqs/change-request-record';
import { wireApplyWorker } from '../lib/wiring/apply-worker';

const { config, logger, metrics, processChangeRequests, delayRecords } = wireApplyWorker(process.env);

/** Kept at the end of an invocation for the outbox (DynamoDB and PutEvents, with their retries). */
const OUTBOX_RESERVE_MS = 30_000;

export const lambdaHandler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
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
  const result = await processChangeRequests(event.Records.map(incomingRecord), {
    deadline: Date.now() + remainingMs - OUTBOX_RESERVE_MS,
  });
  // Records handed back come again after a short, growing delay rather than the queue's
  // visibility timeout (six times the function timeout).
  const delays = new Map(
    result.retry.filter((r) => r.delaySeconds !== undefined).map((r) => [r.recordId, r.delaySeconds!]),
  );
  if (delays.size > 0) {
    const { failed } = await delayRecords(event.Records, delays);
    if (failed.length > 0)
      logger.warn(
        'could not shorten the visibility of some records; they come back after the visibility timeout',
        {
          records: failed,
        },
      );
  }
  for (const fate of result.fates.values()) metrics.addMetric(`requests_${fate}`, MetricUnit.Count, 1);
  logger.info('batch processed', {
    records: event.Records.length,
    fates: Object.fromEntries(result.fates),
    retry: result.retry.length,
  });
  return { batchItemFailures: result.retry.map((r) => ({ itemIdentifier: r.recordId })) };
};

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger)).use(logMetrics(metrics));
