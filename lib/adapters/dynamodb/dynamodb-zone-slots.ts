/**
 * ZoneSlots on the idempotency table: one item per zone, `slot:<service>/<zone>` (read in batches
 * by the worker, one key at a time by `get`), replaced only
 * when none is kept or the kept one has passed (a conditional write, so two batches choosing at
 * once keep the first), and expiring (TTL) ZONE_SLOT_RETENTION_MS after its slot.
 */
import { ZONE_SLOT_RETENTION_MS, type ZoneSlot, type ZoneSlots } from '../../ports/zone-slots';
import type { AwsCall } from '../aws/aws-json-client';
import { batchGetLiveItems, type DynamoItem, epochSeconds, isConditionFailure } from './dynamodb-types';

export const zoneSlotItemId = (service: string, zone: string): string => `slot:${service}/${zone}`;

export class DynamoDbZoneSlots implements ZoneSlots {
  constructor(private readonly options: { client: AwsCall; tableName: string; retainMs?: number }) {}

  async read(service: string, zones: readonly string[]): Promise<Map<string, ZoneSlot>> {
    const ids = zones.map((zone) => zoneSlotItemId(service, zone));
    const items = await batchGetLiveItems(this.options.client, this.options.tableName, ids, 'zone-slot');
    const out = new Map<string, ZoneSlot>();
    for (const item of items) {
      const parsed = this.parse(service, item);
      if (parsed) out.set(parsed.zone, parsed.slot);
    }
    return out;
  }

  async get(service: string, zone: string): Promise<ZoneSlot | undefined> {
    const { Item } = await this.options.client<{ Item?: DynamoItem }>('GetItem', {
      TableName: this.options.tableName,
      Key: { id: { S: zoneSlotItemId(service, zone) } },
      ConsistentRead: true,
    });
    // An item past its TTL counts as gone (DynamoDB deletes expired items within days, not at once).
    if (!Item || (Item.expiresAtEpoch?.N && Number(Item.expiresAtEpoch.N) <= Math.floor(Date.now() / 1000)))
      return undefined;
    const parsed = this.parse(service, Item);
    return parsed?.zone === zone ? parsed.slot : undefined;
  }

  /** An item that does not read as a whole slot is no slot: the zone's requests choose their own. */
  private parse(service: string, item: DynamoItem): { zone: string; slot: ZoneSlot } | undefined {
    const id = item.id?.S ?? '';
    const prefix = zoneSlotItemId(service, '');
    const at = Number(item.slotAt?.N);
    const typicalRate = Number(item.typicalRate?.N);
    const chosenAt = item.chosenAt?.S;
    if (!id.startsWith(prefix) || !Number.isSafeInteger(at) || !Number.isFinite(typicalRate) || !chosenAt)
      return undefined;
    const requestId = item.requestId?.S;
    return {
      zone: id.slice(prefix.length),
      slot: { at, typicalRate, chosenAt, ...(requestId ? { requestId } : {}) },
    };
  }

  async remember(
    service: string,
    zone: string,
    slot: { at: number; typicalRate: number; requestId?: string },
    now: Date,
    replacing?: number,
  ): Promise<boolean> {
    try {
      await this.options.client('PutItem', {
        TableName: this.options.tableName,
        Item: {
          id: { S: zoneSlotItemId(service, zone) },
          slotAt: { N: String(slot.at) },
          typicalRate: { N: String(slot.typicalRate) },
          chosenAt: { S: now.toISOString() },
          ...(slot.requestId ? { requestId: { S: slot.requestId } } : {}),
          expiresAtEpoch: { N: epochSeconds(slot.at + (this.options.retainMs ?? ZONE_SLOT_RETENTION_MS)) },
        },
        ConditionExpression:
          replacing === undefined
            ? 'attribute_not_exists(id) OR slotAt <= :now'
            : 'attribute_not_exists(id) OR slotAt <= :now OR slotAt = :orphan',
        ExpressionAttributeValues: {
          ':now': { N: String(now.getTime()) },
          ...(replacing === undefined ? {} : { ':orphan': { N: String(replacing) } }),
        },
      });
      return true;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      return false;
    }
  }
}
