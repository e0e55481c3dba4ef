import { parseChangeRequestBody } from '../../lib/adapters/sqs/change-request-record';
import type { ApplyOptions } from '../../lib/app/apply-plan';
import { makeApplyRequests } from '../../lib/app/apply-requests';
import { type IncomingRecord, makeProcessChangeRequests } from '../../lib/app/process-change-requests';
import { cliRequestId, cliRunGroup } from '../../lib/app/request-groups';
import {
  type ChangeAuditDetail,
  ChangeAuditDetailSchema,
  ZoneAppliedDetailSchema,
} from '../../lib/domain/audit-events';
import type { ChangeRequestedDetail } from '../../lib/domain/events';
import { DEFAULT_TIME_LIMITS, type TimeLimits } from '../../lib/domain/request-rules';
import type { LoadBalancerTraffic } from '../../lib/ports/load-balancer-traffic';
import { aChangeRequest } from '../helpers/factories';
import {
  FakeClock,
  FakeTraffic,
  InMemoryFarmLedger,
  InMemoryIdempotencyStore,
  InMemoryLoadBalancerApi,
  InMemoryServiceLeases,
  InMemoryZoneSlots,
  RecordingDeferrals,
  RecordingPublisher,
  silentLog,
} from '../helpers/fakes';

const MINUTE = 60_000;

const setup = (
  applyOptions: Partial<ApplyOptions> = {},
  {
    slots,
    ...extra
  }: {
    leaseWaitMs?: number;
    traffic?: LoadBalancerTraffic;
    timeLimits?: TimeLimits;
    slots?: InMemoryZoneSlots;
  } = {},
) => {
  const clock = new FakeClock();
  const api = new InMemoryLoadBalancerApi(clock)
    .addFarm('lb-a', { type: 'http', farmId: 1, zone: 'gra', stored: null })
    .addFarm('lb-a', { type: 'http', farmId: 2, zone: 'sbg', stored: null })
    .addFarm('lb-a', { type: 'tcp', farmId: 3, zone: 'gra', stored: null });
  const idempotency = new InMemoryIdempotencyStore();
  const ledger = new InMemoryFarmLedger();
  const publisher = new RecordingPublisher();
  const deferrals = new RecordingDeferrals();
  const log = silentLog();
  const leases = new InMemoryServiceLeases();
  const deps = {
    leases,
    applyRequests: makeApplyRequests({ api, clock }),
    publisher,
    idempotency,
    ledger,
    deferrals,
    clock,
    log,
    applyOptions: { allowForeignPending: false, pollIntervalMs: 10, taskTimeoutMs: 1_000, ...applyOptions },
    maxReceiveCount: 3,
    claimHoldMs: 15 * MINUTE,
    ...(slots ? { zoneSlots: { store: slots, farms: api } } : {}),
    ...extra,
  };
  const process = makeProcessChangeRequests(deps);
  let n = 0;
  /** A queued record as SQS would deliver it: the request in an EventBridge envelope. */
  const record = (
    detail: Partial<ChangeRequestedDetail> | Record<string, unknown>,
    opts: { sentAt?: number; receiveCount?: number; extra?: Record<string, unknown> } = {},
  ): IncomingRecord => {
    n++;
    const body = JSON.stringify({
      version: '0',
      id: `event-${n}`,
      'detail-type': 'Stickiness Change Requested',
      source: 'acme.ticketing',
      account: '123456789012',
      time: clock.now().toISOString(),
      region: 'eu-west-3',
      resources: [],
      detail: { ...aChangeRequest({ requestedAt: clock.now().toISOString() }), ...detail },
      ...opts.extra,
    });
    return {
      recordId: `msg-${n}`,
      receiveCount: opts.receiveCount ?? 1,
      sentAt: new Date(opts.sentAt ?? clock.t),
      parsed: parseChangeRequestBody(`msg-${n}`, body),
    };
  };
  const audits = () =>
    publisher.published
      .filter((e) => 'outcome' in e.detail)
      .map((e) => ({ type: e.detailType, ...(e.detail as ChangeAuditDetail) }));
  return {
    clock,
    api,
    idempotency,
    ledger,
    publisher,
    deferrals,
    leases,
    log,
    process,
    record,
    audits,
    deps,
  };
};

describe('processChangeRequests (use case, through in-memory ports)', () => {
  // Every audit event built here must fit the published contract.
  const valid = (details: ChangeAuditDetail[]) => {
    for (const d of details) expect(ChangeAuditDetailSchema.safeParse(d).error?.issues).toBeUndefined();
  };

  it('applies a request, audits it with where it came from, and stamps the real decision time', async () => {
    const h = setup();
    const start = h.clock.t;
    const getFarm = h.api.getFarm.bind(h.api);
    h.api.getFarm = async (ref) => {
      h.clock.advance(7 * MINUTE); // OVH is slow today
      return getFarm(ref);
    };
    const result = await h.process([h.record({ requestId: 'r-1' })]);
    expect(result.retry).toEqual([]);
    const [a] = h.audits();
    expect(a).toMatchObject({
      requestId: 'r-1',
      outcome: 'applied',
      schemaVersion: 2,
      auditId: 'r-1:applied',
      origin: { source: 'acme.ticketing', account: '123456789012', eventId: 'event-1' },
    });
    expect(Date.parse(a!.decidedAt)).toBeGreaterThanOrEqual(start + 7 * MINUTE);
    const zone = h.publisher.published.find((e) => e.detailType === 'Zone Configuration Applied')!;
    expect(Date.parse((zone.detail as { appliedAt: string }).appliedAt)).toBeGreaterThanOrEqual(
      start + 7 * MINUTE,
    );
    valid(h.audits());
  });

  it("records each request under its ticket and, for the CLI's own source, its operator's run (an id naming its farm)", async () => {
    const h = setup();
    const farm2 = { service: 'lb-a', type: 'http' as const, farmId: 2 };
    const farm3 = { service: 'lb-a', type: 'http' as const, farmId: 3 };
    await h.process([
      h.record({ requestId: 'ticketed', ticket: 'OPS-42', farmId: 1 }),
      // An id shaped like a CLI run's, from another publisher: never put in that run.
      h.record({ requestId: cliRequestId('run1', farm2), farmId: 2 }),
      h.record({ requestId: cliRequestId('run2', farm3), farmId: 3 }, { extra: { source: 'stickler.cli' } }),
      // From the CLI's source, but its id names another farm than its own: in no run.
      h.record({ requestId: cliRequestId('run3', farm2), farmId: 4 }, { extra: { source: 'stickler.cli' } }),
    ]);
    expect([...h.idempotency.groups.entries()].map(([g, m]) => [g, [...m]])).toEqual([
      ['ticket:OPS-42', ['ticketed']],
      [cliRunGroup('ops', 'run2'), [cliRequestId('run2', farm3)]],
    ]);
  });

  it("names the approved saved plan (its digest) in every audit event of a plan's request, and no other's", async () => {
    const h = setup();
    const plan = 'ab'.repeat(32);
    const notBefore = new Date(h.clock.t + 60 * MINUTE).toISOString();
    await h.process([
      h.record({ requestId: 'p-1', farmId: 1, plan, ifStores: 'none', window: { notBefore } }),
      // The farm stores none, not the sourceIp the plan read: refused changed-since, nothing written.
      h.record({ requestId: 'p-2', farmId: 2, plan, ifStores: 'sourceIp' }),
      h.record({ requestId: 'plain', farmType: 'tcp', farmId: 3, stickiness: 'sourceIp' }),
    ]);
    h.clock.advance(61 * MINUTE);
    await h.process([
      h.record({ requestId: 'p-1', farmId: 1, plan, ifStores: 'none', window: { notBefore } }),
    ]);
    expect(h.audits().map((a) => [a.requestId, a.outcome, a.code, a.plan])).toEqual(
      expect.arrayContaining([
        ['p-1', 'deferred', expect.anything(), plan],
        ['p-2', 'refused', 'changed-since', plan],
        ['plain', 'applied', null, undefined],
        ['p-1', 'applied', null, plan],
      ]),
    );
    expect(h.audits()).toHaveLength(4);
    expect(h.api.calls.setStickiness ?? 0).toBe(2);
    valid(h.audits());
  });

  describe('a publisher clock never decides order', () => {
    it('refuses a request dated in the future, and a later request for the farm still applies', async () => {
      const h = setup();
      await h.process([
        h.record({ requestId: 'from-2099', requestedAt: '2099-01-01T00:00:00Z', stickiness: 'sourceIp' }),
      ]);
      expect(h.audits()).toEqual([
        expect.objectContaining({ requestId: 'from-2099', outcome: 'refused', code: 'implausible-time' }),
      ]);
      expect(h.api.calls.setStickiness ?? 0).toBe(0);
      expect(h.ledger.entries.size).toBe(0);

      h.clock.advance(MINUTE);
      await h.process([h.record({ requestId: 'today', stickiness: 'cookie' })]);
      expect(h.audits().at(-1)).toMatchObject({ requestId: 'today', outcome: 'applied' });
    });

    it('accepts a publisher clock a little ahead (within 5 minutes)', async () => {
      const h = setup();
      const ahead = new Date(h.clock.t + 4 * MINUTE).toISOString();
      await h.process([h.record({ requestId: 'skewed', requestedAt: ahead })]);
      expect(h.audits()[0]).toMatchObject({ outcome: 'applied' });
    });

    it('refuses a request older than the worker accepts', async () => {
      const h = setup();
      const old = h.clock.t - 21 * 24 * 60 * MINUTE;
      await h.process([h.record({ requestId: 'old', requestedAt: new Date(old).toISOString() })]);
      expect(h.audits()[0]).toMatchObject({ outcome: 'refused', code: 'stale' });
      expect(h.api.calls.setStickiness ?? 0).toBe(0);
    });

    it('orders two requests for one farm by when the queue received them, not by requestedAt', async () => {
      const h = setup();
      // The first publisher's clock is 3 minutes fast: its request looks newer but was sent first.
      const fast = new Date(h.clock.t + 3 * MINUTE).toISOString();
      const first = h.record(
        { requestId: 'sent-first', stickiness: 'cookie', requestedAt: fast },
        { sentAt: h.clock.t },
      );
      const second = h.record(
        { requestId: 'sent-second', stickiness: 'sourceIp' },
        { sentAt: h.clock.t + 1_000 },
      );
      await h.process([second, first]);
      expect(h.api.farm({ service: 'lb-a', type: 'http', farmId: 1 })?.stored).toBe('sourceIp');
      expect(h.audits().find((a) => a.requestId === 'sent-first')).toMatchObject({ code: 'superseded' });
    });

    it('refuses an older request delivered after a newer one was carried out (the ledger, by queue time)', async () => {
      const h = setup();
      await h.process([h.record({ requestId: 'newer', stickiness: 'none' }, { sentAt: h.clock.t })]);
      const late = h.record(
        { requestId: 'older', stickiness: 'cookie', requestedAt: new Date(h.clock.t + MINUTE).toISOString() },
        { sentAt: h.clock.t - 5_000 },
      );
      await h.process([late]);
      expect(h.audits().find((a) => a.requestId === 'older')).toMatchObject({
        outcome: 'refused',
        code: 'superseded',
        message: expect.stringContaining('superseded by request newer'),
      });
      expect(h.api.calls.setStickiness ?? 0).toBe(0);
    });
  });

  it('refuses a misspelled safety field with its name, and writes nothing', async () => {
    const h = setup();
    const result = await h.process([
      h.record({ requestId: 'typo', changeWindow: { notBefore: '2026-11-25T22:00:00Z' } }),
    ]);
    expect(result.retry).toEqual([]);
    expect(h.audits()).toEqual([
      expect.objectContaining({
        requestId: 'typo',
        outcome: 'refused',
        code: 'invalid-request',
        message: expect.stringContaining("unknown key 'changeWindow'"),
      }),
    ]);
    expect(h.api.calls.getFarm ?? 0).toBe(0);
  });

  it('refuses an archive replay without touching OVH', async () => {
    const h = setup();
    await h.process([h.record({ requestId: 'replayed' }, { extra: { 'replay-name': 'rp-1' } })]);
    expect(h.audits()).toEqual([expect.objectContaining({ outcome: 'refused', code: 'replayed' })]);
    expect(h.api.calls.getFarm ?? 0).toBe(0);
  });

  it('refuses a malformed request and audits it within EventBridge limits, and still applies and audits a valid one beside it', async () => {
    const h = setup();
    const huge = h.record({ requestId: 'huge', reason: 'x'.repeat(250 * 1024), farmId: 'one' });
    const fine = h.record({ requestId: 'fine', farmId: 2 });
    const result = await h.process([huge, fine]);
    expect(result.retry).toEqual([]);
    expect(h.audits().map((a) => [a.requestId, a.outcome])).toEqual(
      expect.arrayContaining([
        ['huge', 'refused'],
        ['fine', 'applied'],
      ]),
    );
    for (const e of h.publisher.published) expect(JSON.stringify(e.detail).length).toBeLessThan(16 * 1024);
  });

  describe('change windows', () => {
    it('defers a request whose window has not opened, and carries it out when the schedule brings it back', async () => {
      const h = setup();
      const notBefore = new Date(h.clock.t + 60 * MINUTE).toISOString();
      const early = h.record({ requestId: 'w-1', window: { notBefore } });
      const first = await h.process([early]);
      expect(first.retry).toEqual([]);
      expect(first.fates.get(early.recordId)).toBe('deferred');
      expect(h.deferrals.scheduled).toEqual([
        expect.objectContaining({ requestId: 'w-1', until: notBefore, source: 'acme.ticketing' }),
      ]);
      expect(h.audits()).toEqual([
        expect.objectContaining({
          type: 'Stickiness Change Deferred',
          outcome: 'deferred',
          deferredUntil: notBefore,
        }),
      ]);
      expect(h.api.calls.getFarm ?? 0).toBe(0);

      // The publisher sends it again before the window: nothing happens, nothing is said.
      h.clock.advance(10 * MINUTE);
      const again = await h.process([h.record({ requestId: 'w-1', window: { notBefore } })]);
      expect([...again.fates.values()]).toEqual(['duplicate']);
      expect(h.audits()).toHaveLength(1);

      // The schedule puts it back on the bus when the window opens.
      h.clock.advance(50 * MINUTE);
      await h.process([h.record({ requestId: 'w-1', window: { notBefore } })]);
      expect(h.audits().at(-1)).toMatchObject({ requestId: 'w-1', outcome: 'applied' });
    });

    it('holds a request whose window opens within seconds in the queue rather than scheduling it', async () => {
      const h = setup();
      const notBefore = new Date(h.clock.t + 3_000).toISOString();
      const result = await h.process([h.record({ requestId: 'w-2', window: { notBefore } })]);
      expect(result.retry).toEqual([{ recordId: 'msg-1', delaySeconds: 3 }]);
      expect(h.deferrals.scheduled).toEqual([]);
      expect(h.audits()).toEqual([]);
    });

    it('hands a request back when it cannot be deferred, and never loses it', async () => {
      const h = setup();
      h.deferrals.failures.fail('schedule');
      const notBefore = new Date(h.clock.t + 60 * MINUTE).toISOString();
      const result = await h.process([h.record({ requestId: 'w-3', window: { notBefore } })]);
      expect(result.retry).toEqual([{ recordId: 'msg-1', delaySeconds: 5 }]);
      expect(h.idempotency.records.get('w-3')?.state).toBe('open');
      h.deferrals.failures.heal('schedule');
      await h.process([h.record({ requestId: 'w-3', window: { notBefore } }, { receiveCount: 2 })]);
      expect(h.deferrals.scheduled).toHaveLength(1);
    });

    it('refuses a request whose window has closed, and says a new request id is needed', async () => {
      const h = setup();
      const notAfter = new Date(h.clock.t - MINUTE).toISOString();
      await h.process([h.record({ requestId: 'w-4', window: { notAfter } })]);
      expect(h.audits()[0]).toMatchObject({
        outcome: 'refused',
        code: 'outside-window',
        message: expect.stringContaining('new requestId'),
      });
    });
  });

  describe("someone else's unapplied changes in a zone (a second operator mid-apply)", () => {
    it('hands the request back without writing, then applies once their changes are applied', async () => {
      const h = setup({ foreignPending: 'retry' });
      const theirs = { service: 'lb-a', type: 'tcp' as const, farmId: 3 };
      await h.api.setStickiness(theirs, 'sourceIp'); // stored, not applied: zone gra holds it
      const first = await h.process([h.record({ requestId: 'f-1', farmId: 1, stickiness: 'cookie' })]);
      expect(first.retry).toEqual([{ recordId: 'msg-1', delaySeconds: 5 }]);
      expect(h.audits()).toEqual([]);
      expect(h.api.farm({ service: 'lb-a', type: 'http', farmId: 1 })!.stored).toBeNull();
      expect(h.api.refreshes).toEqual([]);
      h.api.farm(theirs)!.applied = 'sourceIp'; // their refresh ran
      await h.process([h.record({ requestId: 'f-1', farmId: 1, stickiness: 'cookie' }, { receiveCount: 2 })]);
      expect(h.audits()).toEqual([expect.objectContaining({ requestId: 'f-1', outcome: 'applied' })]);
      valid(h.audits());
    });

    it('reports the reason on the last receive when their changes are never applied', async () => {
      const h = setup({ foreignPending: 'retry' });
      await h.api.setStickiness({ service: 'lb-a', type: 'tcp', farmId: 3 }, 'sourceIp');
      const last = await h.process([
        h.record({ requestId: 'f-2', farmId: 1, stickiness: 'cookie' }, { receiveCount: 3 }),
      ]);
      expect(last.retry).toEqual([{ recordId: 'msg-1', delaySeconds: 0 }]);
      expect(h.audits()).toEqual([
        expect.objectContaining({
          requestId: 'f-2',
          outcome: 'failed',
          message: expect.stringContaining('unapplied change(s) that this run did not make'),
        }),
      ]);
      valid(h.audits());
    });

    it('at a terminal (the default), refuses at once, leaving the decision to the operator', async () => {
      const h = setup();
      await h.api.setStickiness({ service: 'lb-a', type: 'tcp', farmId: 3 }, 'sourceIp');
      await h.process([h.record({ requestId: 'f-3', farmId: 1, stickiness: 'cookie' })]);
      expect(h.audits()).toEqual([expect.objectContaining({ outcome: 'refused', code: 'foreign-pending' })]);
    });
  });

  describe('nothing reaches the dead-letter queue without an audit event', () => {
    it('audits a request whose claim fails on its last receive', async () => {
      const h = setup();
      h.idempotency.failures.fail('claim');
      const early = await h.process([h.record({ requestId: 'c-1' }, { receiveCount: 1 })]);
      expect(early.retry).toEqual([{ recordId: 'msg-1', delaySeconds: 5 }]);
      expect(h.audits()).toEqual([]);
      const last = await h.process([h.record({ requestId: 'c-1' }, { receiveCount: 3 })]);
      expect(last.retry).toEqual([{ recordId: 'msg-2', delaySeconds: 0 }]);
      expect(h.audits()).toEqual([
        expect.objectContaining({
          requestId: 'c-1',
          outcome: 'failed',
          code: 'dead-lettered',
          message: expect.stringContaining('could not be claimed'),
        }),
      ]);
      valid(h.audits());
    });

    it('audits a request held by another invocation on its last receive, and leaves that claim alone', async () => {
      const h = setup();
      await h.idempotency.claim('c-2', h.clock.now(), 15 * MINUTE, { sentAt: h.clock.now() });
      const last = await h.process([h.record({ requestId: 'c-2' }, { receiveCount: 3 })]);
      expect(last.retry).toEqual([{ recordId: 'msg-1', delaySeconds: 0 }]);
      expect(h.audits()[0]).toMatchObject({
        code: 'dead-lettered',
        message: expect.stringContaining('another invocation'),
      });
      expect(h.idempotency.records.get('c-2')?.state).toBe('in-progress');
    });

    it('audits requests whose farm ledger cannot be read on their last receive, and ends their claims dead-lettered (acceptance time kept)', async () => {
      const h = setup();
      h.ledger.failures.fail('read');
      const last = await h.process([h.record({ requestId: 'l-1' }, { receiveCount: 3 })]);
      expect(last.retry).toEqual([{ recordId: 'msg-1', delaySeconds: 0 }]);
      expect(h.audits()[0]).toMatchObject({
        code: 'dead-lettered',
        message: expect.stringContaining('ledger'),
      });
      expect(h.idempotency.records.get('l-1')).toMatchObject({
        state: 'dead-lettered',
        acceptedAt: h.clock.t,
      });
      expect(h.api.calls.getFarm ?? 0).toBe(0);
    });

    it('audits a request whose OVH failure outlasts its receives, then a redrive carries it out', async () => {
      const h = setup();
      h.api.failures.fail('getFarm');
      const first = await h.process([h.record({ requestId: 'o-1' })]);
      expect(first.retry).toEqual([{ recordId: 'msg-1', delaySeconds: 5 }]);
      const last = await h.process([h.record({ requestId: 'o-1' }, { receiveCount: 3 })]);
      expect(last.fates.get('msg-2')).toBe('dead-letter');
      expect(h.audits()).toEqual([
        expect.objectContaining({ outcome: 'failed', code: 'dead-lettered', retryable: true }),
      ]);
      h.api.failures.heal('getFarm');
      await h.process([h.record({ requestId: 'o-1' })]);
      expect(h.audits().at(-1)).toMatchObject({ outcome: 'applied' });
    });
  });

  it("hands a record back when its farm's order cannot be written, before any write to OVH, and the retry carries it out", async () => {
    const h = setup();
    h.ledger.failures.fail('write');
    const first = await h.process([h.record({ requestId: 'lw-1' })]);
    expect(first.retry).toEqual([{ recordId: 'msg-1', delaySeconds: 5 }]);
    expect(first.fates.get('msg-1')).toBe('retry');
    expect(h.audits()).toEqual([]);
    expect(h.api.calls.getFarm ?? 0).toBe(0);

    h.ledger.failures.heal('write');
    const retry = await h.process([h.record({ requestId: 'lw-1' }, { receiveCount: 2 })]);
    expect(retry.retry).toEqual([]);
    expect(h.ledger.live('lb-a/http/1')).toBe('lw-1');
    expect(h.audits()).toEqual([expect.objectContaining({ requestId: 'lw-1', outcome: 'applied' })]);
    expect(h.idempotency.records.get('lw-1')?.state).toBe('completed');
  });

  it('keeps a decided outcome whose events cannot be published, and publishes it later without applying again', async () => {
    const h = setup();
    h.publisher.refuse = () => true;
    const first = await h.process([h.record({ requestId: 'p-1' })]);
    expect(first.fates.get('msg-1')).toBe('audit-pending');
    expect(h.idempotency.records.get('p-1')?.state).toBe('decided');
    h.publisher.refuse = () => false;
    const retry = await h.process([h.record({ requestId: 'p-1' }, { receiveCount: 2 })]);
    expect(retry.retry).toEqual([]);
    expect(h.audits()).toEqual([expect.objectContaining({ requestId: 'p-1', outcome: 'applied' })]);
    expect(h.api.calls.setStickiness).toBe(1);
  });

  describe('one invocation at a time per load balancer', () => {
    it('hands back the requests of a service another invocation holds, with a short delay, and applies the others', async () => {
      const h = setup();
      h.api.addFarm('lb-b', { type: 'http', farmId: 9, zone: 'rbx', stored: null });
      h.leases.held.set('lb-a', { owner: 'someone-else', until: h.clock.t + 15 * MINUTE });
      const result = await h.process([
        h.record({ requestId: 'busy', service: 'lb-a' }),
        h.record({ requestId: 'free', service: 'lb-b', farmId: 9 }),
      ]);
      expect(result.retry).toEqual([{ recordId: 'msg-1', delaySeconds: 5 }]);
      expect(h.api.refreshes).toEqual([{ service: 'lb-b', zone: 'rbx' }]);
      expect(h.idempotency.records.get('busy')?.state).toBe('open'); // claim released for the retry
      expect(h.leases.held.has('lb-b')).toBe(false); // released once applied
      expect(h.leases.held.get('lb-a')?.owner).toBe('someone-else');
    });

    it('waits for a release when another invocation holds every load balancer of the batch, then applies', async () => {
      const h = setup({}, { leaseWaitMs: MINUTE });
      const start = h.clock.t;
      h.leases.held.set('lb-a', { owner: 'someone-else', until: start + 15 * MINUTE });
      const acquire = h.leases.acquire.bind(h.leases);
      let tries = 0;
      h.leases.acquire = async (...args) => {
        if (++tries === 4) h.leases.held.delete('lb-a'); // the other batch is done
        return acquire(...args);
      };
      const result = await h.process([h.record({ requestId: 'patient' })]);
      expect(result.retry).toEqual([]);
      expect(h.audits()).toEqual([expect.objectContaining({ requestId: 'patient', outcome: 'applied' })]);
      expect(tries).toBe(4);
      expect(h.clock.t - start).toBeLessThan(5_000); // 250 + 500 + 1000 ms of waits, then the apply
    });

    it('hands the batch back once the wait is over, after a bounded number of looks', async () => {
      const h = setup({}, { leaseWaitMs: MINUTE });
      h.leases.held.set('lb-a', { owner: 'someone-else', until: h.clock.t + 15 * MINUTE });
      const acquire = h.leases.acquire.bind(h.leases);
      let tries = 0;
      h.leases.acquire = async (...args) => {
        tries++;
        return acquire(...args);
      };
      const start = h.clock.t;
      const result = await h.process([h.record({ requestId: 'busy' })]);
      expect(result.retry).toEqual([{ recordId: 'msg-1', delaySeconds: 5 }]);
      expect(h.clock.t - start).toBeLessThanOrEqual(MINUTE);
      expect(tries).toBeLessThan(20);
      expect(h.api.calls.getFarm ?? 0).toBe(0);
    });

    it('applies the load balancers it could lease first, then gives the busy one a second round', async () => {
      const h = setup({}, { leaseWaitMs: MINUTE });
      h.api.addFarm('lb-b', { type: 'http', farmId: 9, zone: 'rbx', stored: null });
      h.leases.held.set('lb-a', { owner: 'someone-else', until: h.clock.t + 15 * MINUTE });
      // The other batch finishes with lb-a while this one applies lb-b.
      const refresh = h.api.refresh.bind(h.api);
      h.api.refresh = async (...args) => {
        if (args[0] === 'lb-b') h.leases.held.delete('lb-a');
        return refresh(...args);
      };
      const start = h.clock.t;
      const result = await h.process([
        h.record({ requestId: 'busy', service: 'lb-a' }),
        h.record({ requestId: 'free', service: 'lb-b', farmId: 9 }),
      ]);
      expect(result.retry).toEqual([]);
      expect(h.api.refreshes).toEqual([
        { service: 'lb-b', zone: 'rbx' },
        { service: 'lb-a', zone: 'gra' },
      ]);
      expect(h.audits().map((a) => [a.requestId, a.outcome])).toEqual([
        ['free', 'applied'],
        ['busy', 'applied'],
      ]);
      expect(h.clock.t - start).toBeLessThan(5_000);
      expect(h.leases.held.size).toBe(0);
    });

    it('hands back what its second round still finds held: no record is ever left without a fate', async () => {
      const h = setup({}, { leaseWaitMs: MINUTE });
      h.api.addFarm('lb-b', { type: 'http', farmId: 9, zone: 'rbx', stored: null });
      h.api.addFarm('lb-c', { type: 'http', farmId: 7, zone: 'bhs', stored: null });
      h.leases.held.set('lb-a', { owner: 'someone-else', until: h.clock.t + 15 * MINUTE });
      h.leases.held.set('lb-c', { owner: 'someone-else', until: h.clock.t + 15 * MINUTE });
      const refresh = h.api.refresh.bind(h.api);
      h.api.refresh = async (...args) => {
        if (args[0] === 'lb-b') h.leases.held.delete('lb-a'); // lb-a is released, lb-c is not
        return refresh(...args);
      };
      const result = await h.process([
        h.record({ requestId: 'busy-a', service: 'lb-a' }),
        h.record({ requestId: 'free', service: 'lb-b', farmId: 9 }),
        h.record({ requestId: 'busy-c', service: 'lb-c', farmId: 7 }),
      ]);
      expect(result.retry).toEqual([{ recordId: 'msg-3', delaySeconds: 5 }]);
      expect([...result.fates].sort()).toEqual([
        ['msg-1', 'applied'],
        ['msg-2', 'applied'],
        ['msg-3', 'retry'],
      ]);
    });

    it('hands the busy one back when its second round finds it still held, nor waits when the deadline leaves no zone time', async () => {
      const h = setup({ zoneBudgetMs: 30_000 }, { leaseWaitMs: MINUTE });
      h.api.addFarm('lb-b', { type: 'http', farmId: 9, zone: 'rbx', stored: null });
      h.leases.held.set('lb-a', { owner: 'someone-else', until: h.clock.t + 15 * MINUTE });
      const start = h.clock.t;
      const mixed = await h.process([
        h.record({ requestId: 'busy', service: 'lb-a' }),
        h.record({ requestId: 'free', service: 'lb-b', farmId: 9 }),
      ]);
      expect(mixed.retry).toEqual([{ recordId: 'msg-1', delaySeconds: 5 }]);
      expect(mixed.fates.get('msg-2')).toBe('applied');
      expect(h.clock.t - start).toBeLessThanOrEqual(MINUTE);
      expect(h.idempotency.records.get('busy')?.state).toBe('open'); // claim released for the retry

      const late = h.clock.t;
      const result = await h.process([h.record({ requestId: 'busy-late', service: 'lb-a' })], {
        deadline: late + 20_000, // less than one zone's budget
      });
      expect(result.retry).toEqual([{ recordId: 'msg-3', delaySeconds: 5 }]);
      expect(h.clock.t).toBe(late);
    });

    it('keeps the lease until the ledger entries are written: the next batch never undoes what this one carried out', async () => {
      const h = setup();
      const t0 = h.clock.t;
      // Batch X carries out the newer request; its audit (and ledger) step is held up.
      let inOutbox!: () => void;
      const reachedOutbox = new Promise<void>((resolve) => (inOutbox = resolve));
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const publish = h.publisher.publish.bind(h.publisher);
      h.publisher.publish = async (events) => {
        inOutbox();
        await gate;
        return publish(events);
      };
      const x = h.process([h.record({ requestId: 'newer', stickiness: 'cookie' }, { sentAt: t0 + 1_000 })]);
      await reachedOutbox;
      // Meanwhile batch Y gets the older request for the same farm (a standard queue keeps no order).
      h.publisher.publish = publish;
      const y = await h.process([h.record({ requestId: 'older', stickiness: 'sourceIp' }, { sentAt: t0 })]);
      open();
      await x;
      expect(y.retry).toEqual([{ recordId: 'msg-2', delaySeconds: 5 }]); // lb-a still leased by X
      expect(h.api.farm({ service: 'lb-a', type: 'http', farmId: 1 })).toMatchObject({
        stored: 'cookie',
        applied: 'cookie',
      });
      // Its retry, once X is done, finds the newer request in the ledger.
      const again = await h.process([
        h.record({ requestId: 'older', stickiness: 'sourceIp' }, { sentAt: t0, receiveCount: 2 }),
      ]);
      expect(again.retry).toEqual([]);
      expect(h.audits().find((a) => a.requestId === 'older')).toMatchObject({
        outcome: 'refused',
        code: 'superseded',
      });
      expect(h.api.farm({ service: 'lb-a', type: 'http', farmId: 1 })).toMatchObject({ stored: 'cookie' });
    });

    it('takes the lease before reading the ledger, and releases it even when applying throws', async () => {
      const h = setup();
      const order: string[] = [];
      const acquire = h.leases.acquire.bind(h.leases);
      h.leases.acquire = async (...args) => {
        order.push('lease');
        return acquire(...args);
      };
      const read = h.ledger.read.bind(h.ledger);
      h.ledger.read = async (...args) => {
        order.push('ledger');
        return read(...args);
      };
      h.api.failures.fail('pendingChanges', new Error('boom'));
      await h.process([h.record({ requestId: 'x-1' })]);
      expect(order).toEqual(['lease', 'ledger']);
      expect(h.leases.held.size).toBe(0);
    });

    it('retries every request when leases cannot be taken at all, and audits them on the last receive', async () => {
      const h = setup();
      h.leases.failures.fail('acquire');
      const last = await h.process([h.record({ requestId: 'x-2' }, { receiveCount: 3 })]);
      expect(last.retry).toEqual([{ recordId: 'msg-1', delaySeconds: 0 }]);
      expect(h.audits()[0]).toMatchObject({
        code: 'dead-lettered',
        message: expect.stringContaining('lease'),
      });
      expect(h.api.calls.getFarm ?? 0).toBe(0);
    });
  });

  describe('the function timeout never cuts a zone', () => {
    const SECOND = 1_000;
    // Zones gra (farm 1) and sbg (farm 2) of lb-a; tasks take 100 s, waits 120 s, a zone's budget 150 s.
    const timing = { taskTimeoutMs: 120 * SECOND, pollIntervalMs: 5 * SECOND, zoneBudgetMs: 150 * SECOND };

    it('starts no zone that could not end with the zone still refreshing ahead of it', async () => {
      const h = setup(timing);
      h.api.taskMs = 100 * SECOND;
      // Time for one zone (150 s), not for two in a row (300 s).
      const deadline = h.clock.t + 250 * SECOND;
      const result = await h.process(
        [h.record({ requestId: 'z-gra', farmId: 1 }), h.record({ requestId: 'z-sbg', farmId: 2 })],
        { deadline },
      );
      expect(h.api.refreshes).toEqual([{ service: 'lb-a', zone: 'gra' }]);
      expect(h.api.farm({ service: 'lb-a', type: 'http', farmId: 2 })?.stored).toBeNull(); // nothing written
      expect(h.audits().map((a) => [a.requestId, a.outcome])).toEqual([['z-gra', 'applied']]);
      expect(result.retry).toEqual([{ recordId: 'msg-2', delaySeconds: 5 }]);
      expect(h.clock.t).toBeLessThanOrEqual(deadline);
    });

    it('ends every wait at the deadline, and reports the zone failed rather than letting it be cut off', async () => {
      const h = setup(timing);
      h.api.taskMs = 1_000 * SECOND; // OVH is very slow today
      const deadline = h.clock.t + 150 * SECOND; // just one zone's budget
      const result = await h.process([h.record({ requestId: 'z-slow', farmId: 1 })], { deadline });
      expect(h.clock.t).toBeLessThanOrEqual(deadline);
      expect(result.retry).toEqual([]);
      expect(h.audits()[0]).toMatchObject({
        outcome: 'failed',
        code: 'refresh-failed',
        message: expect.stringContaining("'stickler refresh lb-a gra'"),
      });
    });

    it('waits out a task that ends just after its timeout: audited applied, and the next zone never races it', async () => {
      const h = setup(timing);
      h.api.taskMs = 125 * SECOND; // just over the 120 s wait
      await h.process(
        [h.record({ requestId: 'slow-gra', farmId: 1 }), h.record({ requestId: 'slow-sbg', farmId: 2 })],
        { deadline: h.clock.t + 900 * SECOND },
      );
      expect(h.api.races).toBe(0);
      expect(
        h
          .audits()
          .map((a) => [a.requestId, a.outcome])
          .sort(),
      ).toEqual([
        ['slow-gra', 'applied'],
        ['slow-sbg', 'applied'],
      ]);
    });

    it('records and publishes each zone as soon as it ends, so a kill loses at most the zone in flight', async () => {
      const h = setup(timing);
      // The second zone's refresh never answers: the invocation will be killed during it.
      const refresh = h.api.refresh.bind(h.api);
      h.api.refresh = (service, zone) =>
        zone === 'sbg' ? new Promise(() => undefined) : refresh(service, zone);
      void h.process(
        [h.record({ requestId: 'k-gra', farmId: 1 }), h.record({ requestId: 'k-sbg', farmId: 2 })],
        {
          deadline: h.clock.t + 900 * SECOND,
        },
      );
      for (let i = 0; i < 50 && h.api.refreshes.length < 2; i++) await new Promise((r) => setImmediate(r));
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      // Zone gra's outcome is out already, and its record completed, while zone sbg still refreshes.
      expect(h.audits()).toEqual([expect.objectContaining({ requestId: 'k-gra', outcome: 'applied' })]);
      expect(h.publisher.published.map((e) => e.detailType)).toContain('Zone Configuration Applied');
      expect(h.idempotency.records.get('k-gra')?.state).toBe('completed');

      // Killed. The redelivery (claims expired) changes nothing and says nothing more.
      h.api.refresh = refresh;
      h.clock.advance(20 * 60 * SECOND);
      const writes = h.api.calls.setStickiness;
      await h.process([h.record({ requestId: 'k-gra', farmId: 1 }, { receiveCount: 2 })]);
      expect(h.audits()).toEqual([expect.objectContaining({ requestId: 'k-gra', outcome: 'applied' })]);
      expect(h.api.calls.setStickiness).toBe(writes);
    });

    it('keeps a zone outcome whose early publishing failed, and the redelivery publishes it without touching OVH', async () => {
      const h = setup(timing);
      h.publisher.refuse = () => true;
      const refresh = h.api.refresh.bind(h.api);
      h.api.refresh = (service, zone) =>
        zone === 'sbg' ? new Promise(() => undefined) : refresh(service, zone);
      void h.process(
        [h.record({ requestId: 'k2-gra', farmId: 1 }), h.record({ requestId: 'k2-sbg', farmId: 2 })],
        { deadline: h.clock.t + 900 * SECOND },
      );
      for (let i = 0; i < 50 && h.api.refreshes.length < 2; i++) await new Promise((r) => setImmediate(r));
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      expect(h.idempotency.records.get('k2-gra')).toMatchObject({
        state: 'decided',
        events: [expect.objectContaining({ detailType: 'Stickiness Change Applied' }), expect.anything()],
      });
      h.publisher.refuse = () => false;
      h.api.refresh = refresh;
      h.clock.advance(20 * 60 * SECOND);
      const writes = h.api.calls.setStickiness;
      await h.process([h.record({ requestId: 'k2-gra', farmId: 1 }, { receiveCount: 2 })]);
      expect(h.audits()).toEqual([expect.objectContaining({ requestId: 'k2-gra', outcome: 'applied' })]);
      expect(h.api.calls.setStickiness).toBe(writes);
    });
  });

  describe('the request accepted last wins, on every path (acceptance time, kept for life)', () => {
    const farm1 = { service: 'lb-a', type: 'http' as const, farmId: 1 };

    it('ends a deferred request when a newer one for its farm is carried out: refused superseded, its schedule deleted, and it changes nothing if it fires anyway', async () => {
      const h = setup();
      const notBefore = new Date(h.clock.t + 60 * MINUTE).toISOString();
      const deferred = () =>
        h.record({ requestId: 'd-old', stickiness: 'sourceIp', window: { notBefore } }, { sentAt: t0 });
      const t0 = h.clock.t;
      await h.process([deferred()]);
      expect(h.deferrals.scheduled).toHaveLength(1);

      h.clock.advance(MINUTE);
      await h.process([h.record({ requestId: 'now-new', stickiness: 'cookie' })]);
      expect(h.api.farm(farm1)?.stored).toBe('cookie');
      expect(
        h
          .audits()
          .filter((a) => a.requestId === 'd-old')
          .map((a) => [a.outcome, a.code]),
      ).toEqual([
        ['deferred', 'window-not-open'],
        ['refused', 'superseded'],
      ]);
      expect(h.audits().find((a) => a.requestId === 'd-old' && a.outcome === 'refused')?.message).toContain(
        'superseded by request now-new',
      );
      expect(h.deferrals.scheduled).toEqual([]);
      expect(h.deferrals.cancelled).toEqual([{ requestId: 'd-old', until: notBefore }]);

      // Its schedule fires anyway (deleted too late): nothing is written, nothing more is said.
      h.clock.advance(60 * MINUTE);
      const writes = h.api.calls.setStickiness;
      const fired = await h.process([deferred()]);
      expect([...fired.fates.values()]).toEqual(['duplicate']);
      expect(h.api.calls.setStickiness).toBe(writes);
      expect(h.api.farm(farm1)?.stored).toBe('cookie');
      expect(h.audits().filter((a) => a.requestId === 'd-old')).toHaveLength(2);
    });

    it('refuses a deferred request that fires after a newer one went live even when it could not be ended early', async () => {
      const h = setup();
      const notBefore = new Date(h.clock.t + 60 * MINUTE).toISOString();
      const t0 = h.clock.t;
      const deferred = () =>
        h.record({ requestId: 'd-late', stickiness: 'sourceIp', window: { notBefore } }, { sentAt: t0 });
      await h.process([deferred()]);
      h.idempotency.failures.fail('deferred'); // its record cannot be read when the newer one comes
      h.clock.advance(MINUTE);
      await h.process([h.record({ requestId: 'newer-live', stickiness: 'cookie' })]);
      h.idempotency.failures.heal('deferred');
      h.clock.advance(60 * MINUTE);
      // Fired by its schedule: a new SentTimestamp, but its acceptance time is the first one.
      await h.process([h.record({ requestId: 'd-late', stickiness: 'sourceIp', window: { notBefore } })]);
      expect(h.api.farm(farm1)?.stored).toBe('cookie');
      expect(
        h
          .audits()
          .filter((a) => a.requestId === 'd-late')
          .map((a) => [a.outcome, a.code]),
      ).toEqual([
        ['deferred', 'window-not-open'],
        ['refused', 'superseded'],
      ]);
    });

    it('carries out an older request before a newer deferred one, which still wins when its window opens', async () => {
      const h = setup();
      const notBefore = new Date(h.clock.t + 60 * MINUTE).toISOString();
      const t0 = h.clock.t;
      await h.process([
        h.record(
          { requestId: 'later-tonight', stickiness: 'none', window: { notBefore } },
          { sentAt: t0 + 1_000 },
        ),
        h.record({ requestId: 'now-older', stickiness: 'cookie' }, { sentAt: t0 }),
      ]);
      expect(h.api.farm(farm1)?.stored).toBe('cookie');
      h.clock.advance(60 * MINUTE);
      await h.process([h.record({ requestId: 'later-tonight', stickiness: 'none', window: { notBefore } })]);
      expect(h.api.farm(farm1)?.stored).toBeNull();
      expect(
        h.audits().find((a) => a.requestId === 'later-tonight' && a.outcome !== 'deferred'),
      ).toMatchObject({
        outcome: 'applied',
      });
    });

    it('changes nothing and says nothing more when an old dead-lettered request is redriven after a newer one applied', async () => {
      const h = setup();
      const t0 = h.clock.t;
      h.api.failures.fail('getFarm');
      await h.process([
        h.record({ requestId: 'old-dlq', stickiness: 'sourceIp' }, { sentAt: t0, receiveCount: 3 }),
      ]);
      expect(h.audits()).toEqual([expect.objectContaining({ requestId: 'old-dlq', code: 'dead-lettered' })]);
      h.api.failures.heal('getFarm');
      h.clock.advance(MINUTE);
      await h.process([h.record({ requestId: 'newer', stickiness: 'cookie' })]);
      // A week later someone redrives the dead-letter queue: SQS gives it a new SentTimestamp.
      h.clock.advance(7 * 24 * 60 * MINUTE);
      const writes = h.api.calls.setStickiness;
      const refreshes = h.api.refreshes.length;
      const redriven = await h.process([h.record({ requestId: 'old-dlq', stickiness: 'sourceIp' })]);
      expect(redriven.retry).toEqual([]);
      expect(h.api.calls.setStickiness).toBe(writes);
      expect(h.api.refreshes).toHaveLength(refreshes);
      expect(h.api.farm(farm1)?.stored).toBe('cookie');
      expect(h.audits().filter((a) => a.requestId === 'old-dlq')).toHaveLength(1);
      expect(h.idempotency.records.get('old-dlq')?.state).toBe('completed');
    });

    it('never lets an older request win while the newer one is handed back (its order is written before any write)', async () => {
      const h = setup();
      const t0 = h.clock.t;
      // The newer request is ordered, then OVH fails under it: handed back, nothing written.
      h.api.failures.fail('pendingChanges');
      await h.process([h.record({ requestId: 'newer-retry', stickiness: 'cookie' }, { sentAt: t0 + 1_000 })]);
      h.api.failures.heal('pendingChanges');
      // Another batch gets the older request meanwhile.
      await h.process([h.record({ requestId: 'older-other', stickiness: 'sourceIp' }, { sentAt: t0 })]);
      expect(h.api.farm(farm1)?.stored).toBeNull();
      expect(h.audits().find((a) => a.requestId === 'older-other')).toMatchObject({ code: 'superseded' });
      await h.process([h.record({ requestId: 'newer-retry', stickiness: 'cookie' }, { receiveCount: 2 })]);
      expect(h.api.farm(farm1)?.stored).toBe('cookie');
    });

    it('refuses another content under a request id already used (id-reused), naming both, and keeps the first as it was', async () => {
      const h = setup();
      await h.process([h.record({ requestId: 'same-id', stickiness: 'cookie' })]);
      expect(h.api.farm(farm1)?.stored).toBe('cookie');
      h.clock.advance(MINUTE);
      const reused = () =>
        h.record({ requestId: 'same-id', farmType: 'tcp', farmId: 3, stickiness: 'sourceIp' });
      await h.process([reused()]);
      expect(h.api.farm({ service: 'lb-a', type: 'tcp', farmId: 3 })?.stored).toBeNull();
      const refusal = h.audits().find((a) => a.code === 'id-reused');
      expect(refusal).toMatchObject({
        requestId: 'same-id',
        outcome: 'refused',
        farmType: 'tcp',
        farmId: 3,
        auditId: expect.stringMatching(/^same-id:refused:id-reused:[0-9a-f]{16}$/),
        message: expect.stringMatching(
          /first used for other content \(content [0-9a-f]{16}, accepted .*this content \([0-9a-f]{16}\)/,
        ),
      });
      expect(h.idempotency.records.get('same-id')?.state).toBe('completed');
      // The copy delivered again: no second refusal.
      await h.process([reused()]);
      expect(h.audits().filter((a) => a.code === 'id-reused')).toHaveLength(1);
      valid(h.audits());
    });

    it('keeps the content the queue received first when two contents share an id in one batch', async () => {
      const h = setup();
      const t0 = h.clock.t;
      const result = await h.process([
        h.record({ requestId: 'twin', stickiness: 'sourceIp' }, { sentAt: t0 + 5 }),
        h.record({ requestId: 'twin', stickiness: 'cookie' }, { sentAt: t0 }),
      ]);
      expect(result.retry).toEqual([]);
      expect(h.api.farm(farm1)?.stored).toBe('cookie');
      expect(
        h
          .audits()
          .map((a) => [a.outcome, a.code ?? null])
          .sort(),
      ).toEqual([
        ['applied', null],
        ['refused', 'id-reused'],
      ]);
    });
  });

  describe('the window is checked where the write happens', () => {
    it('refuses a request whose window closed while it waited, without writing', async () => {
      const h = setup();
      const notAfter = new Date(h.clock.t + 30_000).toISOString();
      const getFarm = h.api.getFarm.bind(h.api);
      h.api.getFarm = async (ref) => {
        h.clock.advance(MINUTE); // a slow read: the window closes meanwhile
        return getFarm(ref);
      };
      await h.process([h.record({ requestId: 'late-w', stickiness: 'cookie', window: { notAfter } })]);
      expect(h.audits()).toEqual([
        expect.objectContaining({
          requestId: 'late-w',
          outcome: 'refused',
          code: 'window-closed',
          message: expect.stringContaining(`closed at ${notAfter}, before it could be written`),
        }),
      ]);
      expect(h.api.calls.setStickiness ?? 0).toBe(0);
      expect(h.api.refreshes).toEqual([]);
    });

    it("undoes a write whose window closes before its zone's turn to be applied, and the zone stays usable", async () => {
      const h = setup({ taskTimeoutMs: 20 * MINUTE, pollIntervalMs: 10_000 });
      h.api.taskMs = 10 * MINUTE; // zone gra's refresh takes 10 minutes
      const notAfter = new Date(h.clock.t + 5 * MINUTE).toISOString();
      await h.process([
        h.record({ requestId: 'gra-1', farmId: 1, stickiness: 'cookie' }),
        h.record({ requestId: 'sbg-2', farmId: 2, stickiness: 'cookie', window: { notAfter } }),
      ]);
      expect(h.audits().find((a) => a.requestId === 'sbg-2')).toMatchObject({
        outcome: 'refused',
        code: 'window-closed',
        message: expect.stringContaining('its write was undone'),
      });
      expect(h.api.farm({ service: 'lb-a', type: 'http', farmId: 2 })).toMatchObject({
        stored: null,
        applied: null,
      });
      expect(h.api.refreshes).toEqual([{ service: 'lb-a', zone: 'gra' }]);
      // The next request in zone sbg is not held up by stickler's own write and its undo.
      h.api.taskMs = 10;
      await h.process([h.record({ requestId: 'sbg-next', farmId: 2, stickiness: 'sourceIp' })]);
      expect(h.audits().at(-1)).toMatchObject({ requestId: 'sbg-next', outcome: 'applied' });
    });
  });

  describe('a zone cut by a kill', () => {
    it("is audited with its refresh's real outcome on the next delivery, not found 'unchanged'", async () => {
      const h = setup({ taskTimeoutMs: 20 * MINUTE, pollIntervalMs: 1_000 });
      const process = makeProcessChangeRequests({
        ...h.deps,
        refreshTasks: h.api,
      });
      // The refresh is asked and its task created, then the invocation dies while following it.
      h.api.taskMs = 10 * MINUTE;
      const getTask = h.api.getTask.bind(h.api);
      h.api.getTask = () => new Promise(() => undefined);
      void process([h.record({ requestId: 'cut', farmId: 1, stickiness: 'cookie' })], {
        deadline: h.clock.t + 30 * MINUTE,
      });
      for (let i = 0; i < 50 && h.api.refreshes.length < 1; i++) await new Promise((r) => setImmediate(r));
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      expect(h.api.refreshes).toEqual([{ service: 'lb-a', zone: 'gra' }]);
      expect(h.idempotency.records.get('cut')).toMatchObject({
        state: 'in-progress',
        inFlight: { zone: 'gra' },
      });
      // Killed. The task ends done meanwhile; the redelivery comes once the claim has expired.
      h.api.getTask = getTask;
      h.clock.advance(20 * MINUTE);
      const writes = h.api.calls.setStickiness;
      await process([h.record({ requestId: 'cut', farmId: 1, stickiness: 'cookie' }, { receiveCount: 2 })]);
      expect(h.audits()).toEqual([
        expect.objectContaining({
          requestId: 'cut',
          outcome: 'applied',
          before: 'none',
          after: 'cookie',
          refresh: expect.objectContaining({ zone: 'gra', status: 'done' }),
        }),
      ]);
      expect(h.api.calls.setStickiness).toBe(writes);
      expect(h.api.refreshes).toHaveLength(1);
    });

    it('carries the traffic the refresh cut: the 5 minutes before the cut invocation asked it', async () => {
      const traffic = new FakeTraffic({ 'lb-a': { requestsPerSecond: 42, connectionsPerSecond: 7 } });
      const h = setup({}, { traffic });
      const process = makeProcessChangeRequests({ ...h.deps, refreshTasks: h.api });
      const askedAt = h.clock.now().toISOString();
      await h.idempotency.claim('cut-3', h.clock.now(), 1_000, { sentAt: h.clock.now() });
      await h.idempotency.note(
        'cut-3',
        { service: 'lb-a', zone: 'gra', before: 'none', after: 'cookie', displayName: null, askedAt },
        h.clock.now(),
      );
      await h.api.setStickiness({ service: 'lb-a', type: 'http', farmId: 1 }, 'cookie');
      await h.api.refresh('lb-a', 'gra');
      h.clock.advance(MINUTE);
      await process([h.record({ requestId: 'cut-3', farmId: 1, stickiness: 'cookie' }, { receiveCount: 2 })]);
      expect(h.audits()).toEqual([
        expect.objectContaining({
          requestId: 'cut-3',
          outcome: 'applied',
          traffic: { known: true, measuredAt: askedAt, requestsPerSecond: 42, connectionsPerSecond: 7 },
        }),
      ]);
      expect(traffic.reads).toEqual([{ service: 'lb-a', at: askedAt, history: false }]);
    });

    it('reports a refresh that ended in error as failed, with the command to run', async () => {
      const h = setup();
      const process = makeProcessChangeRequests({ ...h.deps, refreshTasks: h.api });
      await h.idempotency.claim('cut-2', h.clock.now(), 1_000, { sentAt: h.clock.now() });
      await h.idempotency.note(
        'cut-2',
        {
          service: 'lb-a',
          zone: 'gra',
          before: 'none',
          after: 'cookie',
          displayName: null,
          askedAt: h.clock.now().toISOString(),
        },
        h.clock.now(),
      );
      h.api.taskStatus = 'error';
      await h.api.setStickiness({ service: 'lb-a', type: 'http', farmId: 1 }, 'cookie');
      await h.api.refresh('lb-a', 'gra');
      h.clock.advance(MINUTE);
      await process([h.record({ requestId: 'cut-2', farmId: 1, stickiness: 'cookie' }, { receiveCount: 2 })]);
      expect(h.audits()).toEqual([
        expect.objectContaining({
          requestId: 'cut-2',
          outcome: 'failed',
          code: 'refresh-failed',
          message: expect.stringContaining("'stickler refresh lb-a gra'"),
        }),
      ]);
    });
  });

  it('refuses a target the farm type cannot take without any write (cookie on TCP)', async () => {
    const h = setup();
    await h.process([h.record({ requestId: 't-1', farmType: 'tcp', farmId: 3, stickiness: 'cookie' })]);
    expect(h.audits()[0]).toMatchObject({ outcome: 'refused', code: 'invalid-target' });
    expect(h.api.calls.setStickiness ?? 0).toBe(0);
  });
});

describe('processChangeRequests and the traffic a zone carried as it was applied', () => {
  const zoneEvents = (published: { detailType: string; detail: unknown }[]) =>
    published
      .filter((e) => e.detailType === 'Zone Configuration Applied')
      .map((e) => e.detail as Record<string, unknown>);

  it('reads it as each refresh is asked (rates now only), and puts it in Applied and Zone Configuration Applied', async () => {
    const traffic = new FakeTraffic({ 'lb-a': { requestsPerSecond: 120.5, connectionsPerSecond: 30 } });
    const h = setup({}, { traffic });
    await h.process([h.record({ requestId: 'r-1', farmId: 1 }), h.record({ requestId: 'r-2', farmId: 2 })]);
    const applied = h.audits().filter((a) => a.outcome === 'applied');
    expect(applied).toHaveLength(2);
    for (const a of applied) {
      expect(ChangeAuditDetailSchema.safeParse(a).error?.issues).toBeUndefined();
      expect(a.traffic).toEqual({
        known: true,
        measuredAt: expect.any(String),
        requestsPerSecond: 120.5,
        connectionsPerSecond: 30,
      });
    }
    const zones = zoneEvents(h.publisher.published);
    expect(zones.map((z) => [z.zone, (z.traffic as { known: boolean }).known])).toEqual(
      expect.arrayContaining([
        ['gra', true],
        ['sbg', true],
      ]),
    );
    for (const z of zones) expect(ZoneAppliedDetailSchema.safeParse(z).error?.issues).toBeUndefined();
    // One read per zone refreshed, never the week of history.
    expect(traffic.reads.map((r) => [r.service, r.history])).toEqual([
      ['lb-a', false],
      ['lb-a', false],
    ]);
  });

  it('says the traffic was unknown, and why, and applies all the same', async () => {
    const h = setup(
      {},
      { traffic: new FakeTraffic({ 'lb-a': 'OVH offers no metrics for this load balancer' }) },
    );
    await h.process([h.record({ requestId: 'r-1', farmId: 1 })]);
    const [a] = h.audits();
    expect(a).toMatchObject({
      outcome: 'applied',
      traffic: { known: false, reason: 'OVH offers no metrics for this load balancer' },
    });
    expect(zoneEvents(h.publisher.published)[0]?.traffic).toEqual({
      known: false,
      reason: 'OVH offers no metrics for this load balancer',
    });
  });

  it('says unknown when the traffic port fails outright, and carries nothing without one', async () => {
    const failing: LoadBalancerTraffic = {
      read: async () => {
        throw new Error('boom');
      },
    };
    const h = setup({}, { traffic: failing });
    await h.process([h.record({ requestId: 'r-1', farmId: 1 })]);
    expect(h.audits()[0]?.traffic).toEqual({ known: false, reason: 'the traffic could not be read' });
    const without = setup();
    await without.process([without.record({ requestId: 'r-1', farmId: 1 })]);
    expect(without.audits()[0]).not.toHaveProperty('traffic');
    expect(zoneEvents(without.publisher.published)[0]).not.toHaveProperty('traffic');
  });

  it('puts no traffic on outcomes other than applied', async () => {
    const h = setup(
      {},
      { traffic: new FakeTraffic({ 'lb-a': { requestsPerSecond: 1, connectionsPerSecond: 1 } }) },
    );
    await h.process([h.record({ requestId: 'r-1', farmId: 3, farmType: 'tcp', stickiness: 'cookie' })]);
    const [a] = h.audits();
    expect(a?.outcome).toBe('refused');
    expect(a).not.toHaveProperty('traffic');
  });
});

describe('processChangeRequests with a window that prefers its quietest slot', () => {
  const SLOT = 5 * MINUTE;
  const DAY = 24 * 60 * MINUTE;
  /** Seven days of 5-minute samples before `now`: 100 req/s, but 5 in the slot starting at `quietUtc` (HH:MM). */
  const history = (now: number, quietUtc: string) => {
    const [h, m] = quietUtc.split(':').map(Number) as [number, number];
    const quiet = (h * 60 + m) * MINUTE;
    const start = Math.floor(now / SLOT) * SLOT - 7 * DAY;
    return Array.from({ length: 7 * 288 }, (_, i) => {
      const slotStart = start + i * SLOT;
      return { at: slotStart + SLOT, value: slotStart % DAY === quiet ? 5 : 100 };
    });
  };
  const at = (iso: string) => new Date(iso).toISOString();

  it('defers the request to the quietest slot of its window, says when and the rate expected, and applies it there, not again deferred', async () => {
    const clock = new FakeClock();
    const traffic = new FakeTraffic({
      'lb-a': { requestsPerSecond: 90, connectionsPerSecond: 20, history: history(clock.t, '14:00') },
    });
    const h = setup({}, { traffic });
    h.clock.t = clock.t;
    const window = { notAfter: at('2026-11-25T22:00:00Z'), prefer: 'quietest' as const };
    await h.process([h.record({ requestId: 'q-1', farmId: 1, window })]);
    const [deferred] = h.audits();
    expect(deferred).toMatchObject({
      outcome: 'deferred',
      code: 'quietest-slot',
      deferredUntil: at('2026-11-25T14:00:00Z'),
      quietest: { at: at('2026-11-25T14:00:00Z'), typicalRequestsPerSecond: 5 },
      message: expect.stringContaining('(typically 5 requests/s)'),
    });
    expect(ChangeAuditDetailSchema.safeParse(deferred).error?.issues).toBeUndefined();
    expect(h.deferrals.scheduled.map((d) => d.until)).toEqual([at('2026-11-25T14:00:00Z')]);
    // Nothing written before the slot.
    expect((await h.api.getFarm({ service: 'lb-a', type: 'http', farmId: 1 })).stickiness).toBeNull();

    // The schedule fires at the slot: the same request comes back, and is applied then.
    h.clock.t = Date.parse('2026-11-25T14:00:00Z');
    const back = h.deferrals.scheduled[0]!.request;
    await h.process([h.record(back)]);
    const applied = h.audits().filter((a) => a.outcome === 'applied');
    expect(applied).toHaveLength(1);
    expect(applied[0]?.traffic).toMatchObject({ known: true, requestsPerSecond: 90 });
    // The profile was read once, at the first delivery; the apply read the rates now only.
    expect(traffic.reads.map((r) => r.history)).toEqual([true, false]);
  });

  it("never chooses a slot so near the window's end that the request would miss it in the queue", async () => {
    const clock = new FakeClock();
    const now = clock.t;
    // The quietest slot starts 10 minutes from now; the window ends 40 s after it starts.
    const quietStart = Math.ceil((now + 10 * MINUTE) / SLOT) * SLOT;
    const quietUtc = new Date(quietStart).toISOString().slice(11, 16);
    const traffic = new FakeTraffic({
      'lb-a': { requestsPerSecond: 90, connectionsPerSecond: 20, history: history(now, quietUtc) },
    });
    // Admission asks every window for 30 s (a batching window of 20 s and 10 s more).
    const h = setup({}, { traffic, timeLimits: { ...DEFAULT_TIME_LIMITS, minWindowMs: 30_000 } });
    h.clock.t = now;
    const window = { notAfter: new Date(quietStart + 20_000).toISOString(), prefer: 'quietest' as const };
    await h.process([h.record({ requestId: 'q-edge', farmId: 1, window })]);
    // The slot 20 s before the end is out of reach: a slot earlier in the window is chosen.
    const scheduled = h.deferrals.scheduled.map((d) => Date.parse(d.until));
    for (const until of scheduled) expect(until).toBeLessThanOrEqual(quietStart + 20_000 - 30_000);
    expect(h.audits().filter((a) => a.code === 'outside-window')).toEqual([]);
  });

  it('defers straight to the slot when the window opens later, the slot inside it', async () => {
    const clock = new FakeClock();
    const h = setup(
      {},
      {
        traffic: new FakeTraffic({
          'lb-a': { requestsPerSecond: 1, connectionsPerSecond: 1, history: history(clock.t, '03:00') },
        }),
      },
    );
    const window = {
      notBefore: at('2026-11-25T12:00:00Z'),
      notAfter: at('2026-11-26T06:00:00Z'),
      prefer: 'quietest' as const,
    };
    await h.process([h.record({ requestId: 'q-2', farmId: 1, window })]);
    expect(h.audits()[0]).toMatchObject({ outcome: 'deferred', deferredUntil: at('2026-11-26T03:00:00Z') });
  });

  it('applies at once, saying the traffic was unknown, when there are no metrics or the quietest slot is now', async () => {
    const window = { notAfter: at('2026-11-25T22:00:00Z'), prefer: 'quietest' as const };
    const none = setup({}, { traffic: new FakeTraffic({}) });
    await none.process([none.record({ requestId: 'q-3', farmId: 1, window })]);
    expect(none.audits()[0]).toMatchObject({
      outcome: 'applied',
      traffic: { known: false, reason: 'no metrics for this load balancer' },
    });
    const clock = new FakeClock();
    const quietNow = setup(
      {},
      {
        traffic: new FakeTraffic({
          'lb-a': { requestsPerSecond: 1, connectionsPerSecond: 1, history: history(clock.t, '10:00') },
        }),
      },
    );
    await quietNow.process([quietNow.record({ requestId: 'q-4', farmId: 1, window })]);
    expect(quietNow.audits()[0]?.outcome).toBe('applied');
  });

  it('refuses prefer: quietest without notAfter, as the schema says', async () => {
    const h = setup({}, { traffic: new FakeTraffic({}) });
    await h.process([h.record({ requestId: 'q-5', farmId: 1, window: { prefer: 'quietest' } })]);
    expect(h.audits()[0]).toMatchObject({
      outcome: 'refused',
      message: expect.stringMatching(/prefer: quietest needs notAfter/),
    });
  });
});

describe('processChangeRequests: requests of one zone that prefer the quietest time share its slot', () => {
  const SLOT = 5 * MINUTE;
  const DAY = 24 * 60 * MINUTE;
  /** Seven days of 5-minute samples before `now`: 100 req/s, but the rates given in the slots given (HH:MM UTC). */
  const history = (now: number, quiet: Record<string, number>) => {
    const start = Math.floor(now / SLOT) * SLOT - 7 * DAY;
    return Array.from({ length: 7 * 288 }, (_, i) => {
      const slotStart = start + i * SLOT;
      const hhmm = new Date(slotStart).toISOString().slice(11, 16);
      return { at: slotStart + SLOT, value: quiet[hhmm] ?? 100 };
    });
  };
  const at = (iso: string) => new Date(iso).toISOString();
  /** Quiet at 14:00 (5 req/s), quieter at 16:00 (1 req/s); the clock starts at 10:00. */
  const zoned = () => {
    const slots = new InMemoryZoneSlots();
    const clock = new FakeClock();
    const traffic = new FakeTraffic({
      'lb-a': {
        requestsPerSecond: 90,
        connectionsPerSecond: 20,
        history: history(clock.t, { '14:00': 5, '16:00': 1 }),
      },
    });
    return { ...setup({}, { traffic, slots }), slots, traffic };
  };
  const untilFifteen = { notAfter: at('2026-11-25T15:00:00Z'), prefer: 'quietest' as const };
  const fromElevenToTen = {
    notBefore: at('2026-11-25T11:00:00Z'),
    notAfter: at('2026-11-25T22:00:00Z'),
    prefer: 'quietest' as const,
  };

  it('joins the slot chosen for the zone by an earlier request with another window, and the zone is refreshed once when it comes', async () => {
    const h = zoned();
    await h.process([h.record({ requestId: 'z-1', farmId: 1, window: untilFifteen })]);
    expect(h.slots.slots.get('lb-a/gra')?.[0]).toMatchObject({
      at: Date.parse('2026-11-25T14:00:00Z'),
      typicalRate: 5,
    });
    // An hour later, another request for the zone (farm 3 is in gra too), with a window of its own:
    // its own quietest would be 16:00, but its window holds 14:00, the zone's slot.
    h.clock.t = Date.parse('2026-11-25T11:00:00Z');
    await h.process([
      h.record({
        requestId: 'z-2',
        farmId: 3,
        farmType: 'tcp',
        stickiness: 'sourceIp',
        window: fromElevenToTen,
      }),
    ]);
    const deferred = h.audits().filter((a) => a.outcome === 'deferred');
    expect(deferred.map((a) => [a.requestId, a.deferredUntil])).toEqual([
      ['z-1', at('2026-11-25T14:00:00Z')],
      ['z-2', at('2026-11-25T14:00:00Z')],
    ]);
    expect(deferred[1]).toMatchObject({
      code: 'quietest-slot',
      quietest: { at: at('2026-11-25T14:00:00Z'), typicalRequestsPerSecond: 5, joined: 'zone' },
      message: expect.stringMatching(/slot already chosen for its zone gra .*typically 5 requests\/s/),
    });
    expect(ChangeAuditDetailSchema.safeParse(deferred[1]).error?.issues).toBeUndefined();

    // The slot comes: both schedules fire, and the zone is refreshed once for both.
    h.clock.t = Date.parse('2026-11-25T14:00:00Z');
    await h.process(h.deferrals.scheduled.map((d) => h.record(d.request)));
    expect(
      h
        .audits()
        .filter((a) => a.outcome === 'applied')
        .map((a) => a.requestId)
        .sort(),
    ).toEqual(['z-1', 'z-2']);
    expect(h.api.refreshes).toEqual([{ service: 'lb-a', zone: 'gra' }]);
  });

  it('when the slot comes, a batch holding some of its requests takes the others from the store: one refresh, the later deliveries duplicates', async () => {
    const h = zoned();
    await h.process([h.record({ requestId: 'c-1', farmId: 1, window: untilFifteen })]);
    h.clock.t = Date.parse('2026-11-25T11:00:00Z');
    await h.process([
      h.record({
        requestId: 'c-2',
        farmId: 3,
        farmType: 'tcp',
        stickiness: 'sourceIp',
        window: fromElevenToTen,
      }),
    ]);
    expect(h.deferrals.scheduled.map((d) => d.request.requestId)).toEqual(['c-1', 'c-2']);
    h.clock.t = Date.parse('2026-11-25T14:00:00Z');
    // Only c-1's schedule lands in this batch (c-2's in another, later).
    const [c1, c2] = h.deferrals.scheduled.map((d) => h.record(d.request));
    const first = await h.process([c1!]);
    expect([...first.fates.keys()]).toEqual([c1!.recordId]);
    expect(first.retry).toEqual([]);
    expect(
      h
        .audits()
        .filter((a) => a.outcome === 'applied')
        .map((a) => a.requestId)
        .sort(),
    ).toEqual(['c-1', 'c-2']);
    expect(h.api.refreshes).toEqual([{ service: 'lb-a', zone: 'gra' }]);
    const second = await h.process([c2!]);
    expect(second.fates.get(c2!.recordId)).toBe('duplicate');
    expect(h.api.refreshes).toHaveLength(1);
  });

  it('takes the companions of every slot at that time its refresh shares: a zone’s and zone all’s, either way round', async () => {
    for (const first of ['g', 'a'] as const) {
      const h = zoned();
      h.api.addFarm('lb-a', { type: 'http', farmId: 9, zone: 'all', stored: null });
      await h.process([h.record({ requestId: 'g', farmId: 1, window: untilFifteen })]);
      h.clock.t = Date.parse('2026-11-25T11:00:00Z');
      // The all farm joins gra's slot (it becomes all's too); sbg's request joins all's.
      await h.process([h.record({ requestId: 'a', farmId: 9, window: fromElevenToTen })]);
      await h.process([h.record({ requestId: 's', farmId: 2, window: fromElevenToTen })]);
      expect(h.audits().map((x) => x.deferredUntil)).toEqual(Array(3).fill(at('2026-11-25T14:00:00Z')));
      h.clock.t = Date.parse('2026-11-25T14:00:00Z');
      const records = new Map(h.deferrals.scheduled.map((d) => [d.request.requestId, h.record(d.request)]));
      await h.process([records.get(first)!]);
      expect([
        first,
        h
          .audits()
          .filter((x) => x.outcome === 'applied')
          .map((x) => x.requestId)
          .sort(),
      ]).toEqual([first, ['a', 'g', 's']]);
      expect(h.api.refreshes).toEqual([{ service: 'lb-a', zone: 'all' }]);
    }
  });

  it('takes no companion that is not deferred until that slot, and goes on alone when the store cannot be read', async () => {
    const h = zoned();
    await h.process([h.record({ requestId: 'd-1', farmId: 1, window: untilFifteen })]);
    h.clock.t = Date.parse('2026-11-25T11:00:00Z');
    await h.process([
      h.record({
        requestId: 'd-2',
        farmId: 3,
        farmType: 'tcp',
        stickiness: 'sourceIp',
        window: fromElevenToTen,
      }),
    ]);
    // d-2 was cancelled meanwhile (its record ended): not taken.
    h.idempotency.records.set('d-2', { ...h.idempotency.records.get('d-2')!, state: 'completed' });
    h.clock.t = Date.parse('2026-11-25T14:00:00Z');
    const [d1] = h.deferrals.scheduled.map((d) => h.record(d.request));
    h.slots.failures.fail('read');
    await h.process([d1!]);
    expect(
      h
        .audits()
        .filter((a) => a.outcome === 'applied')
        .map((a) => a.requestId),
    ).toEqual(['d-1']);
    expect(h.log.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      'could not look for the requests sharing a slot; they are applied as their schedules fire',
    ]);
  });

  it('does not join a slot whose request no longer waits (cancelled, superseded): it chooses its own, and the zone remembers that', async () => {
    const h = zoned();
    await h.process([h.record({ requestId: 'z-1', farmId: 1, window: untilFifteen })]);
    expect(h.slots.slots.get('lb-a/gra')?.[0]).toMatchObject({ requestId: 'z-1' });
    // z-1 is cancelled: its record ends; the zone's 14:00 slot is nobody's now.
    const kept = h.idempotency.records.get('z-1')!;
    h.idempotency.records.set('z-1', { ...kept, state: 'completed' });
    h.clock.t = Date.parse('2026-11-25T11:00:00Z');
    await h.process([
      h.record({
        requestId: 'z-2',
        farmId: 3,
        farmType: 'tcp',
        stickiness: 'sourceIp',
        window: fromElevenToTen,
      }),
    ]);
    const z2 = h.audits().find((a) => a.requestId === 'z-2');
    expect(z2?.deferredUntil).toBe(at('2026-11-25T16:00:00Z'));
    expect(z2?.message).not.toMatch(/already chosen for its zone/);
    expect(h.slots.slots.get('lb-a/gra')?.[0]).toMatchObject({
      at: Date.parse('2026-11-25T16:00:00Z'),
      requestId: 'z-2',
    });
  });

  it('joins a slot whose chooser was cancelled while a request that joined it still waits, and lists each joiner', async () => {
    const h = zoned();
    await h.process([h.record({ requestId: 'z-1', farmId: 1, window: untilFifteen })]);
    h.clock.t = Date.parse('2026-11-25T10:30:00Z');
    await h.process([
      h.record({
        requestId: 'z-2',
        farmId: 3,
        farmType: 'tcp',
        stickiness: 'sourceIp',
        window: fromElevenToTen,
      }),
    ]);
    expect(h.slots.slots.get('lb-a/gra')?.[0]).toMatchObject({ requestId: 'z-1', joiners: ['z-2'] });
    // z-1 is cancelled; z-2 still waits for 14:00: the slot is still someone's, and a third joins it.
    const kept = h.idempotency.records.get('z-1')!;
    h.idempotency.records.set('z-1', { ...kept, state: 'completed' });
    h.clock.t = Date.parse('2026-11-25T11:00:00Z');
    await h.process([
      h.record({ requestId: 'z-3', farmId: 1, stickiness: 'sourceIp', window: fromElevenToTen }),
    ]);
    const z3 = h.audits().find((a) => a.requestId === 'z-3');
    expect(z3).toMatchObject({ deferredUntil: at('2026-11-25T14:00:00Z'), quietest: { joined: 'zone' } });
    expect(h.slots.slots.get('lb-a/gra')?.[0]).toMatchObject({
      at: Date.parse('2026-11-25T14:00:00Z'),
      requestId: 'z-1',
      joiners: ['z-2', 'z-3'],
    });
    // Once every one of them no longer waits, the slot is nobody's: the next request chooses its own.
    for (const id of ['z-2', 'z-3'])
      h.idempotency.records.set(id, { ...h.idempotency.records.get(id)!, state: 'completed' });
    await h.process([
      h.record({
        requestId: 'z-4',
        farmId: 3,
        farmType: 'tcp',
        stickiness: 'cookie',
        window: fromElevenToTen,
      }),
    ]);
    expect(h.audits().find((a) => a.requestId === 'z-4')?.deferredUntil).toBe(at('2026-11-25T16:00:00Z'));
    expect(h.slots.slots.get('lb-a/gra')?.[0]).toMatchObject({
      at: Date.parse('2026-11-25T16:00:00Z'),
      requestId: 'z-4',
    });
  });

  it('a request of an `all` farm and a request of a zone join each other’s slots: one refresh of `all` cuts every zone', async () => {
    const h = zoned();
    h.api.addFarm('lb-a', { type: 'http', farmId: 9, zone: 'all', stored: null });
    await h.process([h.record({ requestId: 'a-1', farmId: 9, window: untilFifteen })]);
    expect(h.slots.slots.get('lb-a/all')?.[0]).toMatchObject({
      at: Date.parse('2026-11-25T14:00:00Z'),
      requestId: 'a-1',
    });
    // A request of zone gra whose own quietest is 16:00 joins `all`'s 14:00 (the refresh of all cuts gra anyway).
    h.clock.t = Date.parse('2026-11-25T11:00:00Z');
    await h.process([h.record({ requestId: 'g-1', farmId: 1, window: fromElevenToTen })]);
    const g1 = h.audits().find((a) => a.requestId === 'g-1');
    expect(g1).toMatchObject({ deferredUntil: at('2026-11-25T14:00:00Z'), quietest: { joined: 'zone' } });
    expect(g1?.message).toMatch(
      /slot already chosen for zone all of its load balancer \(whose refresh covers every zone, its zone gra too\)/,
    );
    expect(h.slots.slots.get('lb-a/all')?.[0]?.joiners).toEqual(['g-1']);
    // The slot comes: one refresh, of `all`.
    h.clock.t = Date.parse('2026-11-25T14:00:00Z');
    await h.process(h.deferrals.scheduled.map((d) => h.record(d.request)));
    expect(h.api.refreshes).toEqual([{ service: 'lb-a', zone: 'all' }]);
  });

  it('a request of an `all` farm joins a zone’s slot, found among the load balancer’s zones', async () => {
    const h = zoned();
    h.api.addFarm('lb-a', { type: 'http', farmId: 9, zone: 'all', stored: null });
    await h.process([h.record({ requestId: 's-1', farmId: 2, window: untilFifteen })]);
    expect(h.slots.slots.get('lb-a/sbg')?.[0]?.at).toBe(Date.parse('2026-11-25T14:00:00Z'));
    await h.process([h.record({ requestId: 'a-2', farmId: 9, window: fromElevenToTen })]);
    const a2 = h.audits().find((a) => a.requestId === 'a-2');
    expect(a2).toMatchObject({ deferredUntil: at('2026-11-25T14:00:00Z'), quietest: { joined: 'zone' } });
    expect(a2?.message).toMatch(
      /slot already chosen for zone sbg of its load balancer \(its farm is in zone all/,
    );
    expect(h.slots.slots.get('lb-a/sbg')?.[0]?.joiners).toEqual(['a-2']);
    // Its refresh (of all) cuts every zone at 14:00: the slot is zone all's too, for gra's requests to join.
    expect(h.slots.slots.get('lb-a/all')?.map((s) => [s.at, s.requestId])).toEqual([
      [Date.parse('2026-11-25T14:00:00Z'), 'a-2'],
    ]);
    h.clock.t = Date.parse('2026-11-25T11:00:00Z');
    await h.process([h.record({ requestId: 'g-2', farmId: 1, window: fromElevenToTen })]);
    expect(h.audits().find((a) => a.requestId === 'g-2')).toMatchObject({
      deferredUntil: at('2026-11-25T14:00:00Z'),
      quietest: { joined: 'zone' },
    });
    // Without the zones' list, an `all` request joins only what the batch names and `all`'s.
    h.slots.slots.delete('lb-a/all');
    h.api.failures.fail('listZones');
    await h.process([
      h.record({ requestId: 'a-3', farmId: 9, stickiness: 'sourceIp', window: fromElevenToTen }),
    ]);
    expect(h.audits().find((a) => a.requestId === 'a-3')?.deferredUntil).toBe(at('2026-11-25T16:00:00Z'));
    expect(h.log.lines.map((l) => l.message)).toContain(
      "could not list a load balancer's zones; an `all` request joins only the slots of the batch's zones",
    );
  });

  it('in one batch, requests of a load balancer with an `all` farm share one slot, remembered for `all`', async () => {
    const h = zoned();
    h.api.addFarm('lb-a', { type: 'http', farmId: 9, zone: 'all', stored: null });
    await h.process([
      h.record({ requestId: 'b-1', farmId: 9, window: untilFifteen }),
      h.record({ requestId: 'b-2', farmId: 2, window: fromElevenToTen }),
    ]);
    const deferred = h.audits();
    expect(deferred.map((a) => a.deferredUntil)).toEqual([
      at('2026-11-25T14:00:00Z'),
      at('2026-11-25T14:00:00Z'),
    ]);
    expect(deferred.find((a) => a.requestId === 'b-2')?.message).toMatch(
      /shares with other requests for its load balancer \(with a farm of zone all, whose refresh covers every zone, its zone sbg too\)/,
    );
    expect(h.slots.slots.get('lb-a/all')?.[0]?.at).toBe(Date.parse('2026-11-25T14:00:00Z'));
    expect(h.slots.slots.has('lb-a/sbg')).toBe(false);
  });

  it('keeps a slot with more joiners than it lists, even when every listed request no longer waits', async () => {
    const h = zoned();
    h.slots.slots.set('lb-a/gra', [
      {
        at: Date.parse('2026-11-25T14:00:00Z'),
        typicalRate: 5,
        chosenAt: 'before',
        requestId: 'gone',
        joiners: ['gone-too'],
        overflow: true,
      },
    ]);
    await h.process([h.record({ requestId: 'o-1', farmId: 1, window: fromElevenToTen })]);
    expect(h.audits()[0]).toMatchObject({
      deferredUntil: at('2026-11-25T14:00:00Z'),
      quietest: { joined: 'zone' },
    });
  });

  it('refuses at once a request whose farm does not exist, without waiting for a slot', async () => {
    const h = zoned();
    await h.process([h.record({ requestId: 'nf-1', farmId: 999, window: untilFifteen })]);
    expect(h.audits()[0]).toMatchObject({ requestId: 'nf-1', outcome: 'refused' });
    expect(h.deferrals.scheduled).toEqual([]);
    expect(h.log.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('remembers the slot of a window whose quietest time is its opening, for the zone’s later requests', async () => {
    const h = zoned();
    const atSixteen = {
      notBefore: at('2026-11-25T16:00:00Z'),
      notAfter: at('2026-11-25T16:20:00Z'),
      prefer: 'quietest' as const,
    };
    await h.process([h.record({ requestId: 'w-1', farmId: 1, window: atSixteen })]);
    expect(h.audits()[0]).toMatchObject({ deferredUntil: at('2026-11-25T16:00:00Z'), code: 'quietest-slot' });
    expect(h.slots.slots.get('lb-a/gra')?.[0]).toMatchObject({
      at: Date.parse('2026-11-25T16:00:00Z'),
      requestId: 'w-1',
    });
  });

  it('says, of a zone’s request on another zone’s slot through a batch with an `all` farm, how one refresh carries it', async () => {
    const h = zoned();
    h.api.addFarm('lb-a', { type: 'http', farmId: 9, zone: 'all', stored: null });
    await h.process([h.record({ requestId: 'm-1', farmId: 1, window: untilFifteen })]);
    h.clock.t = Date.parse('2026-11-25T11:00:00Z');
    await h.process([
      h.record({ requestId: 'm-2', farmId: 9, window: fromElevenToTen }),
      h.record({ requestId: 'm-3', farmId: 2, window: fromElevenToTen }),
    ]);
    const m3 = h.audits().find((a) => a.requestId === 'm-3');
    expect(m3).toMatchObject({ deferredUntil: at('2026-11-25T14:00:00Z'), quietest: { joined: 'zone' } });
    expect(m3?.message).toMatch(
      /slot already chosen for zone gra of its load balancer \(with a farm of zone all among this batch's requests, one refresh of zone all carries them, its zone sbg too\)/,
    );
  });

  it('a joiner that cannot be listed is still deferred to the slot it joined (logged)', async () => {
    const h = zoned();
    await h.process([h.record({ requestId: 'j-1', farmId: 1, window: untilFifteen })]);
    h.slots.failures.fail('change');
    await h.process([
      h.record({
        requestId: 'j-2',
        farmId: 3,
        farmType: 'tcp',
        stickiness: 'sourceIp',
        window: fromElevenToTen,
      }),
    ]);
    expect(h.audits().find((a) => a.requestId === 'j-2')).toMatchObject({
      outcome: 'deferred',
      deferredUntil: at('2026-11-25T14:00:00Z'),
    });
    expect(h.slots.slots.get('lb-a/gra')?.[0]?.joiners).toBeUndefined();
    expect(h.log.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      "could not remember a zone's slots; its later requests choose their own",
    ]);
  });

  it('chooses its own slot when its window holds none of the zone’s, remembered beside the first: a later request joins the one its window holds', async () => {
    const h = zoned();
    h.api.addFarm('lb-a', { type: 'http', farmId: 4, zone: 'gra', stored: null });
    await h.process([h.record({ requestId: 'z-3', farmId: 1, window: untilFifteen })]);
    const late = {
      notBefore: at('2026-11-25T15:30:00Z'),
      notAfter: at('2026-11-25T22:00:00Z'),
      prefer: 'quietest' as const,
    };
    await h.process([
      h.record({ requestId: 'z-4', farmId: 3, farmType: 'tcp', stickiness: 'sourceIp', window: late }),
    ]);
    expect(h.audits().map((a) => a.deferredUntil)).toEqual([
      at('2026-11-25T14:00:00Z'),
      at('2026-11-25T16:00:00Z'),
    ]);
    expect(h.audits()[1]?.message).toMatch(/^deferred to the quietest 5 minutes of its change window/);
    expect(h.slots.slots.get('lb-a/gra')?.map((s) => [s.at, s.requestId])).toEqual([
      [Date.parse('2026-11-25T14:00:00Z'), 'z-3'],
      [Date.parse('2026-11-25T16:00:00Z'), 'z-4'],
    ]);
    // A third request of the zone whose window holds only the second slot joins it.
    await h.process([h.record({ requestId: 'z-6', farmId: 4, window: late })]);
    expect(h.audits().find((a) => a.requestId === 'z-6')).toMatchObject({
      deferredUntil: at('2026-11-25T16:00:00Z'),
      quietest: { joined: 'zone' },
    });
    expect(h.slots.slots.get('lb-a/gra')?.[1]?.joiners).toEqual(['z-6']);
    // Another zone of the load balancer keeps its own choice (farm 2 is in sbg).
    await h.process([h.record({ requestId: 'z-5', farmId: 2, window: fromElevenToTen })]);
    expect(h.audits().find((a) => a.requestId === 'z-5')?.deferredUntil).toBe(at('2026-11-25T16:00:00Z'));
    expect(h.slots.slots.get('lb-a/sbg')?.[0]?.at).toBe(Date.parse('2026-11-25T16:00:00Z'));
  });

  it('replaces a remembered slot that has passed', async () => {
    const h = zoned();
    h.slots.slots.set('lb-a/gra', [
      {
        at: Date.parse('2026-11-25T09:00:00Z'),
        typicalRate: 2,
        chosenAt: 'before',
      },
    ]);
    await h.process([h.record({ requestId: 'z-6', farmId: 1, window: fromElevenToTen })]);
    expect(h.audits()[0]?.deferredUntil).toBe(at('2026-11-25T16:00:00Z'));
    expect(h.slots.slots.get('lb-a/gra')?.[0]).toEqual({
      at: Date.parse('2026-11-25T16:00:00Z'),
      typicalRate: 1,
      chosenAt: at('2026-11-25T10:00:00Z'),
      requestId: 'z-6',
    });
  });

  it('never joins a slot that is due now, nor waits past its own window for one', async () => {
    const h = zoned();
    // The zone's slot is 3 s away (the worker's near margin is 5 s): the request chooses its own.
    h.slots.slots.set('lb-a/gra', [{ at: h.clock.t + 3_000, typicalRate: 0, chosenAt: 'before' }]);
    await h.process([h.record({ requestId: 'z-7', farmId: 1, window: untilFifteen })]);
    expect(h.audits()[0]?.deferredUntil).toBe(at('2026-11-25T14:00:00Z'));
    expect(h.slots.slots.get('lb-a/gra')?.[0]?.at).toBe(h.clock.t + 3_000);
  });

  it('chooses as before when the zone slots cannot be read or written, or the farm cannot be read', async () => {
    const h = zoned();
    h.slots.slots.set('lb-a/gra', [
      {
        at: Date.parse('2026-11-25T14:00:00Z'),
        typicalRate: 5,
        chosenAt: 'before',
      },
    ]);
    h.slots.failures.fail('read');
    await h.process([h.record({ requestId: 'z-8', farmId: 1, window: fromElevenToTen })]);
    expect(h.audits()[0]).toMatchObject({ outcome: 'deferred', deferredUntil: at('2026-11-25T16:00:00Z') });
    h.slots.failures.heal('read').fail('change');
    h.slots.slots.clear();
    await h.process([h.record({ requestId: 'z-9', farmId: 2, window: untilFifteen })]);
    expect(h.audits()[1]).toMatchObject({ outcome: 'deferred', deferredUntil: at('2026-11-25T14:00:00Z') });
    expect(h.slots.slots.size).toBe(0);
    h.slots.failures.heal('change');
    h.slots.slots.set('lb-a/gra', [
      {
        at: Date.parse('2026-11-25T14:00:00Z'),
        typicalRate: 5,
        chosenAt: 'before',
      },
    ]);
    h.api.failures.fail('getFarm');
    await h.process([
      h.record({
        requestId: 'z-10',
        farmId: 3,
        farmType: 'tcp',
        stickiness: 'sourceIp',
        window: fromElevenToTen,
      }),
    ]);
    expect(h.audits()[2]).toMatchObject({ outcome: 'deferred', deferredUntil: at('2026-11-25T16:00:00Z') });
    expect(h.log.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      "could not read the zones' chosen slots; their requests choose their own",
      "could not remember a zone's slots; its later requests choose their own",
      "could not read a farm's zone; its request chooses its own quietest slot",
    ]);
  });

  it('gives requests of one zone in one batch with overlapping windows one slot, the quietest of what they share', async () => {
    const h = zoned();
    await h.process([
      h.record({ requestId: 'z-11', farmId: 1, window: untilFifteen }),
      h.record({
        requestId: 'z-12',
        farmId: 3,
        farmType: 'tcp',
        stickiness: 'sourceIp',
        window: fromElevenToTen,
      }),
    ]);
    const deferred = h.audits();
    expect(deferred.map((a) => a.deferredUntil)).toEqual([
      at('2026-11-25T14:00:00Z'),
      at('2026-11-25T14:00:00Z'),
    ]);
    expect(deferred[1]?.message).toMatch(/shares with other requests for its zone gra/);
    expect(h.slots.slots.get('lb-a/gra')?.[0]?.at).toBe(Date.parse('2026-11-25T14:00:00Z'));
  });

  it('without metrics goes on at once, as without zone slots', async () => {
    const slots = new InMemoryZoneSlots();
    const h = setup({}, { traffic: new FakeTraffic({}), slots });
    await h.process([h.record({ requestId: 'z-13', farmId: 1, window: untilFifteen })]);
    expect(h.audits()[0]?.outcome).toBe('applied');
    expect(slots.slots.size).toBe(0);
  });
});
