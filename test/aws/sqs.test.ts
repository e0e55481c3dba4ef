import {
  CreateQueueCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { awsJsonClientFromEnv, SQS } from '../../lib/adapters/aws/aws-json-client';
import { makeSqsVisibility } from '../../lib/adapters/sqs/sqs-visibility';
import { awsEnv, motoUrl, queueArn, sdk, unique } from './moto';

describe('SQS ChangeMessageVisibilityBatch on moto: records handed back sooner than the visibility timeout', () => {
  const sqs = new SQSClient(sdk());
  const visibility = () =>
    makeSqsVisibility({
      client: awsJsonClientFromEnv(SQS, awsEnv(), { maxAttempts: 1 }),
      endpoint: motoUrl(),
    });
  const record = (name: string, m: Message): SQSRecord =>
    ({
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      eventSourceARN: queueArn(name),
    }) as SQSRecord;
  const receive = async (QueueUrl: string) =>
    (await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }))).Messages ?? [];

  it('makes each record visible again after its own delay, in batches of 10, at the URL derived from the ARN', async () => {
    const name = unique('visibility');
    // Received records stay invisible for an hour unless handed back, as with the worker's queue.
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '3600' } }),
    );
    for (const batch of [0, 1])
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl,
          Entries: Array.from({ length: 6 }, (_, i) => ({ Id: String(i), MessageBody: `m${batch}-${i}` })),
        }),
      );
    const received = [...(await receive(QueueUrl!)), ...(await receive(QueueUrl!))];
    expect(received).toHaveLength(12);
    // 11 come back at once, 1 after 30 s: more than one call's worth (10 entries each).
    const delays = new Map(received.map((m, i) => [m.MessageId!, i === 0 ? 30 : 0]));
    await expect(
      visibility()(
        received.map((m) => record(name, m)),
        delays,
      ),
    ).resolves.toEqual({ failed: [] });
    const again = [...(await receive(QueueUrl!)), ...(await receive(QueueUrl!))];
    expect(again.map((m) => m.MessageId).sort()).toEqual(
      received
        .slice(1)
        .map((m) => m.MessageId)
        .sort(),
    );
  });

  it('reports, without throwing, the records whose receipt handle SQS refuses', async () => {
    const name = unique('visibility');
    await sqs.send(new CreateQueueCommand({ QueueName: name }));
    const stale = { messageId: 'm-1', receiptHandle: 'not-a-receipt-handle', eventSourceARN: queueArn(name) };
    await expect(visibility()([stale as SQSRecord], new Map([['m-1', 5]]))).resolves.toEqual({
      failed: ['m-1'],
    });
  });
});
