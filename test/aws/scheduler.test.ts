import { GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { AwsError, awsRestJsonClientFromEnv, SCHEDULER } from '../../lib/adapters/aws/aws-json-client';
import { SchedulerDeferrals, scheduleName } from '../../lib/adapters/scheduler/scheduler-deferrals';
import { aChangeRequest } from '../helpers/factories';
import { awsEnv, queueArn, STACK, sdk, unique } from './moto';

describe('EventBridge Scheduler CreateSchedule on moto: deferrals in the stack schedule group', () => {
  const roleArn = 'arn:aws:iam::123456789012:role/stickler-dev-deferral';
  const deferrals = (groupName: string = STACK.scheduleGroup) =>
    new SchedulerDeferrals({
      client: awsRestJsonClientFromEnv(SCHEDULER, awsEnv(), { maxAttempts: 1 }),
      groupName,
      busArn: STACK.busArn,
      roleArn,
      deadLetterArn: queueArn(STACK.deferralDlq),
    });
  const until = new Date(Date.now() + 3_600_000).toISOString();
  const deferral = () => {
    const request = aChangeRequest({ requestId: unique('OPS-7'), window: { notBefore: until } } as never);
    return { requestId: request.requestId, until, source: 'acme.ticketing', request };
  };

  it('creates the one-time schedule exactly as the adapter asks (read back with GetSchedule)', async () => {
    const d = deferral();
    await deferrals().schedule(d);
    const schedule = await new SchedulerClient(sdk()).send(
      new GetScheduleCommand({ Name: scheduleName(d), GroupName: STACK.scheduleGroup }),
    );
    expect(schedule).toMatchObject({
      Name: scheduleName(d),
      GroupName: STACK.scheduleGroup,
      ScheduleExpression: `at(${new Date(Math.ceil(Date.parse(until) / 1000) * 1000).toISOString().slice(0, 19)})`,
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      State: 'ENABLED',
      Target: {
        Arn: STACK.busArn,
        RoleArn: roleArn,
        EventBridgeParameters: { DetailType: 'Stickiness Change Requested', Source: 'acme.ticketing' },
        RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 10 },
        DeadLetterConfig: { Arn: queueArn(STACK.deferralDlq) },
      },
    });
    expect(JSON.parse(schedule.Target!.Input!)).toEqual(d.request);
  });

  it('takes a schedule that exists as already scheduled (moto answers ConflictException, though with HTTP 400)', async () => {
    const d = deferral();
    await deferrals().schedule(d);
    await expect(deferrals().schedule(d)).resolves.toBeUndefined();
  });

  it('fails on anything else, so that the request is handed back', async () => {
    // A group that does not exist: AWS answers ResourceNotFoundException (404); moto 5.2.1 fails
    // with a 500 (a KeyError in its create_schedule). Either way the adapter throws.
    await expect(deferrals(unique('no-such-group')).schedule(deferral())).rejects.toBeInstanceOf(AwsError);
  });
});
