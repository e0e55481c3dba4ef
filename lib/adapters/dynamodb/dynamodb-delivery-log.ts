/**
 * DeliveryLog on the worker's table: items `delivery:<source>:<sha256 of the signed body>`
 * (expiring after DELIVERY_RETENTION_MS) and `ticket-transition:<system>:<key>` (a ticket's newest
 * approval or withdrawal, kept as long as a request can come back).
 */

import { RECORD_RETENTION_MS } from '../../domain/request-rules';
import { DELIVERY_RETENTION_MS, type DeliveryAnswer, type DeliveryLog } from '../../ports/delivery-log';
import type { AwsCall } from '../aws/aws-json-client';
import { type DynamoItem, epochSeconds, isConditionFailure } from './dynamodb-types';

const itemId = (source: string, digest: string) => `delivery:${source}:${digest}`;

export class DynamoDbDeliveryLog implements DeliveryLog {
  constructor(private readonly options: { client: AwsCall; tableName: string }) {}

  async answered(source: string, digest: string): Promise<DeliveryAnswer | undefined> {
    const { Item } = await this.options.client<{ Item?: DynamoItem }>('GetItem', {
      TableName: this.options.tableName,
      Key: { id: { S: itemId(source, digest) } },
      ConsistentRead: true,
    });
    if (!Item?.answer?.S) return undefined;
    if (Item.expiresAtEpoch?.N && Number(Item.expiresAtEpoch.N) <= Date.now() / 1000) return undefined;
    return JSON.parse(Item.answer.S) as DeliveryAnswer;
  }

  async transition(
    ticket: string,
    sequence: number,
    kind: 'approved' | 'withdrawn',
    now: Date,
  ): Promise<'newest' | 'stale'> {
    try {
      await this.options.client('PutItem', {
        TableName: this.options.tableName,
        Item: {
          id: { S: `ticket-transition:${ticket}` },
          seq: { N: String(sequence) },
          kind: { S: kind },
          // As long as a request can come back: an approval older than the last withdrawal never wins.
          expiresAtEpoch: { N: epochSeconds(now.getTime() + RECORD_RETENTION_MS) },
        },
        ConditionExpression: 'attribute_not_exists(id) OR seq <= :seq',
        ExpressionAttributeValues: { ':seq': { N: String(sequence) } },
      });
      return 'newest';
    } catch (error) {
      if (isConditionFailure(error)) return 'stale';
      throw error;
    }
  }

  async remember(source: string, digest: string, answer: DeliveryAnswer, now: Date): Promise<void> {
    await this.options.client('PutItem', {
      TableName: this.options.tableName,
      Item: {
        id: { S: itemId(source, digest) },
        answer: { S: JSON.stringify(answer) },
        expiresAtEpoch: { N: epochSeconds(now.getTime() + DELIVERY_RETENTION_MS) },
      },
    });
  }
}
