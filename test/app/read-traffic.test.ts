import { makeReadTraffic } from '../../lib/app/read-traffic';
import { DAY_MS, type RateSample, SLOT_MS } from '../../lib/domain/traffic';
import { FakeClock, FakeTraffic } from '../helpers/fakes';

/** 7 days of 5-minute samples before `now`: 300 req/s, but 12 req/s in 20:55–21:00 and 5 req/s in 21:00–21:05 UTC. */
const week = (now: number): RateSample[] =>
  Array.from({ length: (7 * DAY_MS) / SLOT_MS }, (_, i) => {
    const at = now - i * SLOT_MS;
    const start = new Date(at - SLOT_MS);
    const hm = start.getUTCHours() * 60 + start.getUTCMinutes();
    return { at, value: hm === 20 * 60 + 55 ? 12 : hm === 21 * 60 ? 5 : 300 };
  });

const setup = () => {
  const clock = new FakeClock();
  const traffic = new FakeTraffic({
    'lb-a': { requestsPerSecond: 100, connectionsPerSecond: 10, history: week(clock.t) },
    'lb-b': { requestsPerSecond: 100, connectionsPerSecond: 10, history: [] },
  });
  return { clock, read: makeReadTraffic({ traffic, clock }) };
};

describe('the traffic of the load balancers a plan would refresh', () => {
  // 2026-11-25 20:00 to 21:00:11 UTC (the clock stands at 10:00 that day).
  const window = { start: Date.parse('2026-11-25T20:00:00Z'), end: Date.parse('2026-11-25T21:00:11Z') };

  it('searches the whole window without a margin', async () => {
    const report = await setup().read({ services: ['lb-a'], window });
    expect(report.window).toEqual(window);
    const [a] = report.services;
    expect(a?.known && a.quietest).toEqual({
      at: Date.parse('2026-11-25T21:00:00Z'),
      until: window.end,
      typicalRate: 5,
    });
  });

  it('searches the quietest as the worker does, before the margin it keeps, and says the window asked', async () => {
    const report = await setup().read({ services: ['lb-a'], window, marginMs: 30_000 });
    expect(report.window).toEqual(window);
    const [a] = report.services;
    expect(a?.known && a.quietest).toEqual({
      at: Date.parse('2026-11-25T20:55:00Z'),
      // Where the worker's search ends too.
      until: window.end - 30_000,
      typicalRate: 12,
    });
  });

  it('says why there is no quietest when the whole window lies in the margin, and the history otherwise', async () => {
    const s = setup();
    const near = { start: s.clock.t - 60_000, end: s.clock.t + 20_000 };
    const report = await s.read({ services: ['lb-b', 'lb-a', 'lb-c'], window: near, marginMs: 30_000 });
    expect(report.window).toEqual({ start: s.clock.t, end: near.end });
    expect(
      report.services.map((t) => [t.service, t.known && t.quietest, t.known && t.quietestUnknown]),
    ).toEqual([
      [
        'lb-a',
        undefined,
        "the window ends within the 30 s the pipeline's worker keeps free before a window's end",
      ],
      [
        'lb-b',
        undefined,
        "the window ends within the 30 s the pipeline's worker keeps free before a window's end",
      ],
      ['lb-c', false, false],
    ]);
    const wide = await s.read({
      services: ['lb-b'],
      window: { start: s.clock.t, end: s.clock.t + DAY_MS },
      marginMs: 30_000,
    });
    expect(wide.services[0]).toMatchObject({
      quietest: undefined,
      quietestUnknown: 'the last 7 days of metrics hold no point in a slot of this window',
    });
  });
});
