/** What every UnappliedZones must do: run against the DynamoDB and file adapters and the in-memory fake. */
import type { UnappliedZone, UnappliedZones } from '../../lib/ports/unapplied-zones';

export const unappliedZonesContract = (make: () => UnappliedZones | Promise<UnappliedZones>) => {
  let store: UnappliedZones;
  let n = 0;
  const now = new Date();
  const service = () => `lb-${Date.now().toString(36)}-${++n}`;
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
    store = await make();
  });

  it('keeps one record per zone, replaced by the next, and reads only the zones asked for', async () => {
    const a = service();
    await store.remember(record({ service: a }), now);
    await store.remember(record({ service: a, pending: 3, doneRefreshes: [11, 12, 13] }), now);
    await store.remember(record({ service: a, zone: 'rbx', pending: 1, doneRefreshes: [] }), now);
    const b = service();
    await store.remember(record({ service: b }), now);
    expect(await store.read(a, ['gra', 'sbg', 'gra'])).toEqual([
      record({ service: a, pending: 3, doneRefreshes: [11, 12, 13] }),
    ]);
    expect((await store.read(a, ['gra', 'rbx'])).map((r) => r.zone).sort()).toEqual(['gra', 'rbx']);
    expect(await store.read(a, [])).toEqual([]);
    expect(await store.read(b, ['gra'])).toEqual([record({ service: b })]);
  });

  it('forgets a zone, and forgetting an absent one is no error', async () => {
    const c = service();
    await store.remember(record({ service: c }), now);
    await store.remember(record({ service: c, zone: 'rbx' }), now);
    await store.forget(c, 'gra');
    await store.forget(c, 'gra');
    expect((await store.read(c, ['gra', 'rbx'])).map((r) => r.zone)).toEqual(['rbx']);
  });
};
