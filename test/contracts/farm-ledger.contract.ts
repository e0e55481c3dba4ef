/** What every FarmLedger must do: run against the DynamoDB adapter and the in-memory fake. */
import type { FarmLedger } from '../../lib/ports/farm-ledger';

export const farmLedgerContract = (make: () => FarmLedger | Promise<FarmLedger>) => {
  let ledger: FarmLedger;
  let n = 0;
  const farm = () => `lb-${Date.now().toString(36)}-${++n}/http/1`;
  const now = new Date();
  const live = (requestId: string) => ({ live: { requestId, acceptedAt: '2026-11-25T10:00:00.000Z' } });
  beforeAll(async () => {
    ledger = await make();
  });

  it('writes a farm order at the version read, and refuses a writer that read an older one', async () => {
    const f = farm();
    expect((await ledger.read([f])).size).toBe(0);
    await expect(ledger.write(f, live('a'), 0, now)).resolves.toBe(true);
    await expect(ledger.write(f, live('b'), 0, now)).resolves.toBe(false);
    const read = (await ledger.read([f])).get(f)!;
    expect(read.order).toEqual(live('a'));
    const deferred = {
      ...live('a'),
      deferred: { requestId: 'c', acceptedAt: '2026-11-25T10:01:00.000Z', until: '2026-11-25T12:00:00.000Z' },
    };
    await expect(ledger.write(f, deferred, read.version, now)).resolves.toBe(true);
    await expect(ledger.write(f, live('d'), read.version, now)).resolves.toBe(false);
    expect((await ledger.read([f])).get(f)?.order).toEqual(deferred);
  });

  it('reads several farms at once, more than one batch of keys, leaving out farms with nothing recorded', async () => {
    const farms = Array.from({ length: 130 }, farm);
    await Promise.all(farms.slice(0, 3).map((f) => ledger.write(f, live('r'), 0, now)));
    const read = await ledger.read([...farms, farms[0]!]);
    expect([...read.keys()].sort()).toEqual(farms.slice(0, 3).sort());
  });
};
