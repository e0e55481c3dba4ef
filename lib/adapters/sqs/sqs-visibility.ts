/**
 * Hands records back to the queue sooner than its visibility timeout (six times the function
 * timeout): ChangeMessageVisibilityBatch with each record's delay. A failure here is harmless
 * (the record comes back after the visibility timeout instead), so it is reported, not thrown.
 */
import type { SQSRecord } from 'aws-lambda';
import type { AwsCall } from '../aws/aws-json-client';

/** `arn:aws:sqs:REGION:ACCOUNT:NAME` → the queue URL the SQS API takes. */
export const queueUrlOf = (arn: string, endpoint?: string): string => {
  const [, partition, , region, account, name] = arn.split(':');
  const host = endpoint ?? `https://sqs.${region}.amazonaws.com${partition === 'aws-cn' ? '.cn' : ''}`;
  return `${host.replace(/\/$/, '')}/${account}/${name}`;
};

export const makeSqsVisibility =
  (options: { client: AwsCall; endpoint?: string }) =>
  async (
    records: readonly SQSRecord[],
    delays: ReadonlyMap<string, number>,
  ): Promise<{ failed: string[] }> => {
    const byQueue = new Map<string, SQSRecord[]>();
    for (const r of records) {
      if (!delays.has(r.messageId)) continue;
      byQueue.set(r.eventSourceARN, [...(byQueue.get(r.eventSourceARN) ?? []), r]);
    }
    const failed: string[] = [];
    for (const [arn, list] of byQueue) {
      for (let i = 0; i < list.length; i += 10) {
        const chunk = list.slice(i, i + 10);
        try {
          const answer = await options.client<{ Failed?: { Id: string }[] }>('ChangeMessageVisibilityBatch', {
            QueueUrl: queueUrlOf(arn, options.endpoint),
            Entries: chunk.map((r, j) => ({
              Id: String(j),
              ReceiptHandle: r.receiptHandle,
              VisibilityTimeout: Math.max(0, Math.min(43_200, Math.round(delays.get(r.messageId)!))),
            })),
          });
          for (const f of answer.Failed ?? []) failed.push(chunk[Number(f.Id)]!.messageId);
        } catch {
          failed.push(...chunk.map((r) => r.messageId));
        }
      }
    }
    return { failed };
  };
