import type { AwsCall } from '../../../lib/adapters/aws/aws-json-client';
import { DynamoDbIdempotencyStore } from '../../../lib/adapters/dynamodb/dynamodb-idempotency-store';
import { startDynalite } from '../../../lib/local/dynalite';
import { idempotencyStoreContract } from '../../contracts/idempotency-store.contract';

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

  describe('the IdempotencyStore contract', () => {
    idempotencyStoreContract(() => store);
  });

  it('knows its own claim when the write went through but its answer was lost and the retry was refused', async () => {
    // What a retry after a lost answer looks like: the UpdateItem is carried out twice.
    const client: AwsCall = async (operation, input) => {
      if (operation === 'UpdateItem') await db.client(operation, input);
      return db.client(operation, input);
    };
    const twice = new DynamoDbIdempotencyStore({ client, tableName: 'idem' });
    await expect(twice.claim('e', t0, 60_000, { contentHash: 'h', sentAt: t0 })).resolves.toEqual({
      state: 'claimed',
      acceptedAt: t0,
      deadLettered: false,
    });
    // ...and anyone else still finds it held.
    await expect(store.claim('e', later(1), 60_000, { contentHash: 'h', sentAt: t0 })).resolves.toEqual({
      state: 'in-progress',
    });
  });

  it('keeps a record 30 days past its last write (DynamoDB TTL), longer than a request can come back', async () => {
    const now = new Date();
    await store.claim('ttl', now, 60_000, { sentAt: now });
    await store.complete('ttl', now);
    const { Item } = await db.client<{ Item?: { expiresAtEpoch?: { N?: string } } }>('GetItem', {
      TableName: 'idem',
      Key: { id: { S: 'request:ttl' } },
    });
    const days = (Number(Item?.expiresAtEpoch?.N) * 1000 - now.getTime()) / 86_400_000;
    expect(days).toBeGreaterThan(29.99);
    expect(days).toBeLessThanOrEqual(30);
  });
});
