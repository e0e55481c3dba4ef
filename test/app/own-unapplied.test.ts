/**
 * A zone left holding stickler's own unapplied writes (its refresh failed after the writes) is
 * recorded, and a later attempt applies it; anything that makes the zone's changes possibly
 * someone else's keeps it untouched (the worker waits, as for any foreign change).
 */
import { type ApplyOptions, DEFAULT_APPLY_OPTIONS, type Failure } from '../../lib/app/apply-plan';
import { makeApplyRequests } from '../../lib/app/apply-requests';
import { makeOwnUnapplied } from '../../lib/app/own-unapplied';
import type { ChangeRequest } from '../../lib/domain/change-request';
import { aChangeRequest } from '../helpers/factories';
import { FakeClock, InMemoryLoadBalancerApi, InMemoryUnappliedZones } from '../helpers/fakes';

const WORKER: ApplyOptions = { ...DEFAULT_APPLY_OPTIONS, foreignPending: 'retry', pollIntervalMs: 1_000 };
const LB = 'loadbalancer-own';

const setup = (withStore = true) => {
  const clock = new FakeClock();
  const api = new InMemoryLoadBalancerApi(clock)
    .addFarm(LB, { type: 'http', farmId: 1, zone: 'gra', stored: null })
    .addFarm(LB, { type: 'http', farmId: 2, zone: 'gra', stored: null })
    .addFarm(LB, { type: 'http', farmId: 3, zone: 'rbx', stored: null });
  const store = new InMemoryUnappliedZones();
  const apply = makeApplyRequests({ api, clock, ...(withStore ? { unapplied: store } : {}) });
  const request = (farmId: number, over: Partial<ChangeRequest> = {}) =>
    aChangeRequest({
      requestId: `r-${farmId}-${over.stickiness ?? 'cookie'}`,
      service: LB,
      farmType: 'http',
      farmId,
      stickiness: 'cookie',
      ...over,
    });
  return { clock, api, store, apply, request };
};

/** Farm 1 set to cookie, and every refresh of its zone ends in error: the zone keeps the write unapplied. */
const leaveUnapplied = async (s: ReturnType<typeof setup>, options: ApplyOptions = WORKER) => {
  s.api.taskStatus = 'error';
  const { report } = await s.apply([s.request(1)], options);
  s.api.taskStatus = 'done';
  return report;
};

const only = (failed: Failure[]) => {
  expect(failed).toHaveLength(1);
  return failed[0]!;
};

describe('own unapplied writes', () => {
  it('reports a zone whose refresh failed after the writes at once, and records it as its own', async () => {
    const s = setup();
    const report = await leaveUnapplied(s);
    const failure = only(report.failed);
    expect(failure).toMatchObject({ code: 'refresh-failed', retryable: false });
    expect(failure.reason).toContain(
      "recorded as stickler's own: the next change request in this zone applies them along (or, once the cause is fixed, 'stickler refresh loadbalancer-own gra')",
    );
    expect([...s.store.records.values()]).toEqual([
      {
        service: LB,
        zone: 'gra',
        pending: 1,
        farms: [{ type: 'http', farmId: 1, stickiness: 'cookie' }],
        doneRefreshes: [],
        at: s.clock.now().toISOString(),
      },
    ]);
    expect(s.api.farm({ service: LB, type: 'http', farmId: 1 })).toMatchObject({
      stored: 'cookie',
      applied: null,
    });
  });

  it('applies the zone for the next request of that farm (say, a redrive) and forgets the record', async () => {
    const s = setup();
    await leaveUnapplied(s);
    const refreshesBefore = s.api.refreshes.length;
    const { report } = await s.apply([s.request(1)], WORKER);
    expect(report.failed).toEqual([]);
    expect(report.applied.map((a) => a.change.farm.farmId)).toEqual([1]);
    expect(s.api.refreshes.slice(refreshesBefore)).toEqual([{ service: LB, zone: 'gra' }]);
    expect(s.api.farm({ service: LB, type: 'http', farmId: 1 })).toMatchObject({ applied: 'cookie' });
    expect(s.store.records.size).toBe(0);
  });

  it('lets a new change in that zone through, carrying the earlier write along in one refresh', async () => {
    const s = setup();
    await leaveUnapplied(s);
    const before = s.api.refreshes.length;
    const { report } = await s.apply([s.request(2, { stickiness: 'sourceIp' })], WORKER);
    expect(report.failed).toEqual([]);
    expect(report.applied).toHaveLength(1);
    expect(s.api.refreshes.length - before).toBe(1);
    expect(s.api.farm({ service: LB, type: 'http', farmId: 1 })).toMatchObject({ applied: 'cookie' });
    expect(s.store.records.size).toBe(0);
  });

  it('still trusts the record after a refresh of another zone of the load balancer', async () => {
    const s = setup();
    await leaveUnapplied(s);
    await s.api.setStickiness({ service: LB, type: 'http', farmId: 3 }, 'sourceIp');
    await s.api.refresh(LB, 'rbx');
    const { report } = await s.apply([s.request(1)], WORKER);
    expect(report.failed).toEqual([]);
    expect(report.applied).toHaveLength(1);
  });

  it('does not touch the zone when someone else wrote in it meanwhile (one more unapplied change)', async () => {
    const s = setup();
    await leaveUnapplied(s);
    await s.api.setStickiness({ service: LB, type: 'http', farmId: 2 }, 'sourceIp');
    const before = s.api.refreshes.length;
    const { report } = await s.apply([s.request(1)], WORKER);
    expect(only(report.failed)).toMatchObject({ code: 'foreign-pending', retryable: true });
    expect(s.api.refreshes.length).toBe(before);
    expect(s.api.farm({ service: LB, type: 'http', farmId: 2 })).toMatchObject({ applied: null });
  });

  it('does not touch the zone when someone applied it since and then wrote as many changes', async () => {
    const s = setup();
    await leaveUnapplied(s);
    await s.api.refresh(LB, 'gra'); // someone else applies the zone: stickler's write is live
    await s.api.setStickiness({ service: LB, type: 'http', farmId: 2 }, 'sourceIp'); // and edits one farm
    const before = s.api.refreshes.length;
    const { report } = await s.apply(
      [s.request(1, { stickiness: 'sourceIp', requestId: 'r-later' })],
      WORKER,
    );
    expect(report.applied).toEqual([]);
    expect(only(report.failed)).toMatchObject({ code: 'foreign-pending', retryable: true });
    expect(s.api.refreshes.length).toBe(before);
    expect(s.api.farm({ service: LB, type: 'http', farmId: 2 })).toMatchObject({ applied: null });
    expect(s.store.records.size).toBe(0); // the stale record is dropped
  });

  it('keeps the zone counted as foreign when the record cannot be read', async () => {
    const s = setup();
    await leaveUnapplied(s);
    s.store.failures.fail('read');
    const before = s.api.refreshes.length;
    const { report } = await s.apply([s.request(1)], WORKER);
    expect(only(report.failed)).toMatchObject({ code: 'foreign-pending', retryable: true });
    expect(s.api.refreshes.length).toBe(before);
  });

  it('keeps the zone counted as foreign when the refresh tasks cannot be looked at', async () => {
    const s = setup();
    await leaveUnapplied(s);
    s.api.failures.fail('listTasks');
    const own = makeOwnUnapplied({ api: s.api, store: s.store, clock: s.clock });
    const { own: trusted, recorded } = await own.trusted(LB, [{ zone: 'gra', number: 1 }]);
    expect(trusted.size).toBe(0);
    expect([...recorded]).toEqual(['gra']);
  });

  it('reports the failure for an operator when the record cannot be kept; the zone then stays foreign', async () => {
    const s = setup();
    s.store.failures.fail('remember');
    const failure = only((await leaveUnapplied(s)).failed);
    expect(failure).toMatchObject({ code: 'refresh-failed', retryable: false });
    expect(failure.reason).toContain(
      `unapplied changes: once the cause is fixed, apply it with 'stickler refresh ${LB} gra'`,
    );
    s.store.failures.heal('remember');
    const { report } = await s.apply([s.request(2)], WORKER);
    expect(only(report.failed)).toMatchObject({ code: 'foreign-pending', retryable: true });
  });

  it('records nothing without a store (the CLI): the failure names the command to run', async () => {
    const s = setup(false);
    const failure = only((await leaveUnapplied(s, DEFAULT_APPLY_OPTIONS)).failed);
    expect(failure).toMatchObject({ code: 'refresh-failed', retryable: false });
    expect(failure.reason).toContain(`'stickler refresh ${LB} gra'`);
    const { report } = await s.apply([s.request(1)], DEFAULT_APPLY_OPTIONS);
    expect(report.refused.map((r) => r.code)).toEqual(['foreign-pending']);
  });

  it('never trusts a load balancer reporting unapplied changes in zone all', async () => {
    const s = setup();
    await leaveUnapplied(s);
    const own = makeOwnUnapplied({ api: s.api, store: s.store, clock: s.clock });
    const { own: trusted } = await own.trusted(LB, [
      { zone: 'gra', number: 1 },
      { zone: 'all', number: 1 },
    ]);
    expect(trusted.size).toBe(0);
  });

  it('does not trust a record after more refreshes than it can look at', async () => {
    const s = setup();
    await leaveUnapplied(s);
    for (let i = 0; i < 21; i++) {
      await s.api.setStickiness({ service: LB, type: 'http', farmId: 3 }, i % 2 ? 'sourceIp' : 'cookie');
      await s.api.refresh(LB, 'rbx');
    }
    const own = makeOwnUnapplied({ api: s.api, store: s.store, clock: s.clock });
    expect((await own.trusted(LB, [{ zone: 'gra', number: 1 }])).own.size).toBe(0);
  });

  it('records nothing when the zone holds other than what stickler wrote (none, or more), or no farm is named', async () => {
    const s = setup();
    const own = makeOwnUnapplied({ api: s.api, store: s.store, clock: s.clock });
    const farm1 = [{ type: 'http' as const, farmId: 1, stickiness: 'cookie' as const }];
    expect(await own.remember(LB, 'gra', 1, farm1)).toBe(false); // nothing unapplied there
    expect(await own.remember(LB, 'all', 1, farm1)).toBe(false);
    await s.api.setStickiness({ service: LB, type: 'http', farmId: 1 }, 'cookie');
    await s.api.setStickiness({ service: LB, type: 'http', farmId: 2 }, 'cookie');
    expect(await own.remember(LB, 'gra', 1, farm1)).toBe(false); // one more than stickler wrote
    expect(await own.remember(LB, 'gra', 2, [])).toBe(false);
    s.api.failures.fail('pendingChanges');
    expect(await own.remember(LB, 'gra', 2, farm1)).toBe(false);
    expect(s.store.records.size).toBe(0);
  });

  it("never takes an operator's edit, stored while the worker's refresh keeps failing, for the worker's own", async () => {
    const s = setup();
    // The worker writes farm 1; while its refresh tasks fail, an operator stores an edit of farm 2.
    s.api.taskStatus = 'error';
    const refresh = s.api.refresh.bind(s.api);
    let edited = false;
    s.api.refresh = async (service, zone) => {
      if (!edited) {
        edited = true;
        await s.api.setStickiness({ service: LB, type: 'http', farmId: 2 }, 'sourceIp');
      }
      return refresh(service, zone);
    };
    const first = await s.apply([s.request(1)], WORKER);
    s.api.taskStatus = 'done';
    s.api.refresh = refresh;
    expect(only(first.report.failed)).toMatchObject({ code: 'refresh-failed' });
    expect(s.store.records.size).toBe(0); // two unapplied changes, one of them the worker's: not recorded
    // The next request there does not push the operator's edit live.
    const before = s.api.refreshes.length;
    const { report } = await s.apply([s.request(1)], WORKER);
    expect(only(report.failed)).toMatchObject({ code: 'foreign-pending', retryable: true });
    expect(s.api.refreshes.length).toBe(before);
    expect(s.api.farm({ service: LB, type: 'http', farmId: 2 })).toMatchObject({ applied: null });
  });

  it('stops trusting a record when a farm it names stores another value (someone changed it, as many edits as before)', async () => {
    const s = setup();
    await leaveUnapplied(s);
    // An edit that replaces the worker's in the count's eyes cannot hide: farm 1 stores another value.
    s.api.farm({ service: LB, type: 'http', farmId: 1 })!.stored = 'sourceIp';
    const own = makeOwnUnapplied({ api: s.api, store: s.store, clock: s.clock });
    expect((await own.trusted(LB, [{ zone: 'gra', number: 1 }])).own.size).toBe(0);
    expect(s.store.records.size).toBe(0);
  });
});
