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

  it('keeps its slot:SERVICE/ZONE item until a little after its last slot: an expired one counts as gone', async () => {
    const now = new Date();
    const add = (at: number) => ({ add: [{ at, typicalRate: 2, requestIds: ['r-1'] }] });
    await store.change('lb-x', 'gra', add(now.getTime() + 60_000), now);
    await store.change('lb-x', 'gra', add(now.getTime() + 120_000), now);
    const { Item } = await db.client<{ Item?: Record<string, { N?: string }> }>('GetItem', {
      TableName: 'slots',
      Key: { id: { S: zoneSlotItemId('lb-x', 'gra') } },
    });
    expect(Number(Item?.expiresAtEpoch?.N)).toBe(Math.floor((now.getTime() + 120_000 + 3_600_000) / 1000));
    expect(Item?.version?.N).toBe('2');
    const shortLived = new DynamoDbZoneSlots({ client: db.client, tableName: 'slots', retainMs: 1_000 });
    await shortLived.change('lb-y', 'gra', add(now.getTime() - 60_000), new Date(0));
    expect(await store.read('lb-y', ['gra'])).toEqual(new Map());
  });

  it('reads an item of the earlier one-slot shape as its slot, and rewrites it in the list shape on its next change', async () => {
    const at = Date.now() + 600_000;
    await db.client('PutItem', {
      TableName: 'slots',
      Item: {
        id: { S: zoneSlotItemId('lb-w', 'gra') },
        slotAt: { N: String(at) },
        typicalRate: { N: '2' },
        chosenAt: { S: 'then' },
        requestId: { S: 'r-old' },
        joiners: { SS: ['j-old'] },
      },
    });
    expect((await store.read('lb-w', ['gra'])).get('gra')).toEqual([
      { at, typicalRate: 2, chosenAt: 'then', requestId: 'r-old', joiners: ['j-old'] },
    ]);
    await store.change('lb-w', 'gra', { join: [{ at, requestIds: ['j-new'] }] }, new Date());
    expect((await store.read('lb-w', ['gra'])).get('gra')).toEqual([
      { at, typicalRate: 2, chosenAt: 'then', requestId: 'r-old', joiners: ['j-old', 'j-new'] },
    ]);
  });

  it('takes an item or a listed slot that does not read as a whole slot for no slot', async () => {
    await db.client('PutItem', {
      TableName: 'slots',
      Item: { id: { S: zoneSlotItemId('lb-z', 'gra') }, slotAt: { N: '12.5' }, chosenAt: { S: 'now' } },
    });
    await db.client('PutItem', {
      TableName: 'slots',
      Item: { id: { S: zoneSlotItemId('lb-z', 'rbx') }, slotAt: { N: '1000' }, typicalRate: { N: '1' } },
    });
    await db.client('PutItem', {
      TableName: 'slots',
      Item: {
        id: { S: zoneSlotItemId('lb-z', 'sbg') },
        slots: { L: [{ M: { slotAt: { N: '1000' } } }, { S: 'x' }] },
        version: { N: '3' },
      },
    });
    expect(await store.read('lb-z', ['gra', 'rbx', 'sbg'])).toEqual(new Map());
  });

  it('gives up after five changes lost to others, with the store’s error', async () => {
    let puts = 0;
    const racing = new DynamoDbZoneSlots({
      tableName: 'slots',
      client: async (op, input) => {
        if (op === 'PutItem') {
          puts++;
          // Another batch writes first, every time.
          await db.client('PutItem', {
            TableName: 'slots',
            Item: {
              id: { S: zoneSlotItemId('lb-v', 'gra') },
              slots: { L: [] },
              version: { N: String(100 + puts) },
            },
          });
        }
        return db.client(op, input);
      },
    });
    await expect(
      racing.change(
        'lb-v',
        'gra',
        { add: [{ at: Date.now() + 600_000, typicalRate: 1, requestIds: ['r'] }] },
        new Date(),
      ),
    ).rejects.toMatchObject({ code: 'ConditionalCheckFailedException' });
    expect(puts).toBe(5);
  });
});
