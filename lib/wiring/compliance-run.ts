/**
 * The compliance-run function's wiring and handler: the policy from the stack's bucket (in the
 * `local` stage, POLICY_FILE), read-only OVH calls, events on the bus. Invoked by its schedule
 * (`{"mode": "report" | "enforce"}`) or on demand; the run id is the invocation's request id,
 * which Lambda keeps across the retries of one invocation.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { awsJsonClientFromEnv, DYNAMODB, EVENTBRIDGE, SSM } from '../adapters/aws/aws-json-client';
import { DynamoDbRolloutStore } from '../adapters/dynamodb/dynamodb-rollout-store';
import { DynamoDbUnappliedZones } from '../adapters/dynamodb/dynamodb-unapplied-zones';
import { EventBridgePublisher } from '../adapters/eventbridge/eventbridge-publisher';
import { FilePolicySource } from '../adapters/file/file-policy-source';
import { makeJsonCall } from '../adapters/http/json-call';
import { SlackIncomingWebhook } from '../adapters/http/slack-incoming-webhook';
import { s3GetObjectFromEnv } from '../adapters/s3/s3-object';
import { S3PolicySource } from '../adapters/s3/s3-policy-source';
import { makeSsmSecret } from '../adapters/ssm/ssm-secret';
import { makeAdvanceRollout } from '../app/advance-rollout';
import { makePlanPolicy } from '../app/plan-policy';
import {
  COMPLIANCE_MODES,
  type ComplianceMode,
  type ComplianceResult,
  makeRunCompliance,
} from '../app/run-compliance';
import { InvalidInputError } from '../domain/errors';
import { systemClock } from '../ports/clock';
import type { Log } from '../ports/log';
import type { PolicySource } from '../ports/policy-source';
import { ovhCallSettings, requiredVar, stageOf } from './config';
import { functionLogger, powertoolsLog } from './log';
import { ovhApiFromEnv, ovhCredentialParametersFromEnv } from './ovh-api';

const required = requiredVar;

export const wireComplianceRun = (env: NodeJS.ProcessEnv) => {
  const stage = stageOf(env);
  const local = stage === 'local';
  const busName = required(env, 'EVENT_BUS_NAME');
  const credentialsParameters = local ? undefined : ovhCredentialParametersFromEnv(env);
  // Read only when a run starts: the same function also advances rollouts, which need no policy.
  const policySource: PolicySource = {
    load: () =>
      (local && env.POLICY_FILE
        ? new FilePolicySource(env.POLICY_FILE)
        : new S3PolicySource({
            getObject: s3GetObjectFromEnv(env),
            bucket: required(env, 'POLICY_BUCKET'),
            key: required(env, 'POLICY_KEY'),
          })
      ).load(),
  };
  const logger = functionLogger(env);
  const log: Log = powertoolsLog(logger);
  const api = ovhApiFromEnv(env, { ...ovhCallSettings(env), credentialsParameters });
  const publisher = new EventBridgePublisher({
    client: awsJsonClientFromEnv(EVENTBRIDGE, env, { timeoutMs: 10_000 }),
    busName,
    clock: systemClock,
  });
  const dynamodb = awsJsonClientFromEnv(DYNAMODB, env, { timeoutMs: 10_000 });
  const tableName = required(env, 'IDEMPOTENCY_TABLE');
  const rollouts = new DynamoDbRolloutStore({ client: dynamodb, tableName });
  // The worker's records of zones it left holding its own unapplied writes (read only here).
  const unappliedZones = new DynamoDbUnappliedZones({ client: dynamodb, tableName });
  // The report summary: an incoming-webhook URL in a SecureString (local stage: SLACK_SUMMARY_WEBHOOK_URL).
  const summaryParameter = env.SLACK_SUMMARY_WEBHOOK_PARAMETER?.trim();
  const summaryUrl =
    !local && summaryParameter
      ? makeSsmSecret({
          ssm: awsJsonClientFromEnv(SSM, env, { timeoutMs: 5_000 }),
          parameterName: summaryParameter,
          clock: systemClock,
        })
      : local && env.SLACK_SUMMARY_WEBHOOK_URL
        ? async () => env.SLACK_SUMMARY_WEBHOOK_URL!
        : undefined;
  const summary = summaryUrl
    ? new SlackIncomingWebhook({
        url: summaryUrl,
        call: makeJsonCall({ timeoutMs: 5_000 }),
        ...(local && env.SLACK_ALLOWED_ORIGIN ? { allowedOrigin: env.SLACK_ALLOWED_ORIGIN } : {}),
      })
    : undefined;
  const runCompliance = makeRunCompliance({
    ...(summary ? { summary } : {}),
    policySource,
    planPolicy: makePlanPolicy({ api }),
    unapplied: { api, zones: unappliedZones },
    publisher,
    rollouts,
    clock: systemClock,
    log,
  });
  const advanceRollout = makeAdvanceRollout({ rollouts, publisher, clock: systemClock, log });
  return { logger, runCompliance, advanceRollout };
};

/** The schedule's input, or an on-demand invocation's payload. */
export interface ComplianceInvocation {
  mode?: string;
  runId?: string;
  /** The time the schedule fired for (the schedule's event `time`), the same in Lambda's retries. */
  scheduledAt?: string;
}

/** A terminal audit event of one of the run's own requests (the rule that advances rollouts). */
interface OutcomeEvent {
  'detail-type': string;
  detail: { requestId?: unknown; outcome?: unknown; code?: unknown };
}

/** A schedule's `scheduledAt`, checked: a run's change windows start then (now, without one). */
const scheduledAtOf = (event: ComplianceInvocation): { scheduledAt?: Date } => {
  if (event?.scheduledAt === undefined) return {};
  const at = typeof event.scheduledAt === 'string' ? Date.parse(event.scheduledAt) : Number.NaN;
  if (!Number.isFinite(at) || !/^\d{4}-\d\d-\d\dT/.test(String(event.scheduledAt)))
    throw new InvalidInputError(
      `scheduledAt must be an ISO 8601 time, got '${String(event.scheduledAt).slice(0, 40)}'`,
    );
  return { scheduledAt: new Date(at) };
};

export const makeComplianceRunHandler = (env: NodeJS.ProcessEnv) => {
  const { logger, runCompliance, advanceRollout } = wireComplianceRun(env);
  // Its warnings (an empty flush, a bad dimension) go through the function's logger, as JSON.
  const metrics = new Metrics({ namespace: 'stickler', serviceName: 'compliance-run', logger });
  const lambdaHandler = async (
    event: ComplianceInvocation | OutcomeEvent,
    context: Context,
  ): Promise<ComplianceResult | { rollout: string }> => {
    if (event && 'detail-type' in event) {
      const d = event.detail ?? {};
      const rollout =
        typeof d.requestId === 'string' && typeof d.outcome === 'string'
          ? await advanceRollout({
              requestId: d.requestId,
              outcome: d.outcome,
              code: typeof d.code === 'string' ? d.code : null,
            })
          : 'ignored';
      // The outcomes a rollout took (never an empty flush: Powertools warns on one).
      metrics.addMetric('rollout_outcomes', MetricUnit.Count, rollout === 'ignored' ? 0 : 1);
      return { rollout };
    }
    const mode = (event?.mode ?? 'report') as ComplianceMode;
    if (!COMPLIANCE_MODES.includes(mode))
      throw new InvalidInputError(
        `mode must be ${COMPLIANCE_MODES.join(' or ')}, got '${String(event.mode).slice(0, 20)}'`,
      );
    const runId =
      typeof event?.runId === 'string' && /^[\w.:-]{1,64}$/.test(event.runId)
        ? event.runId
        : context.awsRequestId;
    const result = await runCompliance({ mode, runId, ...scheduledAtOf(event) });
    // What the stack's dashboard draws: the drift over time, and zones left holding own writes.
    metrics.addMetric('drifted_farms', MetricUnit.Count, result.drifted);
    metrics.addMetric('unapplied_zones', MetricUnit.Count, result.unappliedZones);
    metrics.addMetric('farms_checked', MetricUnit.Count, result.farmsChecked);
    return result;
  };
  return middy(lambdaHandler).use(injectLambdaContext(logger)).use(logMetrics(metrics));
};
