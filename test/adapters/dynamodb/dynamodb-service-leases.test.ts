import { DynamoDbServiceLeases } from '../../../lib/adapters/dynamodb/dynamodb-service-leases';
import { startDynalite } from '../../../lib/local/dynalite';

describe('DynamoDbServiceLeases on dynalite', () => {
  let db: Awaited<ReturnType<typeof startDynalite>>;
  beforeAll(async () => {
    db = await startDynalite('leases');
  });
  afterAll(() => db.close());
  const holder = () => new DynamoDbServiceLeases({ client: db.client, tableName: 'leases' });
  const t0 = new Date('2026-11-25T10:00:00Z');

  it('gives a service to one holder at a time, and the others to whoever asks', async () => {
    const leases = holder(); // one adapter, two invocations of the same instance
    const a = await leases.acquire(['lb-1', 'lb-2'], t0, 60_000);
    const b = await leases.acquire(['lb-2', 'lb-3'], t0, 60_000);
    expect([...a.services].sort()).toEqual(['lb-1', 'lb-2']);
    expect([...b.services]).toEqual(['lb-3']);
    expect(await leases.holder('lb-2')).toBe(a.token);
  });

  it('gives back what it took when one of its writes fails, instead of leaking it until it expires', async () => {
    const flaky = new DynamoDbServiceLeases({
      client: async (operation, input) => {
        const id = (input as { Item?: { id?: { S?: string } } }).Item?.id?.S;
        if (operation === 'PutItem' && id === 'lease:lb-fail')
          throw Object.assign(new Error('DynamoDB is unavailable'), { code: 'InternalServerError' });
        return db.client(operation, input);
      },
      tableName: 'leases',
    });
    await expect(flaky.acquire(['lb-ok-1', 'lb-fail', 'lb-ok-2'], t0, 60_000)).rejects.toThrow(/unavailable/);
    const leases = holder();
    expect(await leases.holder('lb-ok-1')).toBeUndefined();
    expect(await leases.holder('lb-ok-2')).toBeUndefined();
    expect([...(await leases.acquire(['lb-ok-1', 'lb-ok-2'], t0, 60_000)).services].sort()).toEqual([
      'lb-ok-1',
      'lb-ok-2',
    ]);
  });

  it('frees a lease on release, only for its holder', async () => {
    const leases = holder();
    const a = await leases.acquire(['lb-10'], t0, 60_000);
    await leases.release({ services: new Set(['lb-10']), token: 'not-a' });
    expect(await leases.holder('lb-10')).toBe(a.token);
    await leases.release(a);
    expect([...(await leases.acquire(['lb-10'], t0, 60_000)).services]).toEqual(['lb-10']);
  });

  it('lets an expired lease go to the next holder (a crashed invocation does not block a service forever)', async () => {
    const leases = holder();
    const a = await leases.acquire(['lb-20'], t0, 1_000);
    expect((await leases.acquire(['lb-20'], new Date(t0.getTime() + 999), 1_000)).services.size).toBe(0);
    const b = await leases.acquire(['lb-20'], new Date(t0.getTime() + 1_000), 1_000);
    expect(b.services.size).toBe(1);
    await leases.release(a); // too late: it is b's now
    expect(await leases.holder('lb-20')).toBe(b.token);
  });
});
