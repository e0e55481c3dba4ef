/** What every ZoneSlots must do: run against the DynamoDB adapter and the in-memory fake. */
import type { ZoneSlots } from '../../lib/ports/zone-slots';

export const zoneSlotsContract = (make: () => ZoneSlots | Promise<ZoneSlots>) => {
  let store: ZoneSlots;
  let n = 0;
  const MINUTE = 60_000;
  const service = () => `lb-${Date.now().toString(36)}-${++n}`;
  beforeAll(async () => {
    store = await make();
  });

  it('remembers one slot per zone, read back with its rate and when it was chosen, only for the zones asked', async () => {
    const a = service();
    const now = new Date();
    const at = now.getTime() + 30 * MINUTE;
    expect(await store.remember(a, 'gra', { at, typicalRate: 5.5 }, now)).toBe(true);
    expect(await store.remember(a, 'rbx', { at: at + 5 * MINUTE, typicalRate: 0 }, now)).toBe(true);
    const b = service();
    expect(await store.remember(b, 'gra', { at: at + 10 * MINUTE, typicalRate: 1 }, now)).toBe(true);
    expect(await store.read(a, ['gra', 'sbg', 'gra'])).toEqual(
      new Map([['gra', { at, typicalRate: 5.5, chosenAt: now.toISOString() }]]),
    );
    expect([...(await store.read(a, ['gra', 'rbx'])).keys()].sort()).toEqual(['gra', 'rbx']);
    expect(await store.read(a, [])).toEqual(new Map());
    expect((await store.read(b, ['gra'])).get('gra')?.at).toBe(at + 10 * MINUTE);
  });

  it("gets one zone's slot by its key, as read does, and nothing for a zone or service without one", async () => {
    const e = service();
    const now = new Date();
    const at = now.getTime() + 40 * MINUTE;
    await store.remember(e, 'gra', { at, typicalRate: 2.5, requestId: 'r-9' }, now);
    expect(await store.get(e, 'gra')).toEqual({
      at,
      typicalRate: 2.5,
      chosenAt: now.toISOString(),
      requestId: 'r-9',
    });
    expect(await store.get(e, 'gra')).toEqual((await store.read(e, ['gra'])).get('gra'));
    expect(await store.get(e, 'rbx')).toBeUndefined();
    expect(await store.get(service(), 'gra')).toBeUndefined();
    // A zone named like another's prefix is its own key.
    await store.remember(e, 'all', { at: at + MINUTE, typicalRate: 1 }, now);
    expect((await store.get(e, 'all'))?.at).toBe(at + MINUTE);
    expect((await store.get(e, 'gra'))?.at).toBe(at);
  });

  it('replaces a slot still ahead only when told it is the orphan to replace, keeping its request', async () => {
    const d = service();
    const now = new Date();
    const first = now.getTime() + 20 * MINUTE;
    await store.remember(d, 'gra', { at: first, typicalRate: 3, requestId: 'r-1' }, now);
    expect((await store.read(d, ['gra'])).get('gra')).toMatchObject({ at: first, requestId: 'r-1' });
    const next = { at: first + 60 * MINUTE, typicalRate: 1, requestId: 'r-2' };
    expect(await store.remember(d, 'gra', next, now, first + 5 * MINUTE)).toBe(false);
    expect(await store.remember(d, 'gra', next, now, first)).toBe(true);
    expect((await store.read(d, ['gra'])).get('gra')).toMatchObject({
      at: first + 60 * MINUTE,
      requestId: 'r-2',
    });
  });

  it('keeps a slot still ahead, and replaces one that has passed', async () => {
    const c = service();
    const now = new Date();
    const first = now.getTime() + 20 * MINUTE;
    await store.remember(c, 'gra', { at: first, typicalRate: 3 }, now);
    expect(await store.remember(c, 'gra', { at: first + 60 * MINUTE, typicalRate: 1 }, now)).toBe(false);
    expect((await store.read(c, ['gra'])).get('gra')?.at).toBe(first);
    // Once the first slot has passed, the next choice is remembered.
    const later = new Date(first + MINUTE);
    expect(await store.remember(c, 'gra', { at: first + 60 * MINUTE, typicalRate: 1 }, later)).toBe(true);
    expect((await store.read(c, ['gra'])).get('gra')).toEqual({
      at: first + 60 * MINUTE,
      typicalRate: 1,
      chosenAt: later.toISOString(),
    });
  });
};
