import { makeNotifyOutcome, outcomeText } from '../../lib/app/notify-outcome';
import { anAuditDetail } from '../helpers/factories';
import { silentLog } from '../helpers/fakes';

const detail = anAuditDetail;

describe('notifyOutcome', () => {
  it('says what happened in words a change manager can act on', () => {
    expect(outcomeText(detail())).toBe(
      'stickler, request r-1: lb-a http/1 (web): stickiness none → cookie, applied in zone gra (OVH task 42) at 2026-11-25T10:01:00.000Z. Sessions of that zone were rebalanced.',
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

  it('comments on the ticket through the commenter of its system, and skips what did not ask or has no commenter', async () => {
    const posted: [string, string][] = [];
    const notify = makeNotifyOutcome({
      commenters: { jira: { comment: async (t, text) => void posted.push([t, text]) } },
      log: silentLog(),
    });
    expect(await notify(detail())).toBe('posted');
    expect(posted[0]?.[0]).toBe('OPS-1');
    expect(await notify(detail({ notify: null }))).toBe('skipped');
    expect(await notify(detail({ notify: { kind: 'ticket', system: 'servicenow' } }))).toBe('skipped');
    expect(await notify(detail({ ticket: null }))).toBe('skipped');
    expect(posted).toHaveLength(1);
  });

  it('lets a commenter failure through, so the event is retried and then dead-lettered', async () => {
    const notify = makeNotifyOutcome({
      commenters: { jira: { comment: async () => Promise.reject(new Error('site down')) } },
      log: silentLog(),
    });
    await expect(notify(detail())).rejects.toThrow('site down');
  });
});
