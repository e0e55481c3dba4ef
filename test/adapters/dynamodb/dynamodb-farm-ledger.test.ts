import { DynamoDbFarmLedger } from '../../../lib/adapters/dynamodb/dynamodb-farm-ledger';
import { startDynalite } from '../../../lib/local/dynalite';

describe('DynamoDbFarmLedger on dynalite', () => {
  let db: Awaited<ReturnType<typeof startDynalite>>;
  let ledger: DynamoDbFarmLedger;
  beforeAll(async () => {
    db = await startDynalite('ledger');
    ledger = new DynamoDbFarmLedger({ client: db.client, tableName: 'ledger' });
  });
  afterAll(() => db.close());

  it('keeps the newest request per farm, whatever order the writes come in', async () => {
    await ledger.record('lb/http/1', { requestId: 'new', requestedAt: '2026-11-25T10:05:00Z' });
    await ledger.record('lb/http/1', { requestId: 'old', requestedAt: '2026-11-25T10:00:00Z' });
    await ledger.record('lb/http/2', { requestId: 'only', requestedAt: '2026-11-25T09:00:00Z' });
    const latest = await ledger.latest(['lb/http/1', 'lb/http/2', 'lb/http/3', 'lb/http/1']);
    expect(Object.fromEntries(latest)).toEqual({
      'lb/http/1': { requestId: 'new', requestedAt: '2026-11-25T10:05:00Z' },
      'lb/http/2': { requestId: 'only', requestedAt: '2026-11-25T09:00:00Z' },
    });
  });

  it('reads more farms than one BatchGetItem takes', async () => {
    const keys = Array.from({ length: 130 }, (_, i) => `lb/tcp/${i}`);
    await Promise.all(
      keys.slice(0, 3).map((k) => ledger.record(k, { requestId: k, requestedAt: '2026-11-25T10:00:00Z' })),
    );
    expect((await ledger.latest(keys)).size).toBe(3);
  });
});
