/**
 * FarmLedger on the idempotency table (items `farm:<service>/<type>/<id>`): each write is
 * conditional on the version read, so two writers never both move a farm's order; a writer that
 * loses reads again and decides again. Entries expire (TTL) after RECORD_RETENTION_MS, longer than
 * any request is accepted. Items written before acceptance times were kept (`requestId`,
 * `sentAt`) read as the farm's live request.
 *
 * Operator override: deleting a farm's item (`aws dynamodb delete-item --key
 * '{"id":{"S":"farm:SERVICE/TYPE/ID"}}'`) makes the next request for that farm win whatever
 * its age (README, "What the worker guarantees").
 */
import { type FarmOrder, RECORD_RETENTION_MS } from '../../domain/request-rules';
import type { FarmLedger, VersionedOrder } from '../../ports/farm-ledger';
import type { AwsCall } from '../aws/aws-json-client';
import { batchGetLiveItems, type DynamoItem, epochSeconds, isConditionFailure } from './dynamodb-types';

export const farmItemId = (farmKey: string): string => `farm:${farmKey}`;

const orderOf = (item: DynamoItem): FarmOrder | undefined => {
  if (item.order?.S) return JSON.parse(item.order.S) as FarmOrder;
  if (item.requestId?.S && item.sentAt?.S)
    return { live: { requestId: item.requestId.S, acceptedAt: item.sentAt.S } };
  return undefined;
};

export class DynamoDbFarmLedger implements FarmLedger {
  constructor(private readonly options: { client: AwsCall; tableName: string; retainMs?: number }) {}

  async read(farmKeys: readonly string[]): Promise<Map<string, VersionedOrder>> {
    const { client, tableName } = this.options;
    const out = new Map<string, VersionedOrder>();
    const items = await batchGetLiveItems(client, tableName, farmKeys.map(farmItemId), 'farm ledger');
    for (const item of items) {
      const id = item.id?.S;
      const order = orderOf(item);
      if (id && order)
        out.set(id.slice('farm:'.length), { order, version: Number(item.version?.N ?? '0') || 0 });
    }
    return out;
  }

  async write(farmKey: string, order: FarmOrder, version: number, now: Date): Promise<boolean> {
    try {
      await this.options.client('PutItem', {
        TableName: this.options.tableName,
        Item: {
          id: { S: farmItemId(farmKey) },
          order: { S: JSON.stringify(order) },
          version: { N: String(version + 1) },
          expiresAtEpoch: { N: epochSeconds(now.getTime() + (this.options.retainMs ?? RECORD_RETENTION_MS)) },
        },
        // Version 0 is "nothing recorded": no item, an item past its TTL, or one written before versions.
        ConditionExpression:
          version === 0
            ? 'attribute_not_exists(id) OR attribute_not_exists(version) OR expiresAtEpoch <= :nowEpoch'
            : 'version = :version',
        ExpressionAttributeValues:
          version === 0
            ? { ':nowEpoch': { N: epochSeconds(now.getTime()) } }
            : { ':version': { N: String(version) } },
      });
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}
