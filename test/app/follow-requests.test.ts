import { auditDetail, auditEvent } from '../../lib/app/audit';
import { makeFollowRequests } from '../../lib/app/follow-requests';
import { aChangeRequest } from '../helpers/factories';
import { FakeClock, InMemoryIdempotencyStore } from '../helpers/fakes';

describe('followRequests', () => {
  const setup = () => {
    const clock = new FakeClock();
    const idempotency = new InMemoryIdempotencyStore();
    const follow = makeFollowRequests({ idempotency, clock });
    const decide = async (id: string, outcome: 'applied' | 'refused') => {
      await idempotency.claim(id, clock.now(), 60_000, { sentAt: clock.now() });
      await idempotency.decide(
        id,
        {
          events: [
            auditEvent(
              auditDetail(
                { requestId: id, request: aChangeRequest({ requestId: id }), now: clock.now() },
                {
                  outcome,
                  ref: { service: 'lb-a', type: 'http', farmId: 1 },
                  after: 'cookie',
                  ...(outcome === 'refused' ? { code: 'superseded', message: 'newer' } : {}),
                },
              ),
            ),
          ],
        },
        clock.now(),
      );
      await idempotency.complete(id);
    };
    return { clock, idempotency, follow, decide };
  };

  it('waits until every request has its terminal outcome, saying how far it got', async () => {
    const h = setup();
    const seen: string[] = [];
    const sleep = h.clock.sleep;
    let looks = 0;
    h.clock.sleep = async (ms) => {
      looks++;
      if (looks === 1) await h.decide('a', 'applied');
      if (looks === 2) await h.decide('b', 'refused');
      return sleep(ms);
    };
    const out = await h.follow(['a', 'b'], {
      timeoutMs: 60_000,
      pollMs: 500,
      onProgress: (done, total) => seen.push(`${done}/${total}`),
    });
    expect(seen).toEqual(['0/2', '1/2', '2/2']);
    expect(out.get('a')).toMatchObject({ kind: 'ended', terminal: { outcome: 'applied', after: 'cookie' } });
    expect(out.get('b')).toMatchObject({
      kind: 'ended',
      terminal: { outcome: 'refused', code: 'superseded' },
    });
  });

  it('stops at a deferral (its outcome comes when its window opens), and says what is still running when time runs out', async () => {
    const h = setup();
    await h.idempotency.claim('w', h.clock.now(), 60_000, { sentAt: h.clock.now() });
    await h.idempotency.defer('w', '2026-11-25T22:00:00.000Z', h.clock.now(), {
      request: aChangeRequest({ requestId: 'w' }),
      origin: null,
    });
    await h.idempotency.claim('busy', h.clock.now(), 60_000, { sentAt: h.clock.now() });
    const start = h.clock.t;
    const out = await h.follow(['w', 'busy', 'unseen'], { timeoutMs: 10_000, pollMs: 1_000 });
    expect(Object.fromEntries(out)).toEqual({
      w: { kind: 'deferred', until: '2026-11-25T22:00:00.000Z' },
      busy: { kind: 'running', state: 'in-progress' },
      unseen: { kind: 'running' },
    });
    expect(h.clock.t - start).toBeLessThanOrEqual(10_000);
  });

  it('does not call a request ended while its audit events are not yet published (decided, not completed)', async () => {
    const h = setup();
    await h.decide('a', 'applied');
    await h.idempotency.claim('b', h.clock.now(), 60_000, { sentAt: h.clock.now() });
    const events = [
      auditEvent(
        auditDetail(
          { requestId: 'b', request: aChangeRequest({ requestId: 'b' }), now: h.clock.now() },
          { outcome: 'applied', ref: { service: 'lb-a', type: 'http', farmId: 2 }, after: 'cookie' },
        ),
      ),
    ];
    await h.idempotency.decide('b', { events }, h.clock.now());
    const out = await h.follow(['a', 'b'], { timeoutMs: 2_000, pollMs: 1_000 });
    expect(out.get('a')).toMatchObject({ kind: 'ended' });
    expect(out.get('b')).toEqual({ kind: 'running', state: 'decided' });
  });
});
