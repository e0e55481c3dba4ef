import { DynamoDbFarmLedger } from '../../../lib/adapters/dynamodb/dynamodb-farm-ledger';
import { DynamoDbIdempotencyStore } from '../../../lib/adapters/dynamodb/dynamodb-idempotency-store';
import { startDynalite } from '../../../lib/local/dynalite';
import { farmLedgerContract } from '../../contracts/farm-ledger.contract';

describe('DynamoDbFarmLedger on dynalite', () => {
  let db: Awaited<ReturnType<typeof startDynalite>>;
  let ledger: DynamoDbFarmLedger;
  const now = new Date();
  beforeAll(async () => {
    db = await startDynalite('ledger');
    ledger = new DynamoDbFarmLedger({ client: db.client, tableName: 'ledger' });
  });
  afterAll(() => db.close());

  describe('the FarmLedger contract', () => {
    farmLedgerContract(() => ledger);
  });

  it('gives its entries a lifetime: an expired entry counts as gone and is overwritten as if none', async () => {
    const shortLived = new DynamoDbFarmLedger({ client: db.client, tableName: 'ledger', retainMs: 1_000 });
    const longAgo = new Date(Date.now() - 60_000);
    const order = { live: { requestId: 'far-future', acceptedAt: '2099-01-01T00:00:00.000Z' } };
    await shortLived.write('lb/http/9', order, 0, longAgo);
    expect((await ledger.read(['lb/http/9'])).size).toBe(0);
    await expect(
      ledger.write('lb/http/9', { live: { requestId: 'now', acceptedAt: now.toISOString() } }, 0, now),
    ).resolves.toBe(true);
    expect((await ledger.read(['lb/http/9'])).get('lb/http/9')?.order.live?.requestId).toBe('now');
  });

  it('reads an entry written before acceptance times were kept as the farm live request', async () => {
    await db.client('PutItem', {
      TableName: 'ledger',
      Item: {
        id: { S: 'farm:lb/http/50' },
        requestId: { S: 'before' },
        sentAt: { S: '2026-11-25T10:00:00.000Z' },
        sentAtMs: { N: String(Date.parse('2026-11-25T10:00:00.000Z')) },
        expiresAtEpoch: { N: String(Math.floor(Date.now() / 1000) + 3600) },
      },
    });
    expect((await ledger.read(['lb/http/50'])).get('lb/http/50')).toEqual({
      order: { live: { requestId: 'before', acceptedAt: '2026-11-25T10:00:00.000Z' } },
      version: 0,
    });
    await expect(
      ledger.write('lb/http/50', { live: { requestId: 'after', acceptedAt: now.toISOString() } }, 0, now),
    ).resolves.toBe(true);
  });

  it('shares no key with request records, whatever the request id says', async () => {
    const store = new DynamoDbIdempotencyStore({ client: db.client, tableName: 'ledger' });
    const kept = { live: { requestId: 'kept', acceptedAt: '2026-11-25T10:00:00.000Z' } };
    await ledger.write('lb/http/77', kept, 0, now);
    // A request id spelled like a ledger item: its claim must neither read nor replace the entry.
    await expect(store.claim('farm:lb/http/77', now, 60_000, { sentAt: now })).resolves.toMatchObject({
      state: 'claimed',
    });
    expect((await ledger.read(['lb/http/77'])).get('lb/http/77')?.order).toEqual(kept);
    await store.release('farm:lb/http/77');
    expect((await ledger.read(['lb/http/77'])).get('lb/http/77')?.order).toEqual(kept);
  });
});
