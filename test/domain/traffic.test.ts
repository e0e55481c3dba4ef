import fc from 'fast-check';
import {
  DAY_MS,
  dailyProfile,
  MAX_WINDOW_MS,
  parseTimeWindow,
  quietestSlot,
  quietestSlotText,
  SLOT_MS,
  SLOTS_PER_DAY,
  slotOfDay,
  summarizeTraffic,
} from '../../lib/domain/traffic';

const DAY = Date.parse('2026-12-01T00:00:00Z');
const at = (iso: string) => Date.parse(iso);

describe('dailyProfile', () => {
  it('counts a sample for the slot it measured: the 5 minutes before its time', () => {
    const profile = dailyProfile([{ at: at('2026-12-01T00:05:00Z'), value: 3 }]);
    expect(profile[0]).toBe(3);
    expect(profile.filter((v) => v !== undefined)).toHaveLength(1);
  });

  it('takes the median of the same slot across days, so one odd day does not move it', () => {
    const values = [10, 11, 9, 500, 10, 12, 8];
    const samples = values.map((value, day) => ({ at: DAY + day * DAY_MS + 13 * 3_600_000, value }));
    expect(dailyProfile(samples)[slotOfDay(at('2026-12-01T12:55:00Z'))]).toBe(10);
  });

  it('averages the two middle values of an even count, and skips values that are not rates', () => {
    const profile = dailyProfile([
      { at: DAY + SLOT_MS, value: 1 },
      { at: DAY + DAY_MS + SLOT_MS, value: 4 },
      { at: DAY + 2 * DAY_MS + SLOT_MS, value: Number.NaN },
      { at: DAY + 3 * DAY_MS + SLOT_MS, value: -2 },
    ]);
    expect(profile[0]).toBe(2.5);
    expect(profile).toHaveLength(SLOTS_PER_DAY);
  });
});

describe('quietestSlot', () => {
  const flat = (rate: number) => Array.from({ length: SLOTS_PER_DAY }, () => rate);

  it('chooses the quietest slot inside the window, not the quietest of the day', () => {
    const profile = flat(100);
    profile[slotOfDay(at('2026-12-01T03:00:00Z'))] = 1; // outside the window
    profile[slotOfDay(at('2026-12-01T14:10:00Z'))] = 20;
    const chosen = quietestSlot(profile, {
      start: at('2026-12-01T12:00:00Z'),
      end: at('2026-12-01T18:00:00Z'),
    });
    expect(chosen).toEqual({
      at: at('2026-12-01T14:10:00Z'),
      until: at('2026-12-01T14:15:00Z'),
      typicalRate: 20,
    });
  });

  it('opens at the window start when the window begins inside the quietest slot', () => {
    const profile = flat(100);
    profile[slotOfDay(at('2026-12-01T12:00:00Z'))] = 5;
    expect(
      quietestSlot(profile, { start: at('2026-12-01T12:03:00Z'), end: at('2026-12-01T13:00:00Z') }),
    ).toEqual({
      at: at('2026-12-01T12:03:00Z'),
      until: at('2026-12-01T12:05:00Z'),
      typicalRate: 5,
    });
  });

  it('keeps the earliest of equal slots, skips unknown slots, and knows nothing of an empty window', () => {
    const profile: (number | undefined)[] = flat(7);
    profile[slotOfDay(at('2026-12-01T12:00:00Z'))] = undefined;
    const window = { start: at('2026-12-01T12:00:00Z'), end: at('2026-12-01T13:00:00Z') };
    expect(quietestSlot(profile, window)?.at).toBe(at('2026-12-01T12:05:00Z'));
    expect(quietestSlot(profile, { start: window.start, end: window.start })).toBeUndefined();
    expect(
      quietestSlot(
        Array.from({ length: SLOTS_PER_DAY }, () => undefined),
        window,
      ),
    ).toBeUndefined();
  });

  it('searches no more than a week of a longer window', () => {
    const profile = flat(9);
    const chosen = quietestSlot(profile, { start: DAY, end: DAY + 30 * DAY_MS });
    expect(chosen?.at).toBe(DAY);
    expect(chosen!.until).toBeLessThanOrEqual(DAY + MAX_WINDOW_MS);
  });

  const profiles = fc.array(fc.option(fc.integer({ min: 0, max: 1_000 }), { nil: undefined }), {
    minLength: SLOTS_PER_DAY,
    maxLength: SLOTS_PER_DAY,
  });
  const windows = fc
    .tuple(fc.integer({ min: 0, max: 2 * DAY_MS }), fc.integer({ min: 1, max: 2 * DAY_MS }))
    .map(([offset, length]) => ({ start: DAY + offset, end: DAY + offset + length }));

  it('chooses a moment inside the window, and no other moment of the window has a quieter slot', () => {
    fc.assert(
      fc.property(profiles, windows, fc.integer({ min: 0, max: 2 * DAY_MS }), (profile, window, probe) => {
        const chosen = quietestSlot(profile, window);
        const known = (t: number) => profile[slotOfDay(t)];
        // Every moment of the window, through a probe anywhere in it.
        const inside = window.start + (probe % (window.end - window.start));
        if (chosen === undefined) {
          expect(known(inside)).toBeUndefined();
          return;
        }
        expect(chosen.at).toBeGreaterThanOrEqual(window.start);
        expect(chosen.at).toBeLessThan(window.end);
        expect(chosen.until).toBeGreaterThan(chosen.at);
        expect(chosen.until).toBeLessThanOrEqual(window.end);
        expect(chosen.typicalRate).toBe(known(chosen.at));
        const rate = known(inside);
        if (rate !== undefined) expect(rate).toBeGreaterThanOrEqual(chosen.typicalRate);
      }),
    );
  });

  it('finds the minimum of a profile built from samples, within the slot that holds it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: SLOTS_PER_DAY - 1 }), (quiet) => {
        // Seven days of a curve whose lowest point is slot `quiet`: farther slots are busier.
        const samples = Array.from({ length: 7 * SLOTS_PER_DAY }, (_, i) => {
          const slot = i % SLOTS_PER_DAY;
          const distance = Math.min(Math.abs(slot - quiet), SLOTS_PER_DAY - Math.abs(slot - quiet));
          return { at: DAY + (i + 1) * SLOT_MS, value: 10 + distance };
        });
        const chosen = quietestSlot(dailyProfile(samples), { start: DAY, end: DAY + DAY_MS });
        expect(chosen?.at).toBe(DAY + quiet * SLOT_MS);
        expect(chosen?.typicalRate).toBe(10);
      }),
    );
  });
});

describe('quietestSlotText', () => {
  it('says whose slot it is: its own window’s quietest, its zone’s already chosen, or its batch’s shared one', () => {
    const slot = { at: '2026-12-08T04:00:00.000Z', typicalRequestsPerSecond: 180 };
    expect(quietestSlotText(slot)).toMatch(
      /^deferred to the quietest 5 minutes of its window .*04:00 UTC \(≈ 180 req\/s/,
    );
    expect(quietestSlotText({ ...slot, joined: 'zone' })).toMatch(
      /^deferred to the slot already chosen for its zone by another request .*04:00 UTC/,
    );
    expect(quietestSlotText({ ...slot, joined: 'batch' })).toMatch(/with the other requests of its zone/);
  });
});

describe('summarizeTraffic', () => {
  it('keeps an unknown reading as it is, and finds the quietest slot of a known one', () => {
    const window = { start: DAY, end: DAY + DAY_MS };
    expect(summarizeTraffic({ known: false, service: 's', reason: 'no metrics' }, window)).toEqual({
      known: false,
      service: 's',
      reason: 'no metrics',
    });
    const known = summarizeTraffic(
      {
        known: true,
        service: 's',
        measuredAt: '2026-12-01T00:00:00.000Z',
        now: { requestsPerSecond: 1, connectionsPerSecond: 2 },
        history: [{ at: DAY + SLOT_MS, value: 4 }],
      },
      window,
    );
    expect(known).toMatchObject({ known: true, quietest: { at: DAY, typicalRate: 4 } });
  });
});

describe('parseTimeWindow', () => {
  it('says which durations it reads when the end looks like one it does not', () => {
    for (const end of ['P1W', 'PT8D', 'PT30S'])
      expect(parseTimeWindow(`2026-12-08T00:00Z/${end}`, Date.parse('2026-12-07T00:00Z'))).toMatchObject({
        ok: false,
        message: expect.stringContaining(
          `the end "${end}" is not a duration read here: days, hours and minutes`,
        ),
      });
  });

  const now = Date.parse('2026-12-07T15:00:00Z');

  it('is the next 24 hours without a window', () => {
    expect(parseTimeWindow(undefined, now)).toEqual({ ok: true, window: { start: now, end: now + DAY_MS } });
  });

  it('reads START/END and START/DURATION with offsets', () => {
    expect(parseTimeWindow('2026-12-08T00:00Z/2026-12-08T06:30+01:00', now)).toEqual({
      ok: true,
      window: { start: at('2026-12-08T00:00:00Z'), end: at('2026-12-08T05:30:00Z') },
    });
    expect(parseTimeWindow('2026-12-08T00:00:00.000Z/P1DT2H30M', now)).toEqual({
      ok: true,
      window: { start: at('2026-12-08T00:00:00Z'), end: at('2026-12-09T02:30:00Z') },
    });
  });

  it('refuses what it cannot read, windows that end first or last over 7 days, and ended windows', () => {
    for (const [text, why] of [
      ['2026-12-08T00:00Z', 'one /'],
      ['2026-12-08T00:00/PT1H', 'the start'],
      ['2026-12-08T00:00Z/PT', 'the end'],
      ['2026-12-08T00:00Z/P', 'the end'],
      ['2026-12-08T00:00Z/soon', 'the end'],
      ['2026-12-08T00:00Z/2026-12-07T00:00Z', 'ends before it starts'],
      ['2026-12-08T00:00Z/P8D', 'more than 7 days'],
      ['2026-12-01T00:00Z/PT1H', 'already ended'],
    ] as const) {
      const parsed = parseTimeWindow(text, now);
      expect([text, parsed.ok ? '' : parsed.message]).toEqual([text, expect.stringContaining(why)]);
    }
  });
});
