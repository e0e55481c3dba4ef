/**
 * FarmLedger on the idempotency table (items `farm:<service>/<type>/<id>`): a conditional write
 * keeps the newest request, whatever order writers arrive in.
 */
import type { FarmLedger, LedgerEntry } from '../../ports/farm-ledger';
import type { AwsCall } from '../aws/aws-json-client';
import { type DynamoItem, isConditionFailure } from './dynamodb-types';

const itemId = (farmKey: string) => `farm:${farmKey}`;

export class DynamoDbFarmLedger implements FarmLedger {
  constructor(private readonly options: { client: AwsCall; tableName: string }) {}

  async latest(farmKeys: readonly string[]): Promise<Map<string, LedgerEntry>> {
    const { client, tableName } = this.options;
    const out = new Map<string, LedgerEntry>();
    const unique = [...new Set(farmKeys)];
    for (let i = 0; i < unique.length; i += 100) {
      let keys: { id: { S: string } }[] = unique.slice(i, i + 100).map((k) => ({ id: { S: itemId(k) } }));
      // BatchGetItem may leave keys unprocessed under load: ask again for those, a bounded number of times.
      for (let attempt = 0; keys.length > 0 && attempt < 5; attempt++) {
        const answer = await client<{
          Responses?: Record<string, DynamoItem[]>;
          UnprocessedKeys?: Record<string, { Keys?: typeof keys }>;
        }>('BatchGetItem', { RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } });
        for (const item of answer.Responses?.[tableName] ?? []) {
          const id = item.id?.S;
          if (id && item.requestId?.S && item.requestedAt?.S) {
            out.set(id.slice('farm:'.length), {
              requestId: item.requestId.S,
              requestedAt: item.requestedAt.S,
            });
          }
        }
        keys = answer.UnprocessedKeys?.[tableName]?.Keys ?? [];
      }
      if (keys.length > 0) throw new Error(`DynamoDB left ${keys.length} farm ledger key(s) unread`);
    }
    return out;
  }

  async record(farmKey: string, entry: LedgerEntry): Promise<void> {
    try {
      await this.options.client('PutItem', {
        TableName: this.options.tableName,
        Item: {
          id: { S: itemId(farmKey) },
          requestId: { S: entry.requestId },
          requestedAt: { S: entry.requestedAt },
          requestedAtMs: { N: String(Date.parse(entry.requestedAt)) },
        },
        ConditionExpression: 'attribute_not_exists(id) OR requestedAtMs <= :ms',
        ExpressionAttributeValues: { ':ms': { N: String(Date.parse(entry.requestedAt)) } },
      });
    } catch (error) {
      if (!isConditionFailure(error)) throw error; // a newer request is recorded: keep it
    }
  }
}
