import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { GetQueueUrlCommand, type Message, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { scheduleName } from '../../lib/adapters/scheduler/scheduler-deferrals';
import { parseFleet } from '../../lib/simulator/fleet';
import { type RunningSimulator, SIMULATOR_CREDENTIALS, startSimulator } from '../../lib/simulator/server';
import { makeApplyWorkerHandler } from '../../lib/wiring/apply-worker';
import { loadFreshEvent } from '../helpers/events';
import {
  ACCOUNT,
  awsEnv,
  captureOnBus,
  type DeliveredEvent,
  queueArn,
  REGION,
  STACK,
  sdk,
  unique,
} from './moto';

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** A Lambda context at the start of an invocation of the worker (its 900 s timeout). */
const context = {
  functionName: STACK.workerFunction,
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  getRemainingTimeInMillis: () => 900_000,
} as unknown as Context;

/**
 * The real apply-worker handler (lib/wiring/apply-worker.ts) with the environment the deployed
 * function has on moto, its AWS calls (DynamoDB, EventBridge, SQS, Scheduler, SSM) going to the
 * stack on moto and its OVH calls to the simulator. The test plays Lambda's SQS poller.
 */
describe('apply-worker end to end on moto', () => {
  const sqs = new SQSClient(sdk());
  const dynamodb = new DynamoDBClient(sdk());
  let sim: RunningSimulator;
  let workerEnv: NodeJS.ProcessEnv;
  let handler: Handler;
  let audit: Awaited<ReturnType<typeof captureOnBus>>;
  let queueUrl: string;
  const saved = { ...process.env };

  const item = async (id: string) =>
    (
      await dynamodb.send(
        new GetItemCommand({ TableName: STACK.table, Key: { id: { S: id } }, ConsistentRead: true }),
      )
    ).Item;

  beforeAll(async () => {
    sim = await startSimulator({
      fleet: parseFleet(readFileSync(join(__dirname, '../../examples/fleet.yaml'), 'utf8')),
      task: { todoMs: 10, doingMs: 30 },
    });
    const { Environment } = await new LambdaClient(sdk()).send(
      new GetFunctionConfigurationCommand({ FunctionName: STACK.workerFunction }),
    );
    const deployed = Environment!.Variables!;
    // The credentials where the stack says the worker reads them (not created by the stack).
    await new SSMClient(sdk()).send(
      new PutParameterCommand({
        Name: deployed.OVH_CREDENTIALS_PARAMETER!,
        Type: 'SecureString',
        Value: JSON.stringify(SIMULATOR_CREDENTIALS),
      }),
    );
    workerEnv = { ...deployed, ...awsEnv(), OVH_ENDPOINT: sim.baseUrl };
    // Powertools reads its settings from process.env, not from the env the handler is wired from.
    Object.assign(process.env, { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' });
    handler = makeApplyWorkerHandler(workerEnv) as unknown as Handler;
    audit = await captureOnBus({ source: ['stickler'] });
    ({ QueueUrl: queueUrl } = (await sqs.send(
      new GetQueueUrlCommand({ QueueName: STACK.changeRequestQueue }),
    )) as {
      QueueUrl: string;
    });
  });
  afterAll(async () => {
    process.env = saved;
    await sim.close();
  });

  const outcomes = (events: DeliveredEvent[]) =>
    Object.fromEntries(
      events
        .filter((e) => e['detail-type'] !== 'Zone Configuration Applied')
        .map((e) => [e.detail.requestId as string, e['detail-type']]),
    );

  it('carries out the sample burst (events/apply-worker/burst-two-zones.json): audit events on the bus, records in the table', async () => {
    const event = loadFreshEvent<SQSEvent>('apply-worker', 'burst-two-zones');
    // The sample's queue is the stack's, in moto's account.
    expect(new Set(event.Records.map((r) => r.eventSourceARN))).toEqual(
      new Set([queueArn(STACK.changeRequestQueue)]),
    );

    const result = await handler(event, context);

    expect(result.batchItemFailures).toEqual([]);
    const delivered = await audit.drain();
    expect(outcomes(delivered)).toEqual({
      'req-0001': 'Stickiness Change Applied',
      'req-0002': 'Stickiness Change Applied',
      'req-0003': 'Stickiness Change Refused',
      'req-0004': 'Stickiness Change Applied',
      'req-0005': 'Stickiness Change Applied',
    });
    expect(delivered.filter((e) => e['detail-type'] === 'Zone Configuration Applied')).toHaveLength(2);
    expect(delivered.every((e) => e.source === 'stickler')).toBe(true);
    // One record per request, done; the newest request per farm; no lease left behind.
    for (const id of ['req-0001', 'req-0002', 'req-0003', 'req-0004', 'req-0005'])
      expect([id, (await item(`request:${id}`))?.state?.S]).toEqual([id, 'completed']);
    // The farm's order names the request accepted last for it.
    const order = JSON.parse((await item('farm:loadbalancer-7f3a9c21/http/102'))?.order?.S ?? '{}');
    expect(order.live?.requestId).toBe('req-0004');
    expect(Number((await item('request:req-0004'))?.acceptedAtMs?.N)).toBeGreaterThan(0);
    expect(Number((await item('request:req-0001'))?.expiresAtEpoch?.N)).toBeGreaterThan(Date.now() / 1000);
    expect(await item('lease:loadbalancer-7f3a9c21')).toBeUndefined();
  });

  it('takes requests from the bus through the stack rule and queue, defers one with a schedule, and hands one back with a short visibility', async () => {
    // Hand-backs at once rather than after waiting for a lease (LEASE_WAIT_MS, 60 s deployed).
    const impatient = makeApplyWorkerHandler({ ...workerEnv, LEASE_WAIT_MS: '0' }) as unknown as Handler;
    const now = Date.now();
    const notBefore = new Date(now + 3_600_000).toISOString();
    const request = (requestId: string, service: string, farmId: number, extra: object = {}) => ({
      requestId,
      service,
      farmType: 'http',
      farmId,
      stickiness: 'sourceIp',
      actor: { kind: 'ticket', id: 'jira:alice', name: 'Alice Martin' },
      ticket: 'OPS-7',
      reason: 'through moto',
      requestedAt: new Date(now).toISOString(),
      ...extra,
    });
    const [now1, later1, leased1] = [unique('now'), unique('later'), unique('leased')];
    // Another batch holds the second load balancer: its request must wait.
    await dynamodb.send(
      new PutItemCommand({
        TableName: STACK.table,
        Item: {
          id: { S: 'lease:loadbalancer-b81e0d44' },
          owner: { S: 'another-batch' },
          leasedUntil: { N: String(now + 600_000) },
          expiresAtEpoch: { N: String(Math.floor(now / 1000) + 3600) },
        },
      }),
    );
    const put = await new EventBridgeClient(sdk()).send(
      new PutEventsCommand({
        Entries: [
          request(now1, 'loadbalancer-7f3a9c21', 103),
          request(later1, 'loadbalancer-7f3a9c21', 101, { window: { notBefore } }),
          request(leased1, 'loadbalancer-b81e0d44', 112),
        ].map((detail) => ({
          EventBusName: STACK.bus,
          Source: 'acme.ticketing',
          DetailType: 'Stickiness Change Requested',
          Detail: JSON.stringify(detail),
        })),
      }),
    );
    expect(put.FailedEntryCount).toBe(0);

    const messages = (await receive(sqs, queueUrl, 3)).map(withAccount);
    const event: SQSEvent = { Records: messages.map(asLambdaRecord) };
    const byRequest = new Map(messages.map((m) => [JSON.parse(m.Body!).detail.requestId as string, m]));

    const result = await impatient(event, context);

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: byRequest.get(leased1)!.MessageId }]);
    const delivered = await audit.drain();
    expect(outcomes(delivered)).toEqual({
      [now1]: 'Stickiness Change Applied',
      [later1]: 'Stickiness Change Deferred',
    });
    expect((await item(`request:${later1}`))?.state?.S).toBe('deferred');

    // The deferral: a one-time schedule that puts the same request back, as its publisher.
    const deferred = delivered.find((e) => e.detail.requestId === later1)!;
    const until = deferred.detail.deferredUntil as string;
    const schedule = await new SchedulerClient(sdk()).send(
      new GetScheduleCommand({
        Name: scheduleName({ requestId: later1, until }),
        GroupName: STACK.scheduleGroup,
      }),
    );
    expect(schedule.Target).toMatchObject({
      Arn: STACK.busArn,
      RoleArn: workerEnv.DEFERRAL_ROLE_ARN,
      EventBridgeParameters: { DetailType: 'Stickiness Change Requested', Source: 'acme.ticketing' },
    });
    expect(JSON.parse(schedule.Target!.Input!)).toMatchObject({ requestId: later1, window: { notBefore } });

    // The handed-back record comes back after the worker's short delay, not the queue's 90 minutes.
    const [again] = await receive(sqs, queueUrl, 1, 15_000);
    expect(again).toMatchObject({
      MessageId: byRequest.get(leased1)!.MessageId,
      Attributes: expect.objectContaining({ ApproximateReceiveCount: '2' }),
    });
  }, 60_000);
});

/** Receives `count` messages from the queue as Lambda's poller would (every attribute), waiting at most `ms`. */
const receive = async (sqs: SQSClient, QueueUrl: string, count: number, ms = 5_000): Promise<Message[]> => {
  const out: Message[] = [];
  const until = Date.now() + ms;
  while (out.length < count && Date.now() < until) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    out.push(...Messages);
  }
  expect(out).toHaveLength(count);
  return out;
};

/**
 * The message with the `account` EventBridge puts in every event it delivers: moto 5.2.1's rule
 * targets leave it out (its default input template has no `account`), and the worker refuses an
 * envelope without it as not an EventBridge event, as it should.
 */
const withAccount = (m: Message): Message => {
  const body = JSON.parse(m.Body!) as Record<string, unknown>;
  expect(body.account).toBeUndefined(); // moto's omission: once it sends it, this goes
  return { ...m, Body: JSON.stringify({ ...body, account: ACCOUNT }) };
};

/** An SQS message as Lambda's event source mapping hands it to the function. */
const asLambdaRecord = (m: Message): SQSRecord => ({
  messageId: m.MessageId!,
  receiptHandle: m.ReceiptHandle!,
  body: m.Body!,
  attributes: m.Attributes as unknown as SQSRecord['attributes'],
  messageAttributes: {},
  md5OfBody: m.MD5OfBody!,
  eventSource: 'aws:sqs',
  eventSourceARN: queueArn(STACK.changeRequestQueue),
  awsRegion: REGION,
});
