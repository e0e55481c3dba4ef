import {
  DynamoDbUnappliedZones,
  unappliedItemId,
} from '../../../lib/adapters/dynamodb/dynamodb-unapplied-zones';
import { startDynalite } from '../../../lib/local/dynalite';
import type { UnappliedZone } from '../../../lib/ports/unapplied-zones';
import { unappliedZonesContract } from '../../contracts/unapplied-zones.contract';

describe('DynamoDbUnappliedZones on dynalite', () => {
  let db: Awaited<ReturnType<typeof startDynalite>>;
  let store: DynamoDbUnappliedZones;
  const now = new Date();
  const record = (over: Partial<UnappliedZone> = {}): UnappliedZone => ({
    service: 'lb-a',
    zone: 'gra',
    pending: 2,
    farms: [
      { type: 'http', farmId: 1, stickiness: 'cookie' },
      { type: 'tcp', farmId: 7, stickiness: null },
    ],
    doneRefreshes: [11, 12],
    at: now.toISOString(),
    ...over,
  });
  beforeAll(async () => {
    db = await startDynalite('unapplied');
    store = new DynamoDbUnappliedZones({ client: db.client, tableName: 'unapplied' });
  });
  afterAll(() => db.close());

  describe('the UnappliedZones contract', () => {
    unappliedZonesContract(() => store);
  });

  it('keeps one record per zone, replaced by the next, and reads only the zones asked for', async () => {
    await store.remember(record(), now);
    await store.remember(record({ pending: 3, doneRefreshes: [11, 12, 13] }), now);
    await store.remember(record({ zone: 'rbx', pending: 1, doneRefreshes: [] }), now);
    await store.remember(record({ service: 'lb-b' }), now);
    expect(await store.read('lb-a', ['gra', 'sbg', 'gra'])).toEqual([
      record({ pending: 3, doneRefreshes: [11, 12, 13] }),
    ]);
    expect((await store.read('lb-a', ['gra', 'rbx'])).map((r) => r.zone).sort()).toEqual(['gra', 'rbx']);
    expect(await store.read('lb-a', [])).toEqual([]);
  });

  it('forgets a zone, and forgetting an absent one is no error', async () => {
    await store.remember(record({ service: 'lb-c' }), now);
    await store.forget('lb-c', 'gra');
    await store.forget('lb-c', 'gra');
    expect(await store.read('lb-c', ['gra'])).toEqual([]);
  });

  it('gives its records a lifetime: an expired one counts as gone', async () => {
    const shortLived = new DynamoDbUnappliedZones({
      client: db.client,
      tableName: 'unapplied',
      retainMs: 1_000,
    });
    await shortLived.remember(record({ service: 'lb-d' }), new Date(Date.now() - 60_000));
    expect(await store.read('lb-d', ['gra'])).toEqual([]);
  });

  it('takes an item that does not read as a whole record for no record', async () => {
    await db.client('PutItem', {
      TableName: 'unapplied',
      Item: {
        id: { S: unappliedItemId('lb-e', 'gra') },
        pending: { N: '1' },
        doneRefreshes: { S: '["x"]' },
        at: { S: 'now' },
      },
    });
    await db.client('PutItem', {
      TableName: 'unapplied',
      Item: {
        id: { S: unappliedItemId('lb-e', 'rbx') },
        pending: { N: '0' },
        doneRefreshes: { S: '[]' },
        at: { S: 'now' },
      },
    });
    // Written before farms were named: it names none, so it is no record.
    await db.client('PutItem', {
      TableName: 'unapplied',
      Item: {
        id: { S: unappliedItemId('lb-e', 'sbg') },
        pending: { N: '1' },
        doneRefreshes: { S: '[]' },
        at: { S: 'now' },
      },
    });
    expect(await store.read('lb-e', ['gra', 'rbx', 'sbg'])).toEqual([]);
  });
});
