/**
 * DeliveryLog on the worker's table (items `delivery:<source>:<sha256 of the signed body>`),
 * expiring (TTL) after DELIVERY_RETENTION_MS.
 */
import { DELIVERY_RETENTION_MS, type DeliveryAnswer, type DeliveryLog } from '../../ports/delivery-log';
import type { AwsCall } from '../aws/aws-json-client';
import { type DynamoItem, epochSeconds } from './dynamodb-types';

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
