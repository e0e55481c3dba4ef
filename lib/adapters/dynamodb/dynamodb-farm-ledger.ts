/**
 * FarmLedger on the idempotency table (items `farm:<service>/<type>/<id>`): a conditional write
 * keeps the newest request, whatever order writers arrive in.
 */
import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { FarmLedger, LedgerEntry } from '../../ports/farm-ledger';

const itemId = (farmKey: string) => `farm:${farmKey}`;

export class DynamoDbFarmLedger implements FarmLedger {
  constructor(private readonly options: { client: DynamoDBClient; tableName: string }) {}

  async latest(farmKeys: readonly string[]): Promise<Map<string, LedgerEntry>> {
    const { client, tableName } = this.options;
    const out = new Map<string, LedgerEntry>();
    const unique = [...new Set(farmKeys)];
    for (let i = 0; i < unique.length; i += 100) {
      let keys: { id: { S: string } }[] = unique.slice(i, i + 100).map((k) => ({ id: { S: itemId(k) } }));
      // BatchGetItem may leave keys unprocessed under load: ask again for those, a bounded number of times.
      for (let attempt = 0; keys.length > 0 && attempt < 5; attempt++) {
        const answer = await client.send(
          new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } }),
        );
        for (const item of answer.Responses?.[tableName] ?? []) {
          const id = item.id?.S;
          if (id && item.requestId?.S && item.requestedAt?.S) {
            out.set(id.slice('farm:'.length), {
              requestId: item.requestId.S,
              requestedAt: item.requestedAt.S,
            });
          }
        }
        keys = (answer.UnprocessedKeys?.[tableName]?.Keys ?? []) as typeof keys;
      }
      if (keys.length > 0) throw new Error(`DynamoDB left ${keys.length} farm ledger key(s) unread`);
    }
    return out;
  }

  async record(farmKey: string, entry: LedgerEntry): Promise<void> {
    try {
      await this.options.client.send(
        new PutItemCommand({
          TableName: this.options.tableName,
          Item: {
            id: { S: itemId(farmKey) },
            requestId: { S: entry.requestId },
            requestedAt: { S: entry.requestedAt },
            requestedAtMs: { N: String(Date.parse(entry.requestedAt)) },
          },
          ConditionExpression: 'attribute_not_exists(id) OR requestedAtMs <= :ms',
          ExpressionAttributeValues: { ':ms': { N: String(Date.parse(entry.requestedAt)) } },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error; // a newer request is recorded: keep it
    }
  }
}
