import {
  acceptedBefore,
  admit,
  latestPerFarm,
  orderRequest,
  type QueuedRequest,
  retryDelaySeconds,
  unfinishedDisposition,
} from '../../lib/domain/request-rules';
import { aChangeRequest } from '../helpers/factories';

const now = new Date('2026-11-25T10:00:00Z');
const queued = (over: Parameters<typeof aChangeRequest>[0] = {}, acceptedAt = now): QueuedRequest => ({
  request: aChangeRequest({ requestedAt: now.toISOString(), ...over }),
  acceptedAt,
});
const at = (s: number) => new Date(now.getTime() + s * 1000).toISOString();
const entry = (requestId: string, s: number) => ({ requestId, acceptedAt: at(s) });

describe('request rules', () => {
  it('admits, defers or refuses by time and window', () => {
    expect(admit(queued(), now)).toEqual({ kind: 'admit' });
    expect(admit(queued({ requestedAt: '2026-11-25T10:06:00Z' }), now)).toMatchObject({
      code: 'implausible-time',
    });
    // Accepted long ago: stale, whatever time it was published with.
    expect(admit(queued({}, new Date('2026-10-01T00:00:00Z')), now)).toMatchObject({ code: 'stale' });
    expect(admit(queued({ window: { notBefore: '2026-11-25T12:00:00Z' } } as never), now)).toEqual({
      kind: 'defer',
      until: '2026-11-25T12:00:00Z',
    });
    expect(admit(queued({ window: { notAfter: '2026-11-25T09:00:00Z' } } as never), now)).toMatchObject({
      code: 'outside-window',
    });
  });

  it('refuses at once a window that opens after the acceptance horizon, or that is too short to be met', () => {
    expect(admit(queued({ window: { notBefore: '2026-12-16T10:00:00Z' } } as never), now)).toMatchObject({
      kind: 'refuse',
      code: 'window-too-late',
    });
    const limits = { maxClockSkewMs: 5 * 60_000, maxAgeMs: 20 * 86_400_000, minWindowMs: 30_000 };
    const short = { notBefore: '2026-11-25T12:00:00Z', notAfter: '2026-11-25T12:00:20Z' };
    expect(admit(queued({ window: short } as never), now, limits)).toMatchObject({
      code: 'window-too-short',
    });
    expect(
      admit(queued({ window: { notAfter: '2026-11-25T10:00:10Z' } } as never), now, limits),
    ).toMatchObject({
      code: 'window-too-short',
    });
    const fine = { notBefore: '2026-11-25T12:00:00Z', notAfter: '2026-11-25T12:05:00Z' };
    expect(admit(queued({ window: fine } as never), now, limits)).toEqual({
      kind: 'defer',
      until: fine.notBefore,
    });
  });

  it('orders by acceptance time, and requests accepted in the same millisecond by request id', () => {
    expect(acceptedBefore(entry('b', 1), entry('a', 2))).toBe(true);
    expect(acceptedBefore(entry('a', 2), entry('b', 1))).toBe(false);
    expect(acceptedBefore(entry('a', 1), entry('b', 1))).toBe(true);
    expect(acceptedBefore(entry('b', 1), entry('a', 1))).toBe(false);
    expect(acceptedBefore(entry('a', 1), entry('a', 1))).toBe(false);
  });

  it('keeps the request accepted last per farm, whatever the order in the batch', () => {
    const a = queued({ requestId: 'a' }, new Date(now.getTime() + 2));
    const b = queued({ requestId: 'b' }, new Date(now.getTime() + 1));
    const c = queued({ requestId: 'c' }, new Date(now.getTime() + 2));
    for (const batch of [
      [a, b, c],
      [c, b, a],
      [b, c, a],
    ]) {
      const { kept, superseded } = latestPerFarm(batch);
      expect(kept.map((q) => q.request.requestId)).toEqual(['c']);
      expect(superseded.map((s) => [s.queued.request.requestId, s.by.request.requestId]).sort()).toEqual([
        ['a', 'c'],
        ['b', 'c'],
      ]);
    }
  });

  describe('orderRequest: the request accepted last wins, now or when its window opens', () => {
    it('lets a request made on a later state of the farm win over one made against an earlier read (a saved plan)', () => {
      // The plan read the farm at 4; an operator's request accepted at 6 waits for its window.
      const waiting = { deferred: { ...entry('operator', 6), until: at(600) } };
      expect(orderRequest(waiting, entry('plan-change', 10), undefined, at(4))).toEqual({
        kind: 'superseded',
        by: { ...entry('operator', 6), until: at(600) },
        waiting: true,
      });
      // Live since the read, too; but a request accepted before the read does not win.
      expect(
        orderRequest({ live: entry('operator', 6) }, entry('plan-change', 10), undefined, at(4)),
      ).toMatchObject({
        kind: 'superseded',
      });
      expect(orderRequest({ live: entry('older', 3) }, entry('plan-change', 10), undefined, at(4))).toEqual({
        kind: 'go',
        next: { live: entry('plan-change', 10) },
      });
    });

    it('refuses a request accepted before the live one, never the live one itself', () => {
      const order = { live: entry('newer', 10) };
      expect(orderRequest(order, entry('older', 5))).toEqual({
        kind: 'superseded',
        by: entry('newer', 10),
        waiting: false,
      });
      expect(orderRequest(order, entry('newer', 10))).toEqual({
        kind: 'go',
        next: { live: entry('newer', 10) },
      });
      expect(orderRequest(undefined, entry('first', 1))).toEqual({
        kind: 'go',
        next: { live: entry('first', 1) },
      });
    });

    it('ends an older deferral when a newer request goes live, and keeps a newer one waiting', () => {
      const waitingOld = { ...entry('deferred-old', 1), until: at(3600) };
      expect(orderRequest({ deferred: waitingOld }, entry('now', 5))).toEqual({
        kind: 'go',
        next: { live: entry('now', 5) },
        cancels: waitingOld,
      });
      const waitingNew = { ...entry('deferred-new', 9), until: at(3600) };
      expect(orderRequest({ deferred: waitingNew }, entry('now', 5))).toEqual({
        kind: 'go',
        next: { live: entry('now', 5), deferred: waitingNew },
      });
    });

    it('lets a deferral fire only while nothing newer went live, and ends an older deferral for a newer one', () => {
      const mine = { ...entry('d', 1), until: at(3600) };
      expect(orderRequest({ deferred: mine }, entry('d', 1))).toEqual({
        kind: 'go',
        next: { live: entry('d', 1) },
      });
      expect(orderRequest({ live: entry('newer', 2), deferred: mine }, entry('d', 1))).toMatchObject({
        kind: 'superseded',
      });
      expect(orderRequest({ deferred: mine }, entry('d2', 2), at(7200))).toEqual({
        kind: 'go',
        next: { deferred: { ...entry('d2', 2), until: at(7200) } },
        cancels: mine,
      });
      expect(
        orderRequest({ deferred: { ...entry('d2', 2), until: at(7200) } }, entry('d', 1), at(3600)),
      ).toEqual({
        kind: 'superseded',
        by: { ...entry('d2', 2), until: at(7200) },
        waiting: true,
      });
    });
  });

  it('retries with a short growing delay, and dead-letters on the last receive', () => {
    expect([1, 2, 3, 4, 7, 20].map(retryDelaySeconds)).toEqual([5, 10, 20, 40, 300, 300]);
    expect(unfinishedDisposition(4, 5)).toBe('retry');
    expect(unfinishedDisposition(5, 5)).toBe('dead-letter');
  });
});
