import { parseCancelBody, parseChangeRequestBody } from '../../lib/adapters/sqs/change-request-record';
import { makeApplyRequests } from '../../lib/app/apply-requests';
import type { IncomingCancel, IncomingRecord } from '../../lib/app/incoming-record';
import { makeProcessCancels } from '../../lib/app/process-cancels';
import { makeProcessChangeRequests } from '../../lib/app/process-change-requests';
import type { ChangeAuditDetail } from '../../lib/domain/audit-events';
import type { CancelRequestedDetail, ChangeRequestedDetail } from '../../lib/domain/events';
import { aChangeRequest } from '../helpers/factories';
import {
  FakeClock,
  InMemoryFarmLedger,
  InMemoryIdempotencyStore,
  InMemoryLoadBalancerApi,
  InMemoryServiceLeases,
  RecordingDeferrals,
  RecordingPublisher,
  silentLog,
} from '../helpers/fakes';

const MINUTE = 60_000;

const setup = () => {
  const clock = new FakeClock();
  const api = new InMemoryLoadBalancerApi(clock).addFarm('lb-a', {
    type: 'http',
    farmId: 1,
    zone: 'gra',
    stored: null,
  });
  const idempotency = new InMemoryIdempotencyStore();
  const ledger = new InMemoryFarmLedger();
  const publisher = new RecordingPublisher();
  const deferrals = new RecordingDeferrals();
  const log = silentLog();
  const common = {
    idempotency,
    ledger,
    deferrals,
    publisher,
    clock,
    log,
    maxReceiveCount: 3,
    claimHoldMs: 15 * MINUTE,
  };
  const changes = makeProcessChangeRequests({
    ...common,
    leases: new InMemoryServiceLeases(),
    applyRequests: makeApplyRequests({ api, clock }),
    applyOptions: { allowForeignPending: false, pollIntervalMs: 10, taskTimeoutMs: 1_000 },
  });
  const cancels = makeProcessCancels(common);
  let n = 0;
  const envelope = (detailType: string, source: string, detail: object) =>
    JSON.stringify({
      version: '0',
      id: `event-${++n}`,
      'detail-type': detailType,
      source,
      account: '123456789012',
      time: clock.now().toISOString(),
      region: 'eu-west-3',
      resources: [],
      detail,
    });
  const request = (detail: Partial<ChangeRequestedDetail>, source = 'acme.deploys'): IncomingRecord => ({
    recordId: `msg-${n + 1}`,
    receiveCount: 1,
    sentAt: clock.now(),
    parsed: parseChangeRequestBody(
      `msg-${n + 1}`,
      envelope('Stickiness Change Requested', source, {
        ...aChangeRequest({ requestedAt: clock.now().toISOString() }),
        ...detail,
      }),
    ),
  });
  const cancel = (
    detail: Partial<CancelRequestedDetail>,
    source = 'acme.deploys',
    receiveCount = 1,
  ): IncomingCancel => ({
    recordId: `msg-${n + 1}`,
    receiveCount,
    sentAt: clock.now(),
    parsed: parseCancelBody(
      `msg-${n + 1}`,
      envelope('Stickiness Change Cancel Requested', source, {
        cancelId: `cancel-${n + 1}`,
        actor: { kind: 'system', id: 'deploy-bot' },
        requestedAt: clock.now().toISOString(),
        ...detail,
      }),
    ),
  });
  const events = () =>
    publisher.published.map((e) => ({ type: e.detailType, ...(e.detail as ChangeAuditDetail) }));
  const notBefore = () => new Date(clock.t + 60 * MINUTE).toISOString();
  return {
    clock,
    api,
    idempotency,
    ledger,
    publisher,
    deferrals,
    changes,
    cancels,
    request,
    cancel,
    events,
    notBefore,
  };
};

describe('processCancels (use case, through in-memory ports)', () => {
  it('cancels a request waiting for its window: Cancelled is its terminal event, its schedule goes, and it changes nothing when it fires anyway', async () => {
    const h = setup();
    const notBefore = h.notBefore();
    const waiting = () => h.request({ requestId: 'w-1', window: { notBefore } });
    await h.changes([waiting()]);
    expect(h.deferrals.scheduled).toHaveLength(1);
    const result = await h.cancels([
      h.cancel({ cancelId: 'c-1', requestId: 'w-1', reason: 'change postponed' }),
    ]);
    expect([...result.fates.values()]).toEqual(['cancelled']);
    expect(
      h
        .events()
        .filter((e) => e.requestId === 'w-1')
        .map((e) => [e.type, e.outcome]),
    ).toEqual([
      ['Stickiness Change Deferred', 'deferred'],
      ['Stickiness Change Cancelled', 'cancelled'],
    ]);
    expect(h.events().at(-1)?.message).toContain('cancelled by deploy-bot');
    expect(h.deferrals.scheduled).toEqual([]);
    expect(h.deferrals.cancelled).toEqual([{ requestId: 'w-1', until: notBefore }]);
    expect(h.ledger.entries.get('lb-a/http/1')?.order.deferred).toBeUndefined();

    h.clock.advance(60 * MINUTE);
    const fired = await h.changes([waiting()]);
    expect([...fired.fates.values()]).toEqual(['duplicate']);
    expect(h.api.calls.setStickiness ?? 0).toBe(0);
    // The same cancel published again does nothing more.
    await h.cancels([h.cancel({ cancelId: 'c-1', requestId: 'w-1', reason: 'change postponed' })]);
    expect(h.events().filter((e) => e.type === 'Stickiness Change Cancelled')).toHaveLength(1);
  });

  it('refuses to cancel what is not waiting, and what another source published', async () => {
    const h = setup();
    await h.changes([h.request({ requestId: 'applied-1' })]);
    await h.changes([
      h.request({ requestId: 'w-2', farmId: 1, window: { notBefore: h.notBefore() } }, 'team.a'),
    ]);
    await h.cancels([
      h.cancel({ cancelId: 'c-2', requestId: 'applied-1' }),
      h.cancel({ cancelId: 'c-3', requestId: 'w-2' }, 'team.b'),
      h.cancel({ cancelId: 'c-4', requestId: 'never-seen' }),
    ]);
    const refused = h.events().filter((e) => e.type === 'Stickiness Change Cancel Refused');
    expect(refused.map((e) => [e.requestId, e.code])).toEqual([
      ['applied-1', 'not-waiting'],
      ['w-2', 'not-allowed'],
      ['never-seen', 'not-waiting'],
    ]);
    expect(h.idempotency.records.get('w-2')?.state).toBe('deferred');
    // stickler's own CLI may cancel it, and so may its own publisher.
    await h.cancels([h.cancel({ cancelId: 'c-5', requestId: 'w-2' }, 'stickler.cli')]);
    expect(h.events().at(-1)).toMatchObject({ type: 'Stickiness Change Cancelled', requestId: 'w-2' });
  });

  it('cancels every waiting request of a withdrawn ticket that the ticket webhook published, and says when nothing waits', async () => {
    const h = setup();
    h.api.addFarm('lb-a', { type: 'http', farmId: 2, zone: 'gra', stored: null });
    const notBefore = h.notBefore();
    const ticketed = (requestId: string, farmId: number) =>
      h.request(
        {
          requestId,
          farmId,
          ticket: 'OPS-7',
          window: { notBefore },
          notify: { kind: 'ticket', system: 'jira' },
        },
        'stickler.ticketing',
      );
    await h.changes([ticketed('t-1', 1), ticketed('t-2', 2)]);
    await h.cancels([
      h.cancel({ cancelId: 'withdraw-1', ticket: { system: 'jira', key: 'OPS-7' } }, 'stickler.ticketing'),
    ]);
    expect(
      h
        .events()
        .filter((e) => e.type === 'Stickiness Change Cancelled')
        .map((e) => e.requestId)
        .sort(),
    ).toEqual(['t-1', 't-2']);
    await h.cancels([
      h.cancel({ cancelId: 'withdraw-2', ticket: { system: 'jira', key: 'OPS-7' } }, 'stickler.ticketing'),
    ]);
    expect(h.events().at(-1)).toMatchObject({
      type: 'Stickiness Change Cancel Refused',
      code: 'nothing-waiting',
    });
  });

  it("lets no other publisher cancel a ticket's requests by ticket (nor speak on the ticket)", async () => {
    const h = setup();
    await h.changes([
      h.request(
        {
          requestId: 't-9',
          ticket: 'OPS-9',
          window: { notBefore: h.notBefore() },
          notify: { kind: 'ticket', system: 'jira' },
        },
        'stickler.ticketing',
      ),
    ]);
    await h.cancels([
      h.cancel({ cancelId: 'by-acme', ticket: { system: 'jira', key: 'OPS-9' } }, 'acme.ops'),
    ]);
    expect(h.events().at(-1)).toMatchObject({
      type: 'Stickiness Change Cancel Refused',
      code: 'not-allowed',
    });
    expect(h.idempotency.records.get('t-9')?.state).toBe('deferred');
    expect(h.events().some((e) => e.type === 'Stickiness Change Cancelled')).toBe(false);
  });

  it('refuses another cancel under a cancelId already used, once, and leaves the first as it was', async () => {
    const h = setup();
    h.api.addFarm('lb-a', { type: 'http', farmId: 2, zone: 'gra', stored: null });
    await h.changes([
      h.request({ requestId: 'e-1', window: { notBefore: h.notBefore() } }),
      h.request({ requestId: 'e-2', farmId: 2, window: { notBefore: h.notBefore() } }),
    ]);
    await h.cancels([h.cancel({ cancelId: 'cx-9', requestId: 'e-1' })]);
    const second = () => h.cancel({ cancelId: 'cx-9', requestId: 'e-2' });
    await h.cancels([second()]);
    await h.cancels([second()]); // delivered again: said once
    const refused = h.events().filter((e) => e.type === 'Stickiness Change Cancel Refused');
    expect(refused.map((e) => e.code)).toEqual(['id-reused']);
    expect(refused[0]?.message).toContain('cancelId cx-9 was first used for another cancel');
    expect(h.idempotency.records.get('e-2')?.state).toBe('deferred');
  });

  it('refuses a malformed cancel with the field that is wrong, once', async () => {
    const h = setup();
    const both = h.cancel({ cancelId: 'c-6', requestId: 'x', ticket: { system: 'jira', key: 'OPS-1' } });
    await h.cancels([both]);
    expect(h.events()).toEqual([
      expect.objectContaining({
        type: 'Stickiness Change Cancel Refused',
        code: 'invalid-cancel',
        message: expect.stringContaining('give either requestId or ticket'),
      }),
    ]);
  });

  it('hands a cancel back while its store is down, and audits it on the last receive', async () => {
    const h = setup();
    await h.changes([h.request({ requestId: 'w-3', window: { notBefore: h.notBefore() } })]);
    h.idempotency.failures.fail('deferred');
    const first = await h.cancels([h.cancel({ cancelId: 'c-7', requestId: 'w-3' })]);
    expect(first.retry).toEqual([{ recordId: expect.any(String), delaySeconds: 5 }]);
    expect(h.idempotency.records.get('~cancel:c-7')?.state).toBe('open');
    const last = await h.cancels([h.cancel({ cancelId: 'c-7', requestId: 'w-3' }, 'acme.deploys', 3)]);
    expect(last.retry).toEqual([]);
    expect(h.events().at(-1)).toMatchObject({
      type: 'Stickiness Change Cancel Refused',
      code: 'dead-lettered',
    });
    h.idempotency.failures.heal('deferred');
    expect(h.idempotency.records.get('w-3')?.state).toBe('deferred');
  });

  it('an older deferral is not taken for superseded by a cancelled newer one', async () => {
    const h = setup();
    const t0 = h.clock.t;
    const older = h.request({ requestId: 'older-w', window: { notBefore: h.notBefore() } });
    older.sentAt = new Date(t0 - 5_000);
    await h.changes([h.request({ requestId: 'newer-w', window: { notBefore: h.notBefore() } })]);
    await h.cancels([h.cancel({ cancelId: 'c-8', requestId: 'newer-w' })]);
    await h.changes([older]);
    expect(h.events().find((e) => e.requestId === 'older-w')).toMatchObject({ outcome: 'deferred' });
  });
});
