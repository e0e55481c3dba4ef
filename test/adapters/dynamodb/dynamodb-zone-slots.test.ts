import { DynamoDbZoneSlots, zoneSlotItemId } from '../../../lib/adapters/dynamodb/dynamodb-zone-slots';
import { startDynalite } from '../../../lib/local/dynalite';
import { zoneSlotsContract } from '../../contracts/zone-slots.contract';

describe('DynamoDbZoneSlots on dynalite', () => {
  let db: Awaited<ReturnType<typeof startDynalite>>;
  let store: DynamoDbZoneSlots;
  beforeAll(async () => {
    db = await startDynalite('slots');
    store = new DynamoDbZoneSlots({ client: db.client, tableName: 'slots' });
  });
  afterAll(() => db.close());

  describe('the ZoneSlots contract', () => {
    zoneSlotsContract(() => store);
  });

  it('keeps its slot:SERVICE/ZONE item until a little after the slot: an expired one counts as gone', async () => {
    const now = new Date();
    await store.remember('lb-x', 'gra', { at: now.getTime() + 60_000, typicalRate: 2 }, now);
    const { Item } = await db.client<{ Item?: Record<string, { N?: string }> }>('GetItem', {
      TableName: 'slots',
      Key: { id: { S: zoneSlotItemId('lb-x', 'gra') } },
    });
    expect(Number(Item?.expiresAtEpoch?.N)).toBe(Math.floor((now.getTime() + 60_000 + 3_600_000) / 1000));
    const shortLived = new DynamoDbZoneSlots({ client: db.client, tableName: 'slots', retainMs: 1_000 });
    await shortLived.remember('lb-y', 'gra', { at: now.getTime() - 60_000, typicalRate: 2 }, new Date(0));
    expect(await store.read('lb-y', ['gra'])).toEqual(new Map());
    expect(await store.get('lb-y', 'gra')).toBeUndefined();
  });

  it('gets one zone with a strong GetItem of its key alone (the read a role limited to GetItem on slot:* may make)', async () => {
    const now = new Date();
    await store.remember('lb-g', 'sbg', { at: now.getTime() + 60_000, typicalRate: 4 }, now);
    const calls: { operation: string; input: object }[] = [];
    const watched = new DynamoDbZoneSlots({
      client: (async (operation: string, input: object) => {
        calls.push({ operation, input });
        return db.client(operation, input);
      }) as typeof db.client,
      tableName: 'slots',
    });
    expect((await watched.get('lb-g', 'sbg'))?.typicalRate).toBe(4);
    expect(calls).toEqual([
      {
        operation: 'GetItem',
        input: { TableName: 'slots', Key: { id: { S: 'slot:lb-g/sbg' } }, ConsistentRead: true },
      },
    ]);
  });

  it('takes an item that does not read as a whole slot for no slot', async () => {
    await db.client('PutItem', {
      TableName: 'slots',
      Item: { id: { S: zoneSlotItemId('lb-z', 'gra') }, slotAt: { N: '12.5' }, chosenAt: { S: 'now' } },
    });
    await db.client('PutItem', {
      TableName: 'slots',
      Item: { id: { S: zoneSlotItemId('lb-z', 'rbx') }, slotAt: { N: '1000' }, typicalRate: { N: '1' } },
    });
    expect(await store.read('lb-z', ['gra', 'rbx'])).toEqual(new Map());
    expect(await store.get('lb-z', 'gra')).toBeUndefined();
    expect(await store.get('lb-z', 'rbx')).toBeUndefined();
  });
});
