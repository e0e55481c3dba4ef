import fc from 'fast-check';
import { DAY_MS, SLOT_MS, SLOTS_PER_DAY, slotOfDay } from '../../lib/domain/traffic';
import {
  changeZoneSlots,
  chooseZoneSlots,
  MAX_SLOT_JOINERS,
  MAX_ZONE_SLOTS,
  waitersOf,
} from '../../lib/domain/zone-slots';

const DAY = Date.parse('2026-12-01T00:00:00Z');
const HOUR = 3_600_000;
/** 100 everywhere, but `quiet` at the given hours (UTC) of the day. */
const profileQuietAt = (quiet: Record<number, number>) =>
  Array.from({ length: SLOTS_PER_DAY }, (_, i) => quiet[(i * SLOT_MS) / HOUR] ?? 100);

describe('chooseZoneSlots', () => {
  const profile = profileQuietAt({ 2: 10, 4: 5, 6: 1 });
  const w = (fromHour: number, toHour: number) => ({
    start: DAY + fromHour * HOUR,
    end: DAY + toHour * HOUR,
  });

  it('lets a window holding the zone’s remembered slot join it, at the rate remembered', () => {
    const remembered = { at: DAY + 4 * HOUR, typicalRate: 5, chosenAt: 'then' };
    const [joined, own] = chooseZoneSlots(profile, [w(3, 7), w(5, 8)], [remembered], DAY);
    expect(joined).toMatchObject({ at: DAY + 4 * HOUR, typicalRate: 5, joined: 'zone', slot: 0 });
    // Its window does not hold the remembered slot: its own quietest.
    expect(own).toEqual({ at: DAY + 6 * HOUR, until: DAY + 6 * HOUR + SLOT_MS, typicalRate: 1 });
  });

  it('of several remembered slots a window holds, joins the quietest, then the earliest', () => {
    const slots = [
      { at: DAY + 5 * HOUR, typicalRate: 4, chosenAt: 'a' },
      { at: DAY + 3 * HOUR, typicalRate: 2, chosenAt: 'b' },
      { at: DAY + 4 * HOUR, typicalRate: 2, chosenAt: 'c' },
      { at: DAY + 9 * HOUR, typicalRate: 0, chosenAt: 'd' },
    ];
    const [both, late] = chooseZoneSlots(profile, [w(2, 8), w(3.5, 8)], slots, DAY);
    expect(both).toMatchObject({ at: DAY + 3 * HOUR, typicalRate: 2, joined: 'zone', slot: 1 });
    expect(late).toMatchObject({ at: DAY + 4 * HOUR, typicalRate: 2, joined: 'zone', slot: 2 });
  });

  it('does not join a remembered slot that is not after the earliest moment', () => {
    const remembered = { at: DAY + 4 * HOUR, typicalRate: 5, chosenAt: 'then' };
    expect(chooseZoneSlots(profile, [w(3, 7)], [remembered], DAY + 4 * HOUR)[0]?.at).toBe(DAY + 6 * HOUR);
  });

  it('gives overlapping windows of one batch the quietest slot of what they share, and the others their own', () => {
    const choices = chooseZoneSlots(profile, [w(1, 5), w(3, 8), w(0, 3)], [], DAY);
    // w(1,5) and w(3,8) share 3–5: its quietest is 04:00; w(0,3) meets w(1,5) too, but not what the
    // first two share: by end first, w(0,3) and w(1,5) share 1–3 (02:00), and w(3,8) is alone (06:00).
    expect(choices.map((c) => [(c!.at - DAY) / HOUR, c!.joined])).toEqual([
      [2, 'batch'],
      [6, undefined],
      [2, 'batch'],
    ]);
  });

  it('without a profile joins only the remembered slot', () => {
    const remembered = { at: DAY + 4 * HOUR, typicalRate: 5, chosenAt: 'then' };
    expect(chooseZoneSlots(undefined, [w(3, 7), w(5, 8)], [remembered], DAY)).toEqual([
      expect.objectContaining({ joined: 'zone' }),
      undefined,
    ]);
  });

  it('puts every request in a slot inside its own window, and a joined one after the earliest moment', () => {
    const windows = fc
      .tuple(fc.integer({ min: 0, max: DAY_MS }), fc.integer({ min: 1, max: DAY_MS }))
      .map(([offset, length]) => ({ start: DAY + offset, end: DAY + offset + length }));
    const profiles = fc.array(fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }), {
      minLength: SLOTS_PER_DAY,
      maxLength: SLOTS_PER_DAY,
    });
    fc.assert(
      fc.property(
        fc.option(profiles, { nil: undefined }),
        fc.array(windows, { minLength: 1, maxLength: 6 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 * DAY_MS }), fc.integer({ min: 0, max: 50 })), {
          maxLength: 3,
        }),
        fc.integer({ min: 0, max: DAY_MS }),
        (profile, ws, rememberedSlots, earliestOffset) => {
          const remembered = rememberedSlots.map(([at, typicalRate]) => ({
            at: DAY + at,
            typicalRate,
            chosenAt: 'x',
          }));
          const earliest = DAY + earliestOffset;
          const choices = chooseZoneSlots(profile, ws, remembered, earliest);
          expect(choices).toHaveLength(ws.length);
          choices.forEach((c, i) => {
            if (!c) return;
            expect(c.at).toBeGreaterThanOrEqual(ws[i]!.start);
            expect(c.at).toBeLessThan(ws[i]!.end);
            if (c.joined === 'zone') {
              const slot = remembered[c.slot!]!;
              expect(c.at).toBe(slot.at);
              expect(c.typicalRate).toBe(slot.typicalRate);
              expect(c.at).toBeGreaterThan(earliest);
              // No other remembered slot the window holds is quieter.
              for (const other of remembered)
                if (other.at > earliest && ws[i]!.start <= other.at && other.at < ws[i]!.end)
                  expect(other.typicalRate).toBeGreaterThanOrEqual(slot.typicalRate);
            } else {
              expect(profile?.[slotOfDay(c.at)]).toBe(c.typicalRate);
            }
          });
          // Windows that all share a moment share one slot (when the profile knows one of what they share).
          const shared = {
            start: Math.max(...ws.map((x) => x.start)),
            end: Math.min(...ws.map((x) => x.end)),
          };
          if (remembered.length === 0 && ws.length > 1 && shared.start < shared.end && choices[0]?.joined)
            expect(new Set(choices.map((c) => c?.at)).size).toBe(1);
        },
      ),
    );
  });
});

describe('changeZoneSlots', () => {
  const NOW = new Date('2026-12-01T10:00:00Z');
  const RETAIN = 3_600_000;
  const id: fc.Arbitrary<string> = fc.constantFrom('a', 'b', 'c', 'd', 'e');
  const at = fc.integer({ min: -2 * 12, max: 20 }).map((k) => NOW.getTime() + k * SLOT_MS);
  const change = fc.record({
    add: fc.array(fc.record({ at, typicalRate: fc.nat(9), requestIds: fc.array(id, { maxLength: 3 }) }), {
      maxLength: 4,
    }),
    join: fc.array(fc.record({ at, requestIds: fc.array(id, { maxLength: 3 }) }), { maxLength: 3 }),
    drop: fc.array(fc.record({ at, waiters: fc.array(id, { maxLength: 3 }) }), { maxLength: 2 }),
  });

  it('keeps slots by time, one per time, each request listed once, within the limits, none passed beyond retention', () => {
    fc.assert(
      fc.property(fc.array(change, { minLength: 1, maxLength: 6 }), (changes) => {
        let slots = changeZoneSlots([], {}, NOW, RETAIN);
        for (const c of changes) {
          const before = slots;
          slots = changeZoneSlots(slots, c, NOW, RETAIN);
          // Every request added or joined at a time kept is listed on it.
          for (const a of [...c.add, ...c.join]) {
            const slot = slots.find((s) => s.at === a.at);
            if (slot && (slot.joiners?.length ?? 0) < MAX_SLOT_JOINERS)
              for (const r of a.requestIds) expect(waitersOf(slot)).toContain(r);
          }
          // A slot kept before is dropped only when it waited for no one but the drop's requests.
          for (const s of before)
            if (!slots.some((k) => k.at === s.at) && s.at + RETAIN > NOW.getTime())
              expect(
                c.drop.some((d) => d.at === s.at && waitersOf(s).every((w) => d.waiters.includes(w))),
              ).toBe(true);
        }
        const times = slots.map((s) => s.at);
        expect(times).toEqual([...new Set(times)].sort((a, b) => a - b));
        expect(slots.filter((s) => s.at > NOW.getTime()).length).toBeLessThanOrEqual(MAX_ZONE_SLOTS);
        for (const s of slots) {
          expect(s.at + RETAIN).toBeGreaterThan(NOW.getTime());
          expect(new Set(waitersOf(s)).size).toBe(waitersOf(s).length);
        }
      }),
    );
  });

  it('does not remember a new slot that has already begun', () => {
    expect(
      changeZoneSlots([], { add: [{ at: NOW.getTime(), typicalRate: 1, requestIds: ['a'] }] }, NOW, RETAIN),
    ).toEqual([]);
  });
});
