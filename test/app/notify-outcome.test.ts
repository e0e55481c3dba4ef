import { makeNotifyOutcome, makeNotifyTicketEdit, outcomeText } from '../../lib/app/notify-outcome';
import { hasUnsafeCharacters } from '../../lib/domain/text';
import { anAuditDetail } from '../helpers/factories';
import { silentLog } from '../helpers/fakes';

const detail = anAuditDetail;

describe('notifyOutcome', () => {
  it('says what happened in words a change manager can act on', () => {
    expect(outcomeText(detail())).toBe(
      'stickler, request r-1: lb-a http/1 (web): stickiness none → cookie, applied in zone gra (OVH task 42) at 2026-11-25T10:01:00.000Z. Sessions of that zone were rebalanced. To undo it: stickler undo r-1 --pipeline (or a change request back to none).',
    );
    expect(
      outcomeText(
        detail({
          outcome: 'refused',
          code: 'invalid-target',
          message: "'cookie' is not allowed on a TCP farm",
        }),
      ),
    ).toContain("refused, nothing was written (invalid-target): 'cookie' is not allowed on a TCP farm");
    expect(
      outcomeText(
        detail({
          outcome: 'failed',
          code: 'refresh-failed',
          message: 'stored but not applied',
          ovhQueryId: 'q-9',
        }),
      ),
    ).toContain('FAILED (refresh-failed, OVH query id q-9): stored but not applied');
  });

  it('says the traffic the refresh cut, known or not, and where a deferral to the quietest slot goes', () => {
    expect(
      outcomeText(
        detail({
          traffic: {
            known: true,
            measuredAt: '2026-11-25T10:01:00.000Z',
            requestsPerSecond: 1780.4,
            connectionsPerSecond: 44.55,
          },
        }),
      ),
    ).toContain(
      'Sessions of that zone were rebalanced. Traffic as the zone was applied: 1,780 req/s, 44.5 conn/s (the whole load balancer, over the 5 minutes before 2026-11-25T10:01:00.000Z). To undo it',
    );
    expect(
      outcomeText(
        detail({ traffic: { known: false, reason: 'OVH offers no metrics (metricsToken: HTTP 404)' } }),
      ),
    ).toContain('Traffic as the zone was applied: unknown (OVH offers no metrics (metricsToken: HTTP 404)).');
    expect(outcomeText(detail())).not.toContain('Traffic');
    expect(
      outcomeText(
        detail({
          outcome: 'deferred',
          code: 'quietest-slot',
          deferredUntil: '2026-11-26T04:00:00.000Z',
          quietest: { at: '2026-11-26T04:00:00.000Z', typicalRequestsPerSecond: 180 },
        }),
      ),
    ).toBe(
      'stickler, request r-1: lb-a http/1 (web): deferred to the quietest 5 minutes of its window by the last 7 days of traffic: 2026-11-26 04:00 UTC (≈ 180 req/s typical for the whole load balancer); it is applied then (2026-11-26T04:00:00.000Z).',
    );
    expect(outcomeText(detail({ outcome: 'deferred', deferredUntil: '2026-11-26T04:00:00.000Z' }))).toContain(
      'waiting for its change window, which opens at 2026-11-26T04:00:00.000Z.',
    );
  });

  it('comments on the ticket through the commenter of its system, and skips what did not ask or has no commenter', async () => {
    const posted: [string, string][] = [];
    const notify = makeNotifyOutcome({
      commenters: { jira: { comment: async (t, text) => void posted.push([t, text]) } },
      log: silentLog(),
    });
    expect(await notify(detail())).toBe('posted');
    expect(posted[0]?.[0]).toBe('OPS-1');
    expect(await notify(detail({ notify: null }))).toBe('skipped');
    expect(
      await notify(detail({ ticket: 'CHG0030001', notify: { kind: 'ticket', system: 'servicenow' } })),
    ).toBe('skipped');
    expect(await notify(detail({ ticket: null }))).toBe('skipped');
    expect(posted).toHaveLength(1);
  });

  it("refuses, once and without retry, a ticket outcome that stickler's ticket webhook did not publish, or for a key of another system", async () => {
    const posted: string[] = [];
    const log = silentLog();
    const notify = makeNotifyOutcome({
      commenters: {
        jira: { comment: async (t) => void posted.push(t) },
        servicenow: { comment: async (t) => void posted.push(t) },
      },
      log,
    });
    // A bus publisher's request naming PAYROLL-7: its origin is the publisher's source.
    const forged = detail({
      ticket: 'PAYROLL-7',
      origin: { source: 'payroll.app', account: '123456789012', eventId: 'e-9' },
    });
    expect(await notify(forged)).toBe('refused');
    expect(await notify(detail({ origin: null }))).toBe('refused');
    expect(await notify(detail({ origin: { source: 'stickler.slack', account: '1', eventId: 'e' } }))).toBe(
      'refused',
    );
    // A Jira key sent to ServiceNow, a path in a key.
    expect(await notify(detail({ notify: { kind: 'ticket', system: 'servicenow' } }))).toBe('refused');
    expect(await notify(detail({ ticket: '../../rest/api/3/myself' }))).toBe('refused');
    expect(posted).toEqual([]);
    expect(log.lines.filter((l) => l.level === 'warn')).toHaveLength(5);
  });

  it('never lets an outcome carry control or bidi characters from outside', () => {
    const text = outcomeText(
      detail({ outcome: 'failed', message: 'bad [code]<img src=x onerror=alert(1)>[/code]\u001b[2J\u202e' }),
    );
    expect(hasUnsafeCharacters(text)).toBe(false);
  });

  it("tells a ticket that an edit after approval is not carried out, only for notices of stickler's ticket webhook", async () => {
    const posted: [string, string][] = [];
    const notify = makeNotifyTicketEdit({
      commenters: { jira: { comment: async (t, text) => void posted.push([t, text]) } },
      log: silentLog(),
    });
    const notice = {
      schemaVersion: 2 as const,
      auditId: 'ticket-edit:jira:OPS-1:abc',
      system: 'jira' as const,
      ticket: 'OPS-1',
      message: 'edited after it was approved',
      ignoredAt: '2026-11-25T10:00:00Z',
    };
    expect(await notify(notice, 'stickler.ticketing')).toBe('posted');
    expect(await notify(notice, 'payroll.app')).toBe('refused');
    expect(await notify({ ...notice, ticket: '../x' }, 'stickler.ticketing')).toBe('refused');
    expect(
      await notify({ ...notice, system: 'servicenow', ticket: 'CHG0000001' }, 'stickler.ticketing'),
    ).toBe('skipped');
    expect(posted).toEqual([['OPS-1', 'edited after it was approved']]);
  });

  it('lets a commenter failure through, so the event is retried and then dead-lettered', async () => {
    const notify = makeNotifyOutcome({
      commenters: { jira: { comment: async () => Promise.reject(new Error('site down')) } },
      log: silentLog(),
    });
    await expect(notify(detail())).rejects.toThrow('site down');
  });
});
