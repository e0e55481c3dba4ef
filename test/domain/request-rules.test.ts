import {
  admit,
  isSupersededBy,
  latestPerFarm,
  type QueuedRequest,
  retryDelaySeconds,
  unfinishedDisposition,
} from '../../lib/domain/request-rules';
import { aChangeRequest } from '../helpers/factories';

const now = new Date('2026-11-25T10:00:00Z');
const queued = (over: Parameters<typeof aChangeRequest>[0] = {}, sentAt = now): QueuedRequest => ({
  request: aChangeRequest({ requestedAt: now.toISOString(), ...over }),
  sentAt,
});

describe('request rules', () => {
  it('admits, defers or refuses by time and window', () => {
    expect(admit(queued(), now)).toEqual({ kind: 'admit' });
    expect(admit(queued({ requestedAt: '2026-11-25T10:06:00Z' }), now)).toMatchObject({
      code: 'implausible-time',
    });
    expect(admit(queued({}, new Date('2026-10-01T00:00:00Z')), now)).toMatchObject({ code: 'stale' });
    expect(admit(queued({ window: { notBefore: '2026-11-25T12:00:00Z' } } as never), now)).toEqual({
      kind: 'defer',
      until: '2026-11-25T12:00:00Z',
    });
    expect(admit(queued({ window: { notAfter: '2026-11-25T09:00:00Z' } } as never), now)).toMatchObject({
      code: 'outside-window',
    });
  });

  it('keeps the request the queue received last per farm; a tie goes to the later in the batch', () => {
    const a = queued({ requestId: 'a' }, new Date(now.getTime() + 2));
    const b = queued({ requestId: 'b' }, new Date(now.getTime() + 1));
    const c = queued({ requestId: 'c' }, new Date(now.getTime() + 2));
    const { kept, superseded } = latestPerFarm([a, b, c]);
    expect(kept.map((q) => q.request.requestId)).toEqual(['c']);
    expect(superseded.map((s) => [s.queued.request.requestId, s.by.request.requestId])).toEqual([
      ['a', 'c'],
      ['b', 'c'],
    ]);
  });

  it('supersedes only by a different request queued strictly later', () => {
    const q = queued({ requestId: 'x' });
    expect(isSupersededBy(q, undefined)).toBe(false);
    expect(isSupersededBy(q, { requestId: 'x', sentAt: '2099-01-01T00:00:00Z' })).toBe(false);
    expect(isSupersededBy(q, { requestId: 'y', sentAt: now.toISOString() })).toBe(false);
    expect(isSupersededBy(q, { requestId: 'y', sentAt: '2026-11-25T10:00:01Z' })).toBe(true);
  });

  it('retries with a short growing delay, and dead-letters on the last receive', () => {
    expect([1, 2, 3, 4, 7, 20].map(retryDelaySeconds)).toEqual([5, 10, 20, 40, 300, 300]);
    expect(unfinishedDisposition(4, 5)).toBe('retry');
    expect(unfinishedDisposition(5, 5)).toBe('dead-letter');
  });
});
