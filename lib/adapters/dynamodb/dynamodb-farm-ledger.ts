/**
 * FarmLedger on the idempotency table (items `farm:<service>/<type>/<id>`): a conditional write
 * keeps the newest request by its trusted queue time, whatever order writers arrive in. Entries
 * expire (TTL) after RECORD_RETENTION_MS, longer than any request is accepted.
 *
 * Operator override: deleting a farm's item (`aws dynamodb delete-item --key
 * '{"id":{"S":"farm:SERVICE/TYPE/ID"}}'`) makes the next request for that farm win whatever
 * its age (README, "What the worker guarantees").
 */
import { type LedgerEntry, RECORD_RETENTION_MS } from '../../domain/request-rules';
import type { FarmLedger } from '../../ports/farm-ledger';
import type { AwsCall } from '../aws/aws-json-client';
import { type DynamoItem, epochSeconds, isConditionFailure } from './dynamodb-types';

export const farmItemId = (farmKey: string): string => `farm:${farmKey}`;

export class DynamoDbFarmLedger implements FarmLedger {
  constructor(private readonly options: { client: AwsCall; tableName: string; retainMs?: number }) {}

  async latest(farmKeys: readonly string[]): Promise<Map<string, LedgerEntry>> {
    const { client, tableName } = this.options;
    const out = new Map<string, LedgerEntry>();
    const unique = [...new Set(farmKeys)];
    const nowEpoch = Math.floor(Date.now() / 1000);
    for (let i = 0; i < unique.length; i += 100) {
      let keys: { id: { S: string } }[] = unique.slice(i, i + 100).map((k) => ({ id: { S: farmItemId(k) } }));
      // BatchGetItem may leave keys unprocessed under load: ask again for those, a bounded number of times.
      for (let attempt = 0; keys.length > 0 && attempt < 5; attempt++) {
        const answer = await client<{
          Responses?: Record<string, DynamoItem[]>;
          UnprocessedKeys?: Record<string, { Keys?: typeof keys }>;
        }>('BatchGetItem', { RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } });
        for (const item of answer.Responses?.[tableName] ?? []) {
          const id = item.id?.S;
          // DynamoDB deletes expired items within days, not at once: an expired one counts as gone.
          if (item.expiresAtEpoch?.N && Number(item.expiresAtEpoch.N) <= nowEpoch) continue;
          if (id && item.requestId?.S && item.sentAt?.S) {
            out.set(id.slice('farm:'.length), { requestId: item.requestId.S, sentAt: item.sentAt.S });
          }
        }
        keys = answer.UnprocessedKeys?.[tableName]?.Keys ?? [];
      }
      if (keys.length > 0) throw new Error(`DynamoDB left ${keys.length} farm ledger key(s) unread`);
    }
    return out;
  }

  async record(farmKey: string, entry: LedgerEntry, now: Date): Promise<void> {
    const ms = String(Date.parse(entry.sentAt));
    try {
      await this.options.client('PutItem', {
        TableName: this.options.tableName,
        Item: {
          id: { S: farmItemId(farmKey) },
          requestId: { S: entry.requestId },
          sentAt: { S: entry.sentAt },
          sentAtMs: { N: ms },
          expiresAtEpoch: { N: epochSeconds(now.getTime() + (this.options.retainMs ?? RECORD_RETENTION_MS)) },
        },
        ConditionExpression: 'attribute_not_exists(id) OR sentAtMs <= :ms OR expiresAtEpoch <= :nowEpoch',
        ExpressionAttributeValues: {
          ':ms': { N: ms },
          ':nowEpoch': { N: epochSeconds(now.getTime()) },
        },
      });
    } catch (error) {
      if (!isConditionFailure(error)) throw error; // a newer request is recorded: keep it
    }
  }
}
