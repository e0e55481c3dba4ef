import { parseZoneRefreshBody } from '../../lib/adapters/sqs/zone-refresh-record';
import type { IncomingZoneRefresh } from '../../lib/app/incoming-record';
import { makeProcessZoneRefreshes } from '../../lib/app/process-zone-refreshes';
import type { ZoneRefreshAuditDetail } from '../../lib/domain/audit-events';
import type { ZoneRefreshRequestedDetail } from '../../lib/domain/events';
import {
  FakeClock,
  InMemoryIdempotencyStore,
  InMemoryLoadBalancerApi,
  InMemoryServiceLeases,
  InMemoryUnappliedZones,
  RecordingPublisher,
  silentLog,
} from '../helpers/fakes';

const MINUTE = 60_000;

const setup = (options: { leaseWaitMs?: number } = {}) => {
  const clock = new FakeClock();
  const api = new InMemoryLoadBalancerApi(clock)
    .addFarm('lb-a', { type: 'http', farmId: 1, zone: 'gra', stored: null })
    .addFarm('lb-a', { type: 'http', farmId: 2, zone: 'gra', stored: null })
    .addFarm('lb-a', { type: 'tcp', farmId: 3, zone: 'sbg', stored: null });
  const idempotency = new InMemoryIdempotencyStore();
  const leases = new InMemoryServiceLeases();
  const unapplied = new InMemoryUnappliedZones();
  const publisher = new RecordingPublisher();
  const log = silentLog();
  const process = makeProcessZoneRefreshes({
    api,
    idempotency,
    leases,
    unapplied,
    publisher,
    clock,
    log,
    maxReceiveCount: 3,
    claimHoldMs: 15 * MINUTE,
    ...(options.leaseWaitMs !== undefined ? { leaseWaitMs: options.leaseWaitMs } : {}),
    timing: { pollIntervalMs: 10, taskTimeoutMs: 1_000, zoneBudgetMs: 2_000 },
  });
  const run = (records: IncomingZoneRefresh[]) => process(records, { deadline: clock.t + 10 * MINUTE });
  let n = 0;
  const refresh = (
    detail: Partial<ZoneRefreshRequestedDetail> = {},
    { source = 'stickler.cli', receiveCount = 1, replay = false } = {},
  ): IncomingZoneRefresh => {
    n++;
    const body = JSON.stringify({
      version: '0',
      id: `event-${n}`,
      'detail-type': 'Zone Refresh Requested',
      source,
      account: '123456789012',
      time: clock.now().toISOString(),
      region: 'eu-west-3',
      resources: [],
      ...(replay ? { 'replay-name': 'r-1' } : {}),
      detail: {
        refreshId: 'refresh-1',
        service: 'lb-a',
        zone: 'gra',
        actor: { kind: 'cli', id: 'arn:aws:iam::123456789012:user/ops' },
        requestedAt: clock.now().toISOString(),
        ifPending: 1,
        lookedAt: clock.now().toISOString(),
        ...detail,
      },
    });
    return {
      recordId: `msg-${n}`,
      receiveCount,
      sentAt: clock.now(),
      parsed: parseZoneRefreshBody(`msg-${n}`, body),
    };
  };
  /** Someone stores an edit of farm `farmId` without applying its zone (a control panel, a failed refresh). */
  const edit = (farmId: number) => {
    const farm = [...api.services.get('lb-a')!.values()].find((f) => f.farmId === farmId)!;
    farm.stored = farm.stored === 'cookie' ? 'sourceIp' : 'cookie';
  };
  const events = () =>
    publisher.published.map((e) => ({ type: e.detailType, ...(e.detail as ZoneRefreshAuditDetail) }));
  return { clock, api, idempotency, leases, unapplied, publisher, log, run, refresh, edit, events };
};

describe('processZoneRefreshes (use case, through in-memory ports)', () => {
  it("applies a zone holding the approved count: one Zone Refresh Applied with its task, and forgets the zone's own-unapplied record", async () => {
    const h = setup();
    h.edit(1);
    await h.unapplied.remember({
      service: 'lb-a',
      zone: 'gra',
      pending: 1,
      farms: [],
      doneRefreshes: [],
      at: h.clock.now().toISOString(),
    });
    const result = await h.run([h.refresh({ reason: 'finish OPS-7' })]);
    expect([...result.fates.values()]).toEqual(['applied']);
    expect(result.retry).toEqual([]);
    expect(h.api.refreshes).toEqual([{ service: 'lb-a', zone: 'gra' }]);
    expect(h.events()).toEqual([
      expect.objectContaining({
        type: 'Zone Refresh Applied',
        schemaVersion: 2,
        auditId: '~refresh:refresh-1:applied',
        refreshId: 'refresh-1',
        outcome: 'applied',
        origin: expect.objectContaining({ source: 'stickler.cli' }),
        actor: { kind: 'cli', id: 'arn:aws:iam::123456789012:user/ops' },
        requestReason: 'finish OPS-7',
        service: 'lb-a',
        zone: 'gra',
        ifPending: 1,
        pending: 1,
        refresh: { zone: 'gra', taskId: 1, status: 'done' },
        retryable: null,
      }),
    ]);
    expect(h.unapplied.records.size).toBe(0);
    expect(h.leases.held.size).toBe(0);
    // The record keeps the terminal outcome, for whoever follows the refresh.
    expect((await h.idempotency.status(['~refresh:refresh-1'])).get('~refresh:refresh-1')).toMatchObject({
      state: 'completed',
      terminal: { outcome: 'applied', service: 'lb-a', zone: 'gra', taskId: 1 },
    });
  });

  it('is carried out once: the same refresh published twice, in one batch or in two, refreshes once', async () => {
    const h = setup();
    h.edit(1);
    const first = await h.run([h.refresh(), h.refresh()]);
    expect([...first.fates.values()]).toEqual(['applied', 'duplicate']);
    h.edit(2); // a new change in the zone since: the redelivery must not apply it
    const again = await h.run([h.refresh()]);
    expect([...again.fates.values()]).toEqual(['duplicate']);
    expect(h.api.refreshes).toHaveLength(1);
    expect(h.events()).toHaveLength(1);
  });

  it('says unchanged when the zone holds nothing unapplied any more, refreshing nothing', async () => {
    const h = setup();
    await h.run([h.refresh({ ifPending: 2 })]);
    expect(h.events()).toEqual([
      expect.objectContaining({ type: 'Zone Refresh Unchanged', code: 'nothing-pending', pending: 0 }),
    ]);
    expect(h.api.refreshes).toEqual([]);
  });

  it('refuses changed-since when the zone holds another count than the approved one: someone wrote since', async () => {
    const h = setup();
    h.edit(1);
    h.edit(2);
    const result = await h.run([h.refresh({ ifPending: 1 })]);
    expect([...result.fates.values()]).toEqual(['refused']);
    expect(h.events()).toEqual([
      expect.objectContaining({
        type: 'Zone Refresh Refused',
        code: 'changed-since',
        ifPending: 1,
        pending: 2,
        retryable: null,
      }),
    ]);
    expect(h.events()[0]!.message).toContain('holds 2 unapplied change(s), not the 1 approved');
    expect(h.api.refreshes).toEqual([]);
  });

  it('refuses a zone or a load balancer that does not exist', async () => {
    const h = setup();
    h.api.failures.fail(
      'listZones',
      new (await import('../../lib/domain/errors')).NotFoundError('load balancer lb-x was not found'),
    );
    await h.run([h.refresh({ refreshId: 'r-x', service: 'lb-x' })]);
    h.api.failures.heal('listZones');
    await h.run([h.refresh({ refreshId: 'r-y', zone: 'bhs' })]);
    expect(h.events().map((e) => [e.type, e.code])).toEqual([
      ['Zone Refresh Refused', 'unknown-service'],
      ['Zone Refresh Refused', 'unknown-zone'],
    ]);
    expect(h.events()[1]!.message).toContain('its zones: gra, sbg, or all');
  });

  it("refuses a refresh a publisher other than stickler's doors sent, a malformed one and a replayed one", async () => {
    const h = setup();
    h.edit(1);
    await h.run([
      h.refresh({ refreshId: 'r-foreign' }, { source: 'acme.deploys' }),
      h.refresh({ refreshId: 'r-bad', ifPending: -1 }),
      h.refresh({ refreshId: 'r-old' }, { replay: true }),
    ]);
    expect(h.events().map((e) => [e.refreshId, e.code])).toEqual([
      ['r-foreign', 'not-allowed'],
      ['r-bad', 'invalid-refresh'],
      ['r-old', 'replayed'],
    ]);
    expect(h.events()[0]!.message).toContain("'acme.deploys' may not");
    expect(h.api.refreshes).toEqual([]);
  });

  it('refuses a refreshId used again for another refresh, once, and keeps the first', async () => {
    const h = setup();
    h.edit(1);
    await h.run([h.refresh()]);
    await h.run([h.refresh({ zone: 'sbg' })]);
    await h.run([h.refresh({ zone: 'sbg' })]);
    expect(h.events().map((e) => [e.type, e.code])).toEqual([
      ['Zone Refresh Applied', 'applied'],
      ['Zone Refresh Refused', 'id-reused'],
    ]);
  });

  it("refuses changed-since a zone applied after the look, even holding as many changes again (someone else's)", async () => {
    const h = setup();
    h.edit(1);
    const lookedAt = h.clock.now().toISOString(); // the operator sees 1 change (edit A)
    h.clock.advance(MINUTE);
    await h.api.refresh('lb-a', 'gra'); // someone applies edit A
    h.clock.advance(MINUTE);
    h.edit(2); // and stores edit B: the zone holds 1 again
    await h.run([h.refresh({ lookedAt })]);
    expect(h.events()).toEqual([
      expect.objectContaining({
        outcome: 'refused',
        code: 'changed-since',
        message: expect.stringMatching(/was applied since the count was read .*refresh task 1 applied it/),
      }),
    ]);
    expect(h.api.refreshes).toHaveLength(1); // only the other one
  });

  it('refuses a look over an hour old (stale) or ahead of the clock (implausible-time), before any OVH call', async () => {
    const h = setup();
    h.edit(1);
    const old = new Date(h.clock.t - 61 * MINUTE).toISOString();
    const ahead = new Date(h.clock.t + 10 * MINUTE).toISOString();
    await h.run([h.refresh({ refreshId: 'refresh-old', lookedAt: old, requestedAt: old })]);
    await h.run([h.refresh({ refreshId: 'refresh-ahead', lookedAt: ahead })]);
    await h.run([h.refresh({ refreshId: 'refresh-asked-ahead', requestedAt: ahead })]);
    expect(h.events().map((e) => [e.refreshId, e.outcome, e.code])).toEqual([
      ['refresh-old', 'refused', 'stale'],
      ['refresh-ahead', 'refused', 'implausible-time'],
      ['refresh-asked-ahead', 'refused', 'implausible-time'],
    ]);
    expect(h.api.refreshes).toEqual([]);
  });

  it('hands a refresh back while another batch holds its load balancer, after waiting for the lease a little', async () => {
    const h = setup({ leaseWaitMs: 2_000 });
    h.edit(1);
    h.leases.held.set('lb-a', { owner: 'another batch', until: h.clock.t + MINUTE });
    const start = h.clock.t;
    const lookedAt = h.clock.now().toISOString(); // the redelivery is the same message
    const result = await h.run([h.refresh({ lookedAt })]);
    expect(result.retry).toEqual([{ recordId: 'msg-1', delaySeconds: 5 }]);
    expect([...result.fates.values()]).toEqual(['retry']);
    expect(h.clock.t - start).toBeGreaterThan(0);
    expect(h.clock.t - start).toBeLessThanOrEqual(2_000);
    expect(h.events()).toEqual([]);
    expect(h.api.refreshes).toEqual([]);
    // Once the lease is free, the redelivery carries it out.
    h.leases.held.delete('lb-a');
    await h.run([h.refresh({ lookedAt }, { receiveCount: 2 })]);
    expect(h.events().map((e) => e.outcome)).toEqual(['applied']);
  });

  it('hands a retryable OVH failure back to the queue, and audits it failed dead-lettered on the last receive', async () => {
    const h = setup();
    h.edit(1);
    h.api.failures.fail('pendingChanges');
    const first = await h.run([h.refresh({}, { receiveCount: 1 })]);
    expect(first.retry).toEqual([{ recordId: 'msg-1', delaySeconds: 5 }]);
    expect(h.idempotency.records.get('~refresh:refresh-1')?.state).toBe('open');
    expect(h.leases.held.size).toBe(0);
    const last = await h.run([h.refresh({}, { receiveCount: 3 })]);
    expect(last.retry).toEqual([]);
    expect([...last.fates.values()]).toEqual(['failed']);
    expect(h.events()).toEqual([
      expect.objectContaining({ type: 'Zone Refresh Failed', code: 'dead-lettered', retryable: true }),
    ]);
    expect(h.events()[0]!.message).toContain('gave up after 3 attempts');
    // Final: a redrive changes nothing and emits nothing.
    h.api.failures.heal('pendingChanges');
    await h.run([h.refresh({}, { receiveCount: 1 })]);
    expect(h.events()).toHaveLength(1);
    expect(h.api.refreshes).toEqual([]);
  });

  it('audits failed a refresh whose task keeps ending in error, and an OVH error no retry mends', async () => {
    const h = setup();
    h.edit(1);
    h.api.taskStatus = 'error';
    await h.run([h.refresh()]);
    expect(h.api.refreshes).toHaveLength(3);
    expect(h.events().at(-1)).toMatchObject({
      type: 'Zone Refresh Failed',
      code: 'refresh-failed',
      retryable: true,
      refresh: { zone: 'gra', status: 'error' },
    });
    const { SticklerError } = await import('../../lib/domain/errors');
    h.api.failures.fail('pendingChanges', new SticklerError('forbidden', 'OVH refused: 403'));
    await h.run([h.refresh({ refreshId: 'refresh-2' })]);
    expect(h.events().at(-1)).toMatchObject({
      type: 'Zone Refresh Failed',
      code: 'ovh-error',
      retryable: false,
    });
  });

  it('hands a refresh back when the invocation has no time left for a zone', async () => {
    const h = setup();
    h.edit(1);
    const process = makeProcessZoneRefreshes({
      api: h.api,
      idempotency: h.idempotency,
      leases: h.leases,
      unapplied: h.unapplied,
      publisher: h.publisher,
      clock: h.clock,
      log: h.log,
      maxReceiveCount: 3,
      claimHoldMs: MINUTE,
      timing: { pollIntervalMs: 10, taskTimeoutMs: 1_000, zoneBudgetMs: 5 * MINUTE },
    });
    const result = await process([h.refresh()], { deadline: h.clock.t + MINUTE });
    expect(result.retry).toHaveLength(1);
    expect(h.api.refreshes).toEqual([]);
    expect(h.leases.held.size).toBe(0);
  });

  it('publishes later what the bus did not take, without refreshing again', async () => {
    const h = setup();
    h.edit(1);
    h.publisher.refuse = () => true;
    const first = await h.run([h.refresh()]);
    expect([...first.fates.values()]).toEqual(['audit-pending']);
    expect(first.retry).toHaveLength(1);
    h.publisher.refuse = () => false;
    const second = await h.run([h.refresh({}, { receiveCount: 2 })]);
    expect([...second.fates.values()]).toEqual(['applied']);
    expect(h.events().map((e) => e.type)).toEqual(['Zone Refresh Applied']);
    expect(h.api.refreshes).toHaveLength(1);
  });
});
