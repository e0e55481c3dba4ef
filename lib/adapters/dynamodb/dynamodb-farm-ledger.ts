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
import { batchGetLiveItems, epochSeconds, isConditionFailure } from './dynamodb-types';

export const farmItemId = (farmKey: string): string => `farm:${farmKey}`;

export class DynamoDbFarmLedger implements FarmLedger {
  constructor(private readonly options: { client: AwsCall; tableName: string; retainMs?: number }) {}

  async latest(farmKeys: readonly string[]): Promise<Map<string, LedgerEntry>> {
    const { client, tableName } = this.options;
    const out = new Map<string, LedgerEntry>();
    const items = await batchGetLiveItems(client, tableName, farmKeys.map(farmItemId), 'farm ledger');
    for (const item of items) {
      const id = item.id?.S;
      if (id && item.requestId?.S && item.sentAt?.S) {
        out.set(id.slice('farm:'.length), { requestId: item.requestId.S, sentAt: item.sentAt.S });
      }
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
