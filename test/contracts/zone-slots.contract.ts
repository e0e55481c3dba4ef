/** What every ZoneSlots must do: run against the DynamoDB adapter and the in-memory fake. */
import { MAX_SLOT_JOINERS, MAX_ZONE_SLOTS, type ZoneSlots } from '../../lib/ports/zone-slots';

export const zoneSlotsContract = (make: () => ZoneSlots | Promise<ZoneSlots>) => {
  let store: ZoneSlots;
  let n = 0;
  const MINUTE = 60_000;
  const service = () => `lb-${Date.now().toString(36)}-${++n}`;
  beforeAll(async () => {
    store = await make();
  });
  const add = (at: number, typicalRate: number, ...requestIds: string[]) => ({
    add: [{ at, typicalRate, requestIds }],
  });

  it('remembers slots per zone, read back by time with their rate, when they were chosen and by whom, only for the zones asked', async () => {
    const a = service();
    const now = new Date();
    const at = now.getTime() + 30 * MINUTE;
    await store.change(a, 'gra', add(at + 60 * MINUTE, 1, 'r-2'), now);
    await store.change(a, 'gra', add(at, 5.5, 'r-1', 'r-1b'), now);
    await store.change(a, 'rbx', add(at + 5 * MINUTE, 0, 'r-3'), now);
    const b = service();
    await store.change(b, 'gra', add(at + 10 * MINUTE, 1, 'r-4'), now);
    expect(await store.read(a, ['gra', 'sbg', 'gra'])).toEqual(
      new Map([
        [
          'gra',
          [
            { at, typicalRate: 5.5, chosenAt: now.toISOString(), requestId: 'r-1', joiners: ['r-1b'] },
            { at: at + 60 * MINUTE, typicalRate: 1, chosenAt: now.toISOString(), requestId: 'r-2' },
          ],
        ],
      ]),
    );
    expect([...(await store.read(a, ['gra', 'rbx'])).keys()].sort()).toEqual(['gra', 'rbx']);
    expect(await store.read(a, [])).toEqual(new Map());
    expect((await store.read(b, ['gra'])).get('gra')?.map((s) => s.at)).toEqual([at + 10 * MINUTE]);
  });

  it('lists the requests that join a slot once each, and a slot chosen again at the same time lists its requests as joiners', async () => {
    const e = service();
    const now = new Date();
    const at = now.getTime() + 20 * MINUTE;
    await store.change(e, 'gra', { join: [{ at, requestIds: ['j-0'] }] }, now); // nothing remembered
    expect(await store.read(e, ['gra'])).toEqual(new Map());
    await store.change(e, 'gra', add(at, 2, 'r-1'), now);
    await store.change(e, 'gra', { join: [{ at: at + MINUTE, requestIds: ['j-1'] }] }, now); // no such slot
    await store.change(e, 'gra', { join: [{ at, requestIds: ['j-1', 'j-2', 'j-1', 'r-1'] }] }, now);
    await store.change(e, 'gra', add(at, 9, 'j-3'), now);
    expect((await store.read(e, ['gra'])).get('gra')).toEqual([
      { at, typicalRate: 2, chosenAt: now.toISOString(), requestId: 'r-1', joiners: ['j-1', 'j-2', 'j-3'] },
    ]);
  });

  it(`lists at most ${MAX_SLOT_JOINERS} joiners, and remembers at most ${MAX_ZONE_SLOTS} slots ahead`, async () => {
    const f = service();
    const now = new Date();
    const at = now.getTime() + 20 * MINUTE;
    const many = Array.from({ length: MAX_SLOT_JOINERS + 5 }, (_, i) => `j-${i}`);
    await store.change(f, 'gra', add(at, 2, 'r-1'), now);
    await store.change(f, 'gra', { join: [{ at, requestIds: many }] }, now);
    const full = (await store.read(f, ['gra'])).get('gra')?.[0];
    expect(full?.joiners).toEqual(many.slice(0, MAX_SLOT_JOINERS));
    // Some that wait for it are not listed: it is never taken for nobody's.
    expect(full?.overflow).toBe(true);
    await store.change(f, 'gra', { drop: [{ at, waiters: ['r-1', ...many] }] }, now);
    expect((await store.read(f, ['gra'])).get('gra')?.map((s) => s.at)).toEqual([at]);
    for (let i = 1; i <= MAX_ZONE_SLOTS; i++)
      await store.change(f, 'gra', add(at + i * 5 * MINUTE, 1, `r-${i}`), now);
    const kept = (await store.read(f, ['gra'])).get('gra')!;
    expect(kept).toHaveLength(MAX_ZONE_SLOTS);
    expect(kept.at(-1)?.at).toBe(at + (MAX_ZONE_SLOTS - 1) * 5 * MINUTE);
  });

  it('forgets an orphan only while it is kept for no other request than those seen, and a slot an hour after it passed', async () => {
    const d = service();
    const now = new Date();
    const first = now.getTime() + 20 * MINUTE;
    await store.change(d, 'gra', add(first, 3, 'r-1'), now);
    await store.change(d, 'gra', { join: [{ at: first, requestIds: ['j-1'] }] }, now);
    // Seen orphaned with only r-1 waiting: j-1 joined since, so it is kept.
    await store.change(d, 'gra', { drop: [{ at: first, waiters: ['r-1'] }] }, now);
    expect((await store.read(d, ['gra'])).get('gra')?.map((s) => s.at)).toEqual([first]);
    await store.change(
      d,
      'gra',
      { drop: [{ at: first, waiters: ['r-1', 'j-1'] }], ...add(first + 60 * MINUTE, 1, 'r-2') },
      now,
    );
    expect((await store.read(d, ['gra'])).get('gra')).toEqual([
      { at: first + 60 * MINUTE, typicalRate: 1, chosenAt: now.toISOString(), requestId: 'r-2' },
    ]);
    // Two hours later, the passed slot is forgotten by the next change.
    const later = new Date(first + 3 * 60 * MINUTE);
    await store.change(d, 'gra', add(later.getTime() + 5 * MINUTE, 4, 'r-3'), later);
    expect((await store.read(d, ['gra'])).get('gra')?.map((s) => s.requestId)).toEqual(['r-3']);
    // A change that leaves nothing leaves the zone without slots.
    await store.change(d, 'gra', { drop: [{ at: later.getTime() + 5 * MINUTE, waiters: ['r-3'] }] }, later);
    expect(await store.read(d, ['gra'])).toEqual(new Map());
  });

  it('keeps both of two changes made at once to one zone', async () => {
    const g = service();
    const now = new Date();
    const at = now.getTime() + 20 * MINUTE;
    await Promise.all(
      Array.from({ length: 4 }, (_, i) => store.change(g, 'gra', add(at + i * 5 * MINUTE, i, `r-${i}`), now)),
    );
    expect((await store.read(g, ['gra'])).get('gra')?.map((s) => s.requestId)).toEqual([
      'r-0',
      'r-1',
      'r-2',
      'r-3',
    ]);
  });

  it("gets one zone's slots by its key, as read does, and none for a zone or service without any", async () => {
    const e = service();
    const now = new Date();
    const at = now.getTime() + 40 * MINUTE;
    await store.change(e, 'gra', add(at, 2.5, 'r-9'), now);
    await store.change(e, 'gra', add(at + 30 * MINUTE, 1, 'r-10'), now);
    expect((await store.get(e, 'gra')).map((s) => [s.at, s.requestId])).toEqual([
      [at, 'r-9'],
      [at + 30 * MINUTE, 'r-10'],
    ]);
    expect(await store.get(e, 'gra')).toEqual((await store.read(e, ['gra'])).get('gra'));
    expect(await store.get(e, 'rbx')).toEqual([]);
    expect(await store.get(service(), 'gra')).toEqual([]);
    await store.change(e, 'all', add(at + MINUTE, 1, 'r-11'), now);
    expect((await store.get(e, 'all')).map((s) => s.at)).toEqual([at + MINUTE]);
  });
};
