import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { LocalQueue } from '../../lib/local/queue';

const queueWith = (handler: (event: SQSEvent) => Promise<SQSBatchResponse | undefined>, over = {}) =>
  new LocalQueue({
    name: 'q',
    region: 'eu-west-3',
    batchSize: 10,
    batchWindowMs: 30,
    visibilityTimeoutMs: 20,
    maxReceiveCount: 3,
    handler,
    ...over,
  });

describe('LocalQueue (the SQS stand-in)', () => {
  it('coalesces messages sent within the batching window into one batch of SQS records', async () => {
    const batches: SQSEvent[] = [];
    const queue = queueWith(async (event) => {
      batches.push(event);
      return { batchItemFailures: [] };
    });
    queue.send('a', 'm1');
    queue.send('b', 'm2');
    queue.send('c', 'm3');
    await queue.drained();
    expect(batches).toHaveLength(1);
    expect(
      batches[0]!.Records.map((r) => [r.messageId, r.body, r.attributes.ApproximateReceiveCount]),
    ).toEqual([
      ['m1', 'a', '1'],
      ['m2', 'b', '1'],
      ['m3', 'c', '1'],
    ]);
    expect(batches[0]!.Records[0]).toMatchObject({ eventSource: 'aws:sqs', awsRegion: 'eu-west-3' });
  });

  it('delivers reported failures again with a higher receive count, and dead-letters them after the last receive', async () => {
    const seen: string[] = [];
    const queue = queueWith(async (event) => {
      seen.push(...event.Records.map((r) => `${r.messageId}#${r.attributes.ApproximateReceiveCount}`));
      return {
        batchItemFailures: event.Records.filter((r) => r.messageId === 'bad').map((r) => ({
          itemIdentifier: r.messageId,
        })),
      };
    });
    queue.send('x', 'good');
    queue.send('y', 'bad');
    await queue.drained();
    expect(seen).toEqual(['good#1', 'bad#1', 'bad#2', 'bad#3']);
    expect(queue.deadLetters.map((m) => m.id)).toEqual(['bad']);
  });

  it('fails the whole batch when the handler throws', async () => {
    let calls = 0;
    const queue = queueWith(
      async () => {
        calls++;
        if (calls === 1) throw new Error('crash');
        return { batchItemFailures: [] };
      },
      { maxReceiveCount: 5 },
    );
    queue.send('x', 'm1');
    queue.send('y', 'm2');
    await queue.drained();
    expect(calls).toBe(2);
    expect(queue.deadLetters).toEqual([]);
  });

  it('never runs two batches at once (reserved concurrency 1)', async () => {
    let running = 0;
    let peak = 0;
    const queue = queueWith(
      async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 15));
        running--;
        return { batchItemFailures: [] };
      },
      { batchSize: 1, batchWindowMs: 0 },
    );
    for (let i = 0; i < 5; i++) queue.send(String(i));
    await queue.drained();
    expect(peak).toBe(1);
  });
});
