/**
 * apply-worker: takes queued `Stickiness Change Requested` events in batches (SQS), applies them
 * with one refresh per touched (service, zone), publishes an audit event per request, and reports
 * the records to deliver again (ReportBatchItemFailures). Wiring and handler: lib/wiring/apply-worker.ts.
 */
import { makeApplyWorkerHandler } from '../lib/wiring/apply-worker';

export const handler = makeApplyWorkerHandler(process.env);
