import { DynamoDbFarmLedger } from '../../../lib/adapters/dynamodb/dynamodb-farm-ledger';
import { DynamoDbIdempotencyStore } from '../../../lib/adapters/dynamodb/dynamodb-idempotency-store';
import { startDynalite } from '../../../lib/local/dynalite';

describe('DynamoDbFarmLedger on dynalite', () => {
  let db: Awaited<ReturnType<typeof startDynalite>>;
  let ledger: DynamoDbFarmLedger;
  const now = new Date();
  beforeAll(async () => {
    db = await startDynalite('ledger');
    ledger = new DynamoDbFarmLedger({ client: db.client, tableName: 'ledger' });
  });
  afterAll(() => db.close());

  it('keeps the newest request per farm by queue time, whatever order the writes come in', async () => {
    await ledger.record('lb/http/1', { requestId: 'new', sentAt: '2026-11-25T10:05:00.000Z' }, now);
    await ledger.record('lb/http/1', { requestId: 'old', sentAt: '2026-11-25T10:00:00.000Z' }, now);
    await ledger.record('lb/http/2', { requestId: 'only', sentAt: '2026-11-25T09:00:00.000Z' }, now);
    const latest = await ledger.latest(['lb/http/1', 'lb/http/2', 'lb/http/3', 'lb/http/1']);
    expect(Object.fromEntries(latest)).toEqual({
      'lb/http/1': { requestId: 'new', sentAt: '2026-11-25T10:05:00.000Z' },
      'lb/http/2': { requestId: 'only', sentAt: '2026-11-25T09:00:00.000Z' },
    });
  });

  it('reads more farms than one BatchGetItem takes', async () => {
    const keys = Array.from({ length: 130 }, (_, i) => `lb/tcp/${i}`);
    await Promise.all(
      keys
        .slice(0, 3)
        .map((k) => ledger.record(k, { requestId: 'r', sentAt: '2026-11-25T10:00:00.000Z' }, now)),
    );
    expect((await ledger.latest(keys)).size).toBe(3);
  });

  it('gives its entries a lifetime: an expired entry counts as gone and is overwritten by any request', async () => {
    const shortLived = new DynamoDbFarmLedger({ client: db.client, tableName: 'ledger', retainMs: 1_000 });
    const longAgo = new Date(Date.now() - 60_000);
    await shortLived.record(
      'lb/http/9',
      { requestId: 'far-future', sentAt: '2099-01-01T00:00:00.000Z' },
      longAgo,
    );
    expect((await ledger.latest(['lb/http/9'])).size).toBe(0);
    await ledger.record('lb/http/9', { requestId: 'now', sentAt: now.toISOString() }, now);
    expect((await ledger.latest(['lb/http/9'])).get('lb/http/9')?.requestId).toBe('now');
  });

  it('shares no key with request records, whatever the request id says', async () => {
    const store = new DynamoDbIdempotencyStore({ client: db.client, tableName: 'ledger' });
    await ledger.record('lb/http/77', { requestId: 'kept', sentAt: '2026-11-25T10:00:00.000Z' }, now);
    // A request id spelled like a ledger item: its claim must neither read nor replace the entry.
    await expect(store.claim('farm:lb/http/77', now, 60_000)).resolves.toEqual({ state: 'claimed' });
    expect((await ledger.latest(['lb/http/77'])).get('lb/http/77')?.requestId).toBe('kept');
    await store.release('farm:lb/http/77');
    expect((await ledger.latest(['lb/http/77'])).get('lb/http/77')?.requestId).toBe('kept');
  });
});
