import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DeleteMessageBatchCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { awsJsonClientFromEnv, EVENTBRIDGE } from '../../lib/adapters/aws/aws-json-client';
import { EventBridgePublisher } from '../../lib/adapters/eventbridge/eventbridge-publisher';
import type { OutgoingEvent } from '../../lib/domain/audit-events';
import { DETAIL_TYPES } from '../../lib/domain/events';
import type { Clock } from '../../lib/ports/clock';
import { awsEnv, captureOnBus, STACK, sdk, unique } from './moto';

describe('EventBridge PutEvents on moto: the stack bus, its rule and its queue', () => {
  const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  const clock: Clock = { now: () => at, sleep: async () => {} };
  const publisher = () =>
    new EventBridgePublisher({
      client: awsJsonClientFromEnv(EVENTBRIDGE, awsEnv(), { maxAttempts: 1 }),
      busName: STACK.bus,
      clock,
      maxAttempts: 1,
    });
  const zoneApplied = (auditId: string): OutgoingEvent =>
    ({
      detailType: DETAIL_TYPES.zoneApplied,
      detail: {
        schemaVersion: 2,
        auditId,
        service: 'loadbalancer-a',
        zone: 'gra',
        taskId: 1,
        status: 'done',
      },
      dedupeKey: auditId,
    }) as never;

  it('puts audit events on the bus as stickler, at the time the publisher gives, in calls of at most 10 entries', async () => {
    const capture = await captureOnBus({ source: ['stickler'], 'detail-type': [DETAIL_TYPES.zoneApplied] });
    const run = unique('run');
    // 25 entries: moto, like EventBridge, refuses a call of more than 10.
    const events = Array.from({ length: 25 }, (_, i) => zoneApplied(`${run}-${i}`));
    await expect(publisher().publish(events)).resolves.toMatchObject({ failed: [] });
    const delivered = await capture.drain();
    expect(delivered.map((e) => e.detail.auditId).sort()).toEqual(events.map((e) => e.dedupeKey).sort());
    expect(delivered[0]).toMatchObject({
      source: 'stickler',
      'detail-type': 'Zone Configuration Applied',
      time: at.toISOString().replace('.000Z', 'Z'),
      detail: { schemaVersion: 2, service: 'loadbalancer-a', zone: 'gra' },
    });
  });

  it('puts change requests as the publisher of an entry point (its own source)', async () => {
    const capture = await captureOnBus({ source: ['stickler.slack'] });
    const requestId = unique('slack');
    await publisher().publish([
      {
        detailType: DETAIL_TYPES.changeRequested,
        detail: { requestId },
        dedupeKey: requestId,
        source: 'stickler.slack',
      } as never,
    ]);
    expect((await capture.drain()).map((e) => [e.source, e['detail-type'], e.detail.requestId])).toEqual([
      ['stickler.slack', 'Stickiness Change Requested', requestId],
    ]);
    await drainChangeRequestQueue(); // the stack's rule queued it for the worker too: not this test's
  });

  it("routes a change request another system publishes (examples/change-request.put-events.json) to the worker's queue", async () => {
    const [example] = JSON.parse(
      readFileSync(join(__dirname, '../../examples/change-request.put-events.json'), 'utf8'),
    ) as { Source: string; DetailType: string; Detail: string }[];
    const requestId = unique('OPS');
    const detail = { ...JSON.parse(example!.Detail), requestId };
    const answer = await new EventBridgeClient(sdk()).send(
      new PutEventsCommand({
        Entries: [{ ...example, EventBusName: STACK.bus, Detail: JSON.stringify(detail) }],
      }),
    );
    expect(answer.FailedEntryCount).toBe(0);
    const queued = await drainChangeRequestQueue();
    expect(queued.map((body) => [body.source, body['detail-type'], body.detail.requestId])).toEqual([
      ['acme.ticketing', 'Stickiness Change Requested', requestId],
    ]);
  });
});

/** Takes every message off the stack's change request queue (the worker is not running here). */
const drainChangeRequestQueue = async () => {
  const sqs = new SQSClient(sdk());
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: STACK.changeRequestQueue }));
  const out: { source: string; 'detail-type': string; detail: { requestId: string } }[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }),
    );
    if (Messages.length === 0) return out;
    out.push(...Messages.map((m) => JSON.parse(m.Body!)));
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl,
        Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
  }
};
