/**
 * ZoneSlots on the idempotency table: one item per zone, `slot:<service>/<zone>` (read in batches
 * by the worker, one key at a time by `get`), holding the
 * zone's slots (`slots`, a list of maps, by time) and a `version` that every change increments: a
 * change reads the item, applies `changeZoneSlots`, and writes it only if the version is still the
 * one read (else it reads again), so that two batches changing a zone at once both keep their
 * slots. The item expires (TTL) ZONE_SLOT_RETENTION_MS after its last slot, and is deleted when no
 * slot is left. An item of the earlier shape (one slot: `slotAt`, `typicalRate`, `chosenAt`,
 * `requestId`, `joiners`) reads as that one slot, and is rewritten in this shape by its next change.
 */
import { changeZoneSlots, type SlotChange } from '../../domain/zone-slots';
import { ZONE_SLOT_RETENTION_MS, type ZoneSlot, type ZoneSlots } from '../../ports/zone-slots';
import type { AwsCall } from '../aws/aws-json-client';
import { batchGetLiveItems, epochSeconds, isConditionFailure } from './dynamodb-types';

export const zoneSlotItemId = (service: string, zone: string): string => `slot:${service}/${zone}`;

/** Reads and writes a change attempts before giving up (each lost to another batch's change). */
const CHANGE_ATTEMPTS = 5;

type AttributeValue = {
  S?: string;
  BOOL?: boolean;
  N?: string;
  SS?: string[];
  L?: AttributeValue[];
  M?: Record<string, AttributeValue>;
};
type SlotItem = Record<string, AttributeValue>;

/** A slot as stored; one that does not read as a whole slot is no slot (undefined). */
const parseSlot = (m: Record<string, AttributeValue> | undefined): ZoneSlot | undefined => {
  const at = Number(m?.slotAt?.N);
  const typicalRate = Number(m?.typicalRate?.N);
  const chosenAt = m?.chosenAt?.S;
  if (!m || !Number.isSafeInteger(at) || !Number.isFinite(typicalRate) || !chosenAt) return undefined;
  const requestId = m.requestId?.S;
  const joiners = m.joiners?.SS?.filter((j) => typeof j === 'string');
  return {
    at,
    typicalRate,
    chosenAt,
    ...(requestId ? { requestId } : {}),
    ...(joiners?.length ? { joiners } : {}),
    ...(m.overflow?.BOOL === true ? { overflow: true as const } : {}),
  };
};

const slotAttribute = (slot: ZoneSlot): AttributeValue => ({
  M: {
    slotAt: { N: String(slot.at) },
    typicalRate: { N: String(slot.typicalRate) },
    chosenAt: { S: slot.chosenAt },
    ...(slot.requestId ? { requestId: { S: slot.requestId } } : {}),
    ...(slot.joiners?.length ? { joiners: { SS: [...slot.joiners] } } : {}),
    ...(slot.overflow ? { overflow: { BOOL: true } } : {}),
  },
});

/** The slots of an item (of either shape), by time. */
const slotsOfItem = (item: SlotItem): ZoneSlot[] => {
  const listed = item.slots?.L;
  const slots = listed ? listed.map((v) => parseSlot(v.M)) : [parseSlot(item)];
  return slots.filter((s): s is ZoneSlot => s !== undefined).sort((a, b) => a.at - b.at);
};

export class DynamoDbZoneSlots implements ZoneSlots {
  constructor(private readonly options: { client: AwsCall; tableName: string; retainMs?: number }) {}

  async read(service: string, zones: readonly string[]): Promise<Map<string, ZoneSlot[]>> {
    const ids = zones.map((zone) => zoneSlotItemId(service, zone));
    const items = await batchGetLiveItems(this.options.client, this.options.tableName, ids, 'zone-slot');
    const out = new Map<string, ZoneSlot[]>();
    const prefix = zoneSlotItemId(service, '');
    for (const item of items as SlotItem[]) {
      const id = item.id?.S ?? '';
      const slots = slotsOfItem(item);
      if (id.startsWith(prefix) && slots.length > 0) out.set(id.slice(prefix.length), slots);
    }
    return out;
  }

  async get(service: string, zone: string): Promise<ZoneSlot[]> {
    const item = await this.item(service, zone);
    // An item past its TTL counts as gone (DynamoDB deletes expired items within days, not at once).
    if (!item || (item.expiresAtEpoch?.N && Number(item.expiresAtEpoch.N) <= Math.floor(Date.now() / 1000)))
      return [];
    return slotsOfItem(item);
  }

  async change(service: string, zone: string, change: SlotChange, now: Date): Promise<void> {
    const retainMs = this.options.retainMs ?? ZONE_SLOT_RETENTION_MS;
    for (let attempt = 1; ; attempt++) {
      const item = await this.item(service, zone);
      const next = changeZoneSlots(item ? slotsOfItem(item) : [], change, now, retainMs);
      try {
        await this.write(service, zone, item, next, retainMs);
        return;
      } catch (error) {
        if (!isConditionFailure(error) || attempt >= CHANGE_ATTEMPTS) throw error;
      }
    }
  }

  private async item(service: string, zone: string): Promise<SlotItem | undefined> {
    const { Item } = await this.options.client<{ Item?: SlotItem }>('GetItem', {
      TableName: this.options.tableName,
      Key: { id: { S: zoneSlotItemId(service, zone) } },
      ConsistentRead: true,
    });
    return Item;
  }

  /** Writes `slots` over `read` (or deletes the item when none is left), if nobody wrote it since. */
  private async write(
    service: string,
    zone: string,
    read: SlotItem | undefined,
    slots: readonly ZoneSlot[],
    retainMs: number,
  ): Promise<void> {
    const version = read?.version?.N;
    const condition = !read
      ? { ConditionExpression: 'attribute_not_exists(id)' }
      : version === undefined
        ? { ConditionExpression: 'attribute_exists(id) AND attribute_not_exists(version)' }
        : {
            ConditionExpression: 'version = :version',
            ExpressionAttributeValues: { ':version': { N: version } },
          };
    const Key = { id: { S: zoneSlotItemId(service, zone) } };
    if (slots.length === 0) {
      if (read)
        await this.options.client('DeleteItem', { TableName: this.options.tableName, Key, ...condition });
      return;
    }
    await this.options.client('PutItem', {
      TableName: this.options.tableName,
      Item: {
        ...Key,
        slots: { L: slots.map(slotAttribute) },
        version: { N: String(Number(version ?? 0) + 1) },
        expiresAtEpoch: { N: epochSeconds(Math.max(...slots.map((s) => s.at)) + retainMs) },
      },
      ...condition,
    });
  }
}
