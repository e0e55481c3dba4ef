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

/** What plan --pipeline finds for load balancer `lb`'s changes in `zones` (its zones: `loadBalancerZones`). */
const planned = (
  s: ReturnType<typeof setup>,
  window: { start: number; end: number },
  zones: string[],
  loadBalancerZones: string[],
) =>
  zonesWaitingSlots(
    s.many,
    new Map([['lb', { zones: new Set(zones), loadBalancerZones }]]),
    window,
    s.clock.t,
    () => {},
  );

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
    // Equals (rate and time): the first zone by name, whatever order they were read in.
    const tie = [
      { zone: 'gra', slot: { at: s.clock.t + HOUR, typicalRate: 2, chosenAt: 'x' } },
      { zone: 'all', slot: { at: s.clock.t + HOUR, typicalRate: 2, chosenAt: 'y' } },
    ];
    expect(slotJoined(tie, window, s.clock.t)?.zone).toBe('all');
    expect(slotJoined([...tie].reverse(), window, s.clock.t)?.zone).toBe('all');
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
    const read = (zones: Map<string, string[]>) =>
      zonesWaitingSlots(
        s.many,
        new Map([...zones].map(([service, z]) => [service, { zones: new Set(z), loadBalancerZones: [] }])),
        { start: s.clock.t, end: s.clock.t + 2 * HOUR },
        s.clock.t,
        (service) => failed.push(service),
      );
    const found = await read(
      new Map([
        ['lb-b', ['gra']],
        ['lb-a', ['sbg', 'gra', 'rbx']],
      ]),
    );
    expect(found.map((f) => [f.service, f.zone, f.inWindow, f.joinedBy])).toEqual([
      ['lb-a', 'gra', true, ['gra']],
      ['lb-a', 'sbg', false, []],
      ['lb-b', 'gra', true, ['gra']],
    ]);
    expect(failed).toEqual([]);
    s.slots.failures.fail('read');
    expect(await read(new Map([['lb-a', ['gra']]]))).toEqual([]);
    expect(failed).toEqual(['lb-a']);
  });

  it("says, per zone an apply would refresh, the one slot its requests join: the quietest the window holds of its own and zone all's, then the earliest", async () => {
    const s = setup();
    const window = { start: s.clock.t, end: s.clock.t + 6 * HOUR };
    for (const h of [1, 2, 3]) s.remember('lb/gra', s.clock.t + h * HOUR, `g-${h}`);
    s.remember('lb/all', s.clock.t + 4 * HOUR, 'a-1');
    s.remember('lb/sbg', s.clock.t + 30 * 60_000, 's-1');
    // A slot in the worker's last 30 s before the end is in no window the worker joins.
    s.remember('lb/sbg', window.end - 20_000, 's-2');
    const read = (zones: string[], loadBalancerZones: string[] = []) =>
      planned(s, window, zones, loadBalancerZones);
    const said = (found: Awaited<ReturnType<typeof read>>) =>
      found.map((f) => [f.zone, (f.slot.at - s.clock.t) / HOUR, f.inWindow, f.joinedBy]);
    // All at 7 req/s: gra joins its earliest, sbg its own (not gra's); zone all's is joined by nobody.
    expect(said(await read(['gra', 'sbg']))).toEqual([
      ['all', 4, true, []],
      ['gra', 1, true, ['gra']],
      ['gra', 2, true, []],
      ['gra', 3, true, []],
      ['sbg', 0.5, true, ['sbg']],
      ['sbg', 6 - 20_000 / HOUR, false, []],
    ]);
    // Zone all's slot, quieter, is joined by both zones.
    s.slots.slots.get('lb/all')![0]!.typicalRate = 1;
    expect(said(await read(['gra', 'sbg'])).filter(([, , , by]) => (by as string[]).length > 0)).toEqual([
      ['all', 4, true, ['gra', 'sbg']],
    ]);
    // A quieter later slot of gra's own is joined rather than the earlier ones.
    s.slots.slots.get('lb/gra')![2]!.typicalRate = 0.5;
    expect(said(await read(['gra'])).filter(([, , , by]) => (by as string[]).length > 0)).toEqual([
      ['gra', 3, true, ['gra']],
    ]);
  });

  it('for a change in zone all, reads every zone of its load balancer and joins one slot of them all, as the worker does', async () => {
    const s = setup();
    const window = { start: s.clock.t, end: s.clock.t + 6 * HOUR };
    s.remember('lb/sbg', s.clock.t + HOUR, 's-1');
    s.remember('lb/gra', s.clock.t + 2 * HOUR, 'g-1');
    const read = (zones: string[], loadBalancerZones: string[]) =>
      planned(s, window, zones, loadBalancerZones);
    // Without the load balancer's zones, sbg's slot would be missed.
    expect((await read(['all'], [])).map((f) => f.zone)).toEqual([]);
    const found = await read(['all'], ['gra', 'sbg', 'all']);
    expect(found.map((f) => [f.zone, f.joinedBy])).toEqual([
      ['gra', []],
      ['sbg', ['all']],
    ]);
    // With a change in gra too, the load balancer is one refresh of all: one slot, joined by all.
    expect((await read(['gra', 'all'], ['gra', 'sbg'])).map((f) => [f.zone, f.joinedBy])).toEqual([
      ['gra', []],
      ['sbg', ['all']],
    ]);
    // A window that holds none: nothing joined.
    const none = await zonesWaitingSlots(
      s.many,
      new Map([['lb', { zones: new Set(['all']), loadBalancerZones: ['sbg'] }]]),
      { start: s.clock.t, end: s.clock.t + 30 * 60_000 },
      s.clock.t,
      () => {},
    );
    expect(none.map((f) => [f.zone, f.inWindow, f.joinedBy])).toEqual([['sbg', false, []]]);
  });
});
