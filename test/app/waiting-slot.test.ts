import { makeWaitingSlot, makeWaitingSlots, zonesWaitingSlots } from '../../lib/app/waiting-slot';
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
    slots.slots.set(key, {
      at,
      typicalRate: 7,
      chosenAt: new Date(clock.t).toISOString(),
      ...(requestId ? { requestId } : {}),
    });
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
    expect((await s.one('lb', 'gra'))?.requestId).toBe('r-1');
    expect((await s.one('lb', 'sbg'))?.at).toBe(s.clock.t + 2 * HOUR);
    for (const zone of ['rbx', 'bhs', 'waw', 'lim'])
      expect([zone, await s.one('lb', zone)]).toEqual([zone, undefined]);
    const many = await s.many('lb', ['gra', 'sbg', 'rbx', 'bhs', 'waw', 'lim']);
    expect([...many.keys()].sort()).toEqual(['gra', 'sbg']);
  });

  it('asks for no request when no slot names one, and throws what cannot be read', async () => {
    const s = setup();
    s.remember('lb/sbg', s.clock.t + HOUR);
    s.requests.failures.fail('status');
    expect((await s.many('lb', ['sbg'])).size).toBe(1);
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
