/**
 * DeferralScheduler on EventBridge Scheduler: a one-time schedule (`at(...)`, UTC, no flexible
 * window, deleted after it runs) whose target puts the same change request back on the bus,
 * with the original publisher's source. The schedule's name is derived from the request id and
 * the time, so scheduling the same deferral twice makes one schedule (the second call meets
 * ConflictException, which means it is already scheduled). A cancelled deferral's schedule is
 * deleted (one already gone, because it fired, is not an error).
 */
import { createHash } from 'node:crypto';
import { DETAIL_TYPES } from '../../domain/events';
import type { Deferral, DeferralScheduler } from '../../ports/deferral-scheduler';
import { AwsError, type AwsRestCall } from '../aws/aws-json-client';

export interface SchedulerDeferralsOptions {
  /** A Scheduler client (makeAwsRestJsonClient with SCHEDULER). */
  client: AwsRestCall;
  /** The schedule group the worker may create schedules in. */
  groupName: string;
  /** The bus the request goes back to. */
  busArn: string;
  /** The role Scheduler assumes to put it there (allowed only events:PutEvents on the bus). */
  roleArn: string;
  /**
   * The SQS queue a schedule's request lands in when Scheduler cannot put it on the bus after its
   * retries (the stack's deferral DLQ, alarmed); without one such a request would be lost unseen.
   */
  deadLetterArn?: string;
}

/** Schedule names: 1 to 64 of [0-9a-zA-Z-_.]. */
export const scheduleName = (deferral: Pick<Deferral, 'requestId' | 'until'>): string =>
  `defer-${createHash('sha256').update(`${deferral.requestId}\n${deferral.until}`).digest('hex').slice(0, 48)}`;

/** `at()` takes a date-time to the second, without offset (UTC here): rounded up, never early. */
export const atExpression = (until: string): string =>
  `at(${new Date(Math.ceil(Date.parse(until) / 1000) * 1000).toISOString().slice(0, 19)})`;

export class SchedulerDeferrals implements DeferralScheduler {
  constructor(private readonly options: SchedulerDeferralsOptions) {}

  async schedule(deferral: Deferral): Promise<void> {
    const { client, groupName, busArn, roleArn, deadLetterArn } = this.options;
    const name = scheduleName(deferral);
    try {
      await client('POST', `/schedules/${name}`, {
        GroupName: groupName,
        ScheduleExpression: atExpression(deferral.until),
        ScheduleExpressionTimezone: 'UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        ActionAfterCompletion: 'DELETE',
        Description: `stickler: request ${deferral.requestId.slice(0, 128)} deferred to its change window`,
        ClientToken: name,
        Target: {
          Arn: busArn,
          RoleArn: roleArn,
          Input: JSON.stringify(deferral.request),
          EventBridgeParameters: { DetailType: DETAIL_TYPES.changeRequested, Source: deferral.source },
          // An hour of retries, then the dead-letter queue: a failure that long is a permission
          // or a configuration, which an operator must fix before republishing the request.
          RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 10 },
          ...(deadLetterArn ? { DeadLetterConfig: { Arn: deadLetterArn } } : {}),
        },
      });
    } catch (error) {
      if (error instanceof AwsError && error.code === 'ConflictException') return; // already scheduled
      throw error;
    }
  }

  async cancel(deferral: Pick<Deferral, 'requestId' | 'until'>): Promise<void> {
    const { client, groupName } = this.options;
    const query = new URLSearchParams({ groupName, clientToken: `cancel-${scheduleName(deferral)}` });
    try {
      await client('DELETE', `/schedules/${scheduleName(deferral)}?${query}`);
    } catch (error) {
      if (error instanceof AwsError && error.code === 'ResourceNotFoundException') return; // fired, or gone
      throw error;
    }
  }
}
