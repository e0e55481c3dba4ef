import { SCHEDULER } from '../../../lib/adapters/aws/aws-json-client';
import {
  atExpression,
  SchedulerDeferrals,
  scheduleName,
} from '../../../lib/adapters/scheduler/scheduler-deferrals';
import { aChangeRequest } from '../../helpers/factories';
import { type FakeAws, startFakeAws } from '../../helpers/fake-aws';

describe('SchedulerDeferrals (EventBridge Scheduler CreateSchedule over HTTP, SigV4 checked)', () => {
  let aws: FakeAws;
  beforeAll(async () => {
    aws = await startFakeAws({ service: 'scheduler' });
  });
  afterAll(() => aws.close());
  beforeEach(() => aws.reset());
  const deadLetterArn = 'arn:aws:sqs:eu-west-3:123456789012:stickler-test-deferral-dlq';
  const deferrals = (options: { deadLetterArn?: string } = { deadLetterArn }) =>
    new SchedulerDeferrals({
      client: aws.restClient(SCHEDULER, { maxAttempts: 1 }),
      groupName: 'stickler-test',
      busArn: 'arn:aws:events:eu-west-3:123456789012:event-bus/stickler-test',
      roleArn: 'arn:aws:iam::123456789012:role/stickler-test-deferral',
      ...options,
    });
  const request = aChangeRequest({
    requestId: 'OPS-1/lb-a/http/1',
    window: { notBefore: '2026-11-25T22:00:00.250Z' },
  } as never);
  const deferral = {
    requestId: request.requestId,
    until: '2026-11-25T22:00:00.250Z',
    source: 'acme.ticketing',
    request,
  };

  it('creates a one-time schedule that puts the same request back on the bus, as its publisher, no earlier than asked', async () => {
    aws.on('POST /schedules/*', () => ({ body: { ScheduleArn: 'arn:aws:scheduler:::schedule/x' } }));
    await deferrals().schedule(deferral);
    expect(aws.calls).toHaveLength(1);
    const call = aws.calls[0]!;
    expect(call.target).toBe(`POST /schedules/${scheduleName(deferral)}`);
    expect(scheduleName(deferral)).toMatch(/^[0-9a-zA-Z_.-]{1,64}$/);
    expect(call.input).toEqual({
      GroupName: 'stickler-test',
      ScheduleExpression: 'at(2026-11-25T22:00:01)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      Description: 'stickler: request OPS-1/lb-a/http/1 deferred to its change window',
      ClientToken: scheduleName(deferral),
      Target: {
        Arn: 'arn:aws:events:eu-west-3:123456789012:event-bus/stickler-test',
        RoleArn: 'arn:aws:iam::123456789012:role/stickler-test-deferral',
        Input: expect.any(String),
        EventBridgeParameters: { DetailType: 'Stickiness Change Requested', Source: 'acme.ticketing' },
        RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 10 },
        // A request Scheduler cannot put back on the bus lands in the stack's deferral DLQ, not nowhere.
        DeadLetterConfig: { Arn: deadLetterArn },
      },
    });
    expect(JSON.parse((call.input.Target as { Input: string }).Input)).toEqual(request);
  });

  it('sends no dead-letter configuration when it has no queue for one', async () => {
    aws.on('POST /schedules/*', () => ({ body: { ScheduleArn: 'arn:aws:scheduler:::schedule/x' } }));
    await deferrals({}).schedule(deferral);
    expect(aws.calls[0]!.input.Target).not.toHaveProperty('DeadLetterConfig');
  });

  it('takes an existing schedule of the same name as already scheduled (a redelivery defers once)', async () => {
    aws.on('POST /schedules/*', () => ({
      status: 409,
      headers: { 'x-amzn-errortype': 'ConflictException' },
      body: { Message: 'Schedule already exists.' },
    }));
    await expect(deferrals().schedule(deferral)).resolves.toBeUndefined();
  });

  it('fails loudly on anything else, so the request is handed back rather than lost', async () => {
    aws.on('POST /schedules/*', () => ({
      status: 400,
      headers: { 'x-amzn-errortype': 'ValidationException' },
      body: { Message: 'bad' },
    }));
    await expect(deferrals().schedule(deferral)).rejects.toThrow(/ValidationException/);
  });

  it('deletes the schedule of a cancelled deferral, in its group, signed with its query string; one already gone is not an error', async () => {
    let reached = 0;
    aws.on('DELETE /schedules/*', () => {
      reached++;
      return { body: {} };
    });
    await deferrals().cancel(deferral);
    expect(aws.calls.map((c) => c.target)).toEqual([`DELETE /schedules/${scheduleName(deferral)}`]);
    expect(reached).toBe(1); // it reached the route: its signature, query string included, was accepted
    aws.on('DELETE /schedules/*', () => ({
      status: 404,
      headers: { 'x-amzn-errortype': 'ResourceNotFoundException' },
      body: { Message: 'Schedule not found.' },
    }));
    await expect(deferrals().cancel(deferral)).resolves.toBeUndefined();
    aws.on('DELETE /schedules/*', () => ({
      status: 400,
      headers: { 'x-amzn-errortype': 'ValidationException' },
      body: { Message: 'bad' },
    }));
    await expect(deferrals().cancel(deferral)).rejects.toThrow(/ValidationException/);
  });

  it('rounds the time up to the second', () => {
    expect(atExpression('2026-11-25T22:00:00Z')).toBe('at(2026-11-25T22:00:00)');
    expect(atExpression('2026-11-25T23:59:59.001+00:00')).toBe('at(2026-11-26T00:00:00)');
  });
});
