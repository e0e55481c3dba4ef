import { makeWaitingSlot, makeWaitingSlots, slotJoined, zonesWaitingSlots } from '../../lib/app/waiting-slot';
import type { ChangeRequestedDetail } from '../../lib/domain/events';
import { FakeClock, InMemoryIdempotencyStore, InMemoryZoneSlots } from '../helpers/fakes';

const HOUR = 3_600_000;

const setup = () => {
  const clock = new FakeClock();
  const slots = new InMemoryZoneSlots();
  const requests = new InMemoryIdempotencyStore();
  /** A slot for `service/zone`, chosen by `requestId` (deferred unless `state` says otherwise). */
  const remember = (
    key: string,
    at: number,
    requestId?: string,
    state: 'deferred' | 'completed' = 'deferred',
  ) => {
    slots.slots.set(key, [
      ...(slots.slots.get(key) ?? []),
      { at, typicalRate: 7, chosenAt: new Date(clock.t).toISOString(), ...(requestId ? { requestId } : {}) },
    ]);
    if (requestId)
      requests.records.set(
        requestId,
        state === 'deferred'
          ? {
              state,
              until: new Date(at).toISOString(),
              deferredUntil: new Date(at).toISOString(),
              request: {} as ChangeRequestedDetail,
              origin: null,
            }
          : ({ state } as never),
      );
  };
  return {
    clock,
    slots,
    requests,
    remember,
    one: makeWaitingSlot({ slots, requests, clock }),
    many: makeWaitingSlots({ slots, requests, clock }),
  };
};

describe("a zone's waiting slot, as a request made now finds it", () => {
  it('is the remembered slot still ahead whose request still waits, or one kept without its request', async () => {
    const s = setup();
    s.remember('lb/gra', s.clock.t + HOUR, 'r-1');
    s.remember('lb/sbg', s.clock.t + 2 * HOUR);
    s.remember('lb/rbx', s.clock.t + HOUR, 'r-2', 'completed');
    s.remember('lb/bhs', s.clock.t, 'r-3');
    s.remember('lb/waw', s.clock.t + HOUR, 'r-gone');
    s.requests.records.delete('r-gone');
    expect((await s.one('lb', 'gra')).map((w) => w.slot.requestId)).toEqual(['r-1']);
    expect((await s.one('lb', 'sbg')).map((w) => w.slot.at)).toEqual([s.clock.t + 2 * HOUR]);
    for (const zone of ['rbx', 'bhs', 'waw', 'lim'])
      expect([zone, await s.one('lb', zone)]).toEqual([zone, []]);
    const many = await s.many('lb', ['gra', 'sbg', 'rbx', 'bhs', 'waw', 'lim']);
    expect(many.map((w) => w.zone)).toEqual(['gra', 'sbg']);
  });

  it('is kept while any request it was kept for waits: the one that chose it or one that joined it', async () => {
    const s = setup();
    s.remember('lb/gra', s.clock.t + HOUR, 'r-1', 'completed');
    s.slots.slots.get('lb/gra')![0]!.joiners = ['j-1'];
    expect(await s.one('lb', 'gra')).toEqual([]);
    s.remember('lb/sbg', s.clock.t + 3 * HOUR, 'j-1');
    s.slots.slots.get('lb/gra')![0]!.joiners = ['j-0', 'j-1'];
    expect((await s.one('lb', 'gra')).map((w) => w.zone)).toEqual(['gra']);
  });

  it("reads a zone's slots and zone all's; for zone all, all's and the zones given; and a window joins the quietest it holds, then the earliest", async () => {
    const s = setup();
    s.remember('lb/gra', s.clock.t + 3 * HOUR, 'r-1');
    s.remember('lb/all', s.clock.t + 2 * HOUR, 'r-2');
    s.remember('lb/sbg', s.clock.t + HOUR, 'r-3');
    expect((await s.one('lb', 'gra')).map((w) => w.zone).sort()).toEqual(['all', 'gra']);
    expect((await s.one('lb', 'all')).map((w) => w.zone)).toEqual(['all']);
    const fromAll = await s.one('lb', 'all', ['gra', 'sbg']);
    expect(fromAll.map((w) => w.zone).sort()).toEqual(['all', 'gra', 'sbg']);
    const window = { start: s.clock.t, end: s.clock.t + 4 * HOUR };
    // All at 7 req/s: the earliest.
    expect(slotJoined(fromAll, window, s.clock.t)?.zone).toBe('sbg');
    s.slots.slots.get('lb/gra')![0]!.typicalRate = 1;
    expect(slotJoined(await s.one('lb', 'all', ['gra', 'sbg']), window, s.clock.t)?.zone).toBe('gra');
    expect(slotJoined(fromAll, { start: s.clock.t, end: s.clock.t + HOUR }, s.clock.t)).toBeUndefined();
    // The worker keeps its batching window and 10 s free before the end (30 s deployed by default).
    const tight = { start: s.clock.t, end: s.clock.t + HOUR + 20_000 };
    expect(slotJoined(fromAll, tight, s.clock.t)).toBeUndefined();
    expect(slotJoined(fromAll, tight, s.clock.t, 11_000)?.zone).toBe('sbg');
  });

  it('asks for no request when no slot names one, and throws what cannot be read', async () => {
    const s = setup();
    s.remember('lb/sbg', s.clock.t + HOUR);
    s.requests.failures.fail('status');
    expect(await s.many('lb', ['sbg'])).toHaveLength(1);
    s.remember('lb/gra', s.clock.t + HOUR, 'r-1');
    await expect(s.many('lb', ['gra'])).rejects.toThrow('status is unavailable');
    await expect(s.one('lb', 'gra')).rejects.toThrow('status is unavailable');
    s.slots.failures.fail('read').fail('get');
    await expect(s.many('lb', ['sbg'])).rejects.toThrow('read is unavailable');
    await expect(s.one('lb', 'sbg')).rejects.toThrow('get is unavailable');
  });

  it('by service and zone, each said in or outside the window; a service that cannot be read is left out and told', async () => {
    const s = setup();
    s.remember('lb-a/sbg', s.clock.t + 5 * HOUR, 'r-1');
    s.remember('lb-a/gra', s.clock.t + HOUR, 'r-2');
    s.remember('lb-b/gra', s.clock.t + HOUR, 'r-3');
    const failed: string[] = [];
    const read = (zones: Map<string, Set<string>>) =>
      zonesWaitingSlots(
        s.many,
        zones,
        { start: s.clock.t, end: s.clock.t + 2 * HOUR },
        s.clock.t,
        (service) => failed.push(service),
      );
    const found = await read(
      new Map([
        ['lb-b', new Set(['gra'])],
        ['lb-a', new Set(['sbg', 'gra', 'rbx'])],
      ]),
    );
    expect(found.map((f) => [f.service, f.zone, f.inWindow])).toEqual([
      ['lb-a', 'gra', true],
      ['lb-a', 'sbg', false],
      ['lb-b', 'gra', true],
    ]);
    expect(failed).toEqual([]);
    s.slots.failures.fail('read');
    expect(await read(new Map([['lb-a', new Set(['gra'])]]))).toEqual([]);
    expect(failed).toEqual(['lb-a']);
  });
});
