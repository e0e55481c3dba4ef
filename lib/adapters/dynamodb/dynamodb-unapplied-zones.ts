/**
 * UnappliedZones on the idempotency table: one item per zone, `unapplied:<service>/<zone>`,
 * expiring (TTL) after UNAPPLIED_RETENTION_MS. Deleting an item (README, "What the worker
 * guarantees") makes stickler treat that zone's unapplied changes as someone else's again.
 */
import {
  UNAPPLIED_RETENTION_MS,
  type UnappliedFarm,
  type UnappliedZone,
  type UnappliedZones,
} from '../../ports/unapplied-zones';
import type { AwsCall } from '../aws/aws-json-client';
import { batchGetLiveItems, type DynamoItem, epochSeconds } from './dynamodb-types';

export const unappliedItemId = (service: string, zone: string): string => `unapplied:${service}/${zone}`;

const isIdList = (value: unknown): value is number[] =>
  Array.isArray(value) && value.every((v) => Number.isSafeInteger(v));

const isFarmList = (value: unknown): value is UnappliedFarm[] =>
  Array.isArray(value) &&
  value.every(
    (f) =>
      f !== null &&
      typeof f === 'object' &&
      ['http', 'tcp', 'udp'].includes((f as UnappliedFarm).type) &&
      Number.isSafeInteger((f as UnappliedFarm).farmId) &&
      [null, 'cookie', 'sourceIp'].includes((f as UnappliedFarm).stickiness),
  );

export class DynamoDbUnappliedZones implements UnappliedZones {
  constructor(private readonly options: { client: AwsCall; tableName: string; retainMs?: number }) {}

  async read(service: string, zones: readonly string[]): Promise<UnappliedZone[]> {
    const ids = zones.map((zone) => unappliedItemId(service, zone));
    const items = await batchGetLiveItems(this.options.client, this.options.tableName, ids, 'unapplied-zone');
    return items.flatMap((item) => this.parse(service, item) ?? []);
  }

  /** An item that does not read as a whole record is no record: the zone stays someone else's. */
  private parse(service: string, item: DynamoItem): UnappliedZone | undefined {
    const id = item.id?.S ?? '';
    const prefix = unappliedItemId(service, '');
    const pending = Number(item.pending?.N);
    if (!id.startsWith(prefix) || !Number.isSafeInteger(pending) || pending < 1 || !item.at?.S)
      return undefined;
    let done: unknown;
    let farms: unknown;
    try {
      done = JSON.parse(item.doneRefreshes?.S ?? '');
      // A record written before farms were named names none: it is no record.
      farms = JSON.parse(item.farms?.S ?? '');
    } catch {
      return undefined;
    }
    if (!isIdList(done) || !isFarmList(farms) || farms.length === 0) return undefined;
    return { service, zone: id.slice(prefix.length), pending, farms, doneRefreshes: done, at: item.at.S };
  }

  async remember(record: UnappliedZone, now: Date): Promise<void> {
    await this.options.client('PutItem', {
      TableName: this.options.tableName,
      Item: {
        id: { S: unappliedItemId(record.service, record.zone) },
        pending: { N: String(record.pending) },
        farms: { S: JSON.stringify(record.farms) },
        doneRefreshes: { S: JSON.stringify(record.doneRefreshes) },
        at: { S: record.at },
        expiresAtEpoch: {
          N: epochSeconds(now.getTime() + (this.options.retainMs ?? UNAPPLIED_RETENTION_MS)),
        },
      },
    });
  }

  async forget(service: string, zone: string): Promise<void> {
    await this.options.client('DeleteItem', {
      TableName: this.options.tableName,
      Key: { id: { S: unappliedItemId(service, zone) } },
    });
  }
}
