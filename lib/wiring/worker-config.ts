/** The apply worker's settings, read from the environment once and checked. */

import type { OvhCredentialParameters } from '../adapters/ssm/ovh-credentials';
import { type EnvNumber, intVar, ovhCallSettings, requiredVar, stageOf } from './config';
import { ovhCredentialParametersFromEnv } from './ovh-api';

export interface WorkerConfig {
  stage: string;
  eventBusName: string;
  idempotencyTable: string;
  ovhBaseUrl: string;
  /** SSM SecureStrings holding the OVH credentials (required outside the `local` stage). */
  ovhCredentialsParameters: OvhCredentialParameters | undefined;
  maxReceiveCount: number;
  claimHoldMs: number;
  ovhConcurrency: number;
  ovhTimeoutMs: number;
  pollIntervalMs: number;
  taskTimeoutMs: number;
  /**
   * Time kept at the end of an invocation to finish the zones already started: once less than
   * this remains, no further zone is started and its requests go back to the queue untouched.
   */
  finishReserveMs: number;
  /** How long a batch whose load balancers are all held by another batch waits before handing its records back. */
  leaseWaitMs: number;
  /** The queue's batching window (BATCH_WINDOW_SECONDS, as the event source mapping has it): windows shorter are refused. */
  batchWindowMs: number;
  /** The queue's visibility timeout (QUEUE_VISIBILITY_SECONDS): a batch bounds its records' visibility below it. */
  queueVisibilitySeconds: number;
  /** Where early requests are scheduled back onto the bus (EventBridge Scheduler). */
  /** `deadLetterArn`: where Scheduler puts a deferred request it cannot put back on the bus. */
  deferral: { groupName: string; busArn: string; roleArn: string; deadLetterArn?: string };
}

const int = (env: NodeJS.ProcessEnv, name: EnvNumber, fallback: number): number =>
  intVar(env, name, fallback);
const required = requiredVar;

export const loadWorkerConfig = (env: NodeJS.ProcessEnv): WorkerConfig => {
  const stage = stageOf(env);
  // The `local` stage never reads SSM: it takes OVH_* variables (the simulator's, usually).
  const ovhCredentialsParameters = stage === 'local' ? undefined : ovhCredentialParametersFromEnv(env);
  const ovh = ovhCallSettings(env);
  return {
    stage,
    eventBusName: required(env, 'EVENT_BUS_NAME'),
    idempotencyTable: required(env, 'IDEMPOTENCY_TABLE'),
    ovhBaseUrl: ovh.baseUrl,
    ovhCredentialsParameters,
    maxReceiveCount: int(env, 'MAX_RECEIVE_COUNT', 5),
    claimHoldMs: int(env, 'CLAIM_HOLD_MS', 900_000),
    ovhConcurrency: ovh.concurrency,
    ovhTimeoutMs: ovh.timeoutMs,
    pollIntervalMs: int(env, 'POLL_INTERVAL_MS', 2_000),
    taskTimeoutMs: int(env, 'TASK_TIMEOUT_MS', 240_000),
    // A started zone needs its writes and a refresh task (up to TASK_TIMEOUT_MS); one more minute
    // covers the writes, the audit and a slow OVH answer.
    finishReserveMs: int(env, 'FINISH_RESERVE_MS', int(env, 'TASK_TIMEOUT_MS', 240_000) + 60_000),
    leaseWaitMs: int(env, 'LEASE_WAIT_MS', 60_000),
    batchWindowMs: int(env, 'BATCH_WINDOW_SECONDS', 20) * 1000,
    queueVisibilitySeconds: int(env, 'QUEUE_VISIBILITY_SECONDS', 5_400),
    deferral: {
      groupName: required(env, 'DEFERRAL_SCHEDULE_GROUP'),
      busArn: required(env, 'EVENT_BUS_ARN'),
      roleArn: required(env, 'DEFERRAL_ROLE_ARN'),
      ...(env.DEFERRAL_DLQ_ARN?.trim() ? { deadLetterArn: env.DEFERRAL_DLQ_ARN.trim() } : {}),
    },
  };
};
