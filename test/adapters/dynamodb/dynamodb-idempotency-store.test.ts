import type { AwsCall } from '../../../lib/adapters/aws/aws-json-client';
import { DynamoDbIdempotencyStore } from '../../../lib/adapters/dynamodb/dynamodb-idempotency-store';
import type { OutgoingEvent } from '../../../lib/domain/audit-events';
import { DETAIL_TYPES } from '../../../lib/domain/events';
import { startDynalite } from '../../../lib/local/dynalite';

describe('DynamoDbIdempotencyStore on dynalite', () => {
  let db: Awaited<ReturnType<typeof startDynalite>>;
  let store: DynamoDbIdempotencyStore;
  const t0 = new Date('2026-11-25T10:00:00Z');
  const later = (ms: number) => new Date(t0.getTime() + ms);
  beforeAll(async () => {
    db = await startDynalite('idem');
    store = new DynamoDbIdempotencyStore({ client: db.client, tableName: 'idem' });
  });
  afterAll(() => db.close());

  it('lets one caller claim a key, and tells the next one it is in progress', async () => {
    await expect(store.claim('a', t0, 60_000)).resolves.toEqual({ state: 'claimed' });
    await expect(store.claim('a', later(1_000), 60_000)).resolves.toEqual({ state: 'in-progress' });
  });

  it('gives an expired claim to the next caller (a crashed invocation does not block forever)', async () => {
    await store.claim('b', t0, 1_000);
    await expect(store.claim('b', later(1_001), 1_000)).resolves.toEqual({ state: 'claimed' });
  });

  it('returns the decided events until completed, then completed for good', async () => {
    const events: OutgoingEvent[] = [
      {
        detailType: DETAIL_TYPES.zoneApplied,
        detail: {
          schemaVersion: 2,
          auditId: 'zone:s:gra:1',
          service: 's',
          zone: 'gra',
          taskId: 1,
          status: 'done',
          requestIds: ['c'],
          farms: [],
          appliedAt: t0.toISOString(),
        },
        dedupeKey: 'zone:s:gra:1',
      },
    ];
    await store.claim('c', t0, 60_000);
    await store.decide('c', { events }, t0);
    await expect(store.claim('c', later(10), 60_000)).resolves.toEqual({ state: 'decided', events });
    await store.complete('c', t0);
    await expect(store.claim('c', later(999_999_999), 60_000)).resolves.toEqual({ state: 'completed' });
  });

  it('knows its own claim when the write went through but its answer was lost and the retry was refused', async () => {
    // What a retry after a lost answer looks like: the PutItem is carried out twice.
    const client: AwsCall = async (operation, input) => {
      if (operation === 'PutItem') await db.client(operation, input);
      return db.client(operation, input);
    };
    const twice = new DynamoDbIdempotencyStore({ client, tableName: 'idem' });
    await expect(twice.claim('e', t0, 60_000)).resolves.toEqual({ state: 'claimed' });
    // ...and anyone else still finds it held.
    await expect(store.claim('e', later(1), 60_000)).resolves.toEqual({ state: 'in-progress' });
  });

  it('keeps a ledger entry left to write with the decided events', async () => {
    const ledger = { farmKey: 'lb/http/1', entry: { requestId: 'f', sentAt: t0.toISOString() } };
    await store.claim('f', t0, 60_000);
    await store.decide('f', { events: [], ledger }, t0);
    await expect(store.claim('f', later(10), 60_000)).resolves.toEqual({
      state: 'decided',
      events: [],
      ledger,
    });
    await store.decide('f', { events: [] }, t0);
    await expect(store.claim('f', later(20), 60_000)).resolves.toEqual({ state: 'decided', events: [] });
  });

  it('holds a deferred key until its window opens, then lets the scheduled delivery claim it', async () => {
    const until = later(60_000).toISOString();
    await store.claim('g', t0, 60_000);
    await store.defer('g', until, t0);
    await expect(store.claim('g', later(30_000), 60_000)).resolves.toEqual({ state: 'deferred', until });
    await expect(store.claim('g', later(60_000), 60_000)).resolves.toEqual({ state: 'claimed' });
  });

  it('keeps a record 30 days past its last write (DynamoDB TTL), longer than a request can come back', async () => {
    const now = new Date();
    await store.claim('ttl', now, 60_000);
    await store.complete('ttl', now);
    const { Item } = await db.client<{ Item?: { expiresAtEpoch?: { N?: string } } }>('GetItem', {
      TableName: 'idem',
      Key: { id: { S: 'request:ttl' } },
    });
    const days = (Number(Item?.expiresAtEpoch?.N) * 1000 - now.getTime()) / 86_400_000;
    expect(days).toBeGreaterThan(29.99);
    expect(days).toBeLessThanOrEqual(30);
  });

  it('forgets a released key', async () => {
    await store.claim('d', t0, 60_000);
    await store.release('d');
    await expect(store.claim('d', t0, 60_000)).resolves.toEqual({ state: 'claimed' });
  });
});
