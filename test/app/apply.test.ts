import { type ApplyOptions, makeApplyPlan } from '../../lib/app/apply-plan';
import { makeApplyRequests } from '../../lib/app/apply-requests';
import { makeDiscoverFleet } from '../../lib/app/discover-fleet';
import type { ChangeRequest } from '../../lib/domain/change-request';
import { planFromPolicy } from '../../lib/domain/plan';
import { parsePolicy } from '../../lib/domain/policy-file';
import { systemClock } from '../../lib/ports/clock';
import { aChangeRequest } from '../helpers/factories';
import { type SimulatorHarness, startHarness } from '../helpers/simulator';

const options: ApplyOptions = { allowForeignPending: false, taskTimeoutMs: 2_000, pollIntervalMs: 10 };

const policy = parsePolicy(
  [
    'version: 1',
    'rules:',
    '  - name: web keeps sessions',
    '    match: { type: http, displayName: "web-*" }',
    '    stickiness: cookie',
    '  - name: databases pinned by source',
    '    match: { type: tcp }',
    '    stickiness: sourceIp',
    '  - name: shop is stateless',
    '    match: { service: loadbalancer-bbb }',
    '    stickiness: none',
  ].join('\n'),
);

const request = (over: Partial<ChangeRequest>): ChangeRequest =>
  aChangeRequest({ requestId: 'req-1', service: 'loadbalancer-aaa', farmId: 2, ...over });

describe('policy reconcile against the simulator', () => {
  let h: SimulatorHarness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.close());

  const run = async (opts = options) => {
    const fleet = await makeDiscoverFleet({ api: h.api })();
    const plan = planFromPolicy(fleet, policy);
    return { plan, report: await makeApplyPlan({ api: h.api, clock: systemClock })(plan, opts) };
  };

  /** Restarts the harness with a fetch that fails some calls, then reconciles loadbalancer-bbb (one change, zone rbx). */
  const reconcileShopThrough = async (fetchOverride: typeof fetch, retry = {}) => {
    await h.close();
    h = await startHarness({}, { fetch: fetchOverride, retry });
    const fleet = await makeDiscoverFleet({ api: h.api })({ services: ['loadbalancer-bbb'] });
    return makeApplyPlan({ api: h.api, clock: systemClock })(planFromPolicy(fleet, policy), options);
  };
  const boom = (status: number) =>
    new Response(JSON.stringify({ class: 'Server::InternalServerError', message: 'boom' }), { status });

  it('writes only differing farms, refreshes each touched zone once, and converges', async () => {
    const { plan, report } = await run();
    expect(plan.changes.map((c) => `${c.farm.service}/${c.farm.farmId}:${c.from}->${c.to}`)).toEqual([
      'loadbalancer-aaa/2:null->cookie',
      'loadbalancer-bbb/10:sourceIp->null',
    ]);
    expect(h.sim.stats.calls['put-farm']).toBe(2);
    // Services are applied in parallel: either may finish first.
    expect(report.refreshes.map((r) => `${r.service}@${r.zone}:${r.status}`).sort()).toEqual([
      'loadbalancer-aaa@sbg:done',
      'loadbalancer-bbb@rbx:done',
    ]);
    expect(report.applied).toHaveLength(2);
    expect(report.failed).toEqual([]);
    const shop = h.sim.state.services.get('loadbalancer-bbb')!.farms.get('http/10')!;
    expect(shop.applied.get('rbx')?.stickiness).toBeNull();

    h.sim.resetStats();
    const again = await run();
    expect(again.plan.changes).toEqual([]);
    expect(h.sim.stats.calls['put-farm'] + h.sim.stats.calls.refresh).toBe(0);
  });

  it("leaves a zone holding someone else's pending edit alone, and applies the others", async () => {
    // Someone edits a farm in sbg in the control panel and does not apply it.
    const sbgFarm = h.sim.state.services.get('loadbalancer-aaa')!.farms.get('http/2')!;
    h.sim.state.updateFarm(h.sim.state.services.get('loadbalancer-aaa')!, sbgFarm, {
      displayName: 'web-sbg-new',
    });
    const { report } = await run();
    expect(report.refused).toEqual([
      expect.objectContaining({
        code: 'foreign-pending',
        reason: expect.stringContaining('zone sbg of loadbalancer-aaa'),
      }),
    ]);
    expect(report.applied.map((a) => a.change.farm.farmId)).toEqual([10]);
    expect(sbgFarm.stored.stickiness).toBeNull();
    expect(await h.api.pendingChanges('loadbalancer-aaa')).toEqual([{ zone: 'sbg', number: 1 }]);
  });

  it('applies over foreign pending edits only when told to', async () => {
    const service = h.sim.state.services.get('loadbalancer-aaa')!;
    h.sim.state.updateFarm(service, service.farms.get('http/2')!, { displayName: 'web-sbg-new' });
    const { report } = await run({ ...options, allowForeignPending: true });
    expect(report.refused).toEqual([]);
    expect(report.applied).toHaveLength(2);
  });

  it('tries a refresh that ends in error again, then reports its changes as stored but not applied', async () => {
    await h.close();
    h = await startHarness({ faults: { taskErrorRate: 1 } });
    const { report } = await run({ ...options, refreshAttempts: 2 });
    expect(report.applied).toEqual([]);
    expect(h.sim.stats.calls.refresh).toBe(4); // two zones, two attempts each
    expect(report.failed).toHaveLength(2);
    expect(report.failed[0]).toMatchObject({
      code: 'refresh-failed',
      retryable: false,
      reason: expect.stringMatching(
        /stored but not applied in zone \w+ of [\w-]+: refresh task \d+ ended error \(attempt 2 of 2\); .* apply it with 'stickler refresh [\w-]+ \w+'/,
      ),
    });
  });

  it('starts no further refresh attempt once out of time, and reports the zone failed instead', async () => {
    await h.close();
    h = await startHarness({ faults: { taskErrorRate: 1 } });
    // Time to start both zones, not for a second task.
    const deadline = Date.now() + 1_500;
    const { report } = await run({ ...options, refreshAttempts: 3, zoneBudgetMs: 1, deadline });
    expect(h.sim.stats.calls.refresh).toBe(2); // two zones, one attempt each
    expect(report.failed).toHaveLength(2);
    expect(report.failed[0]).toMatchObject({
      code: 'refresh-failed',
      reason: expect.stringMatching(/ended error \(attempt 1 of 3; no time left for another\)/),
    });
  });

  it('applies a zone whose first refresh task ended in error when a later attempt succeeds', async () => {
    await h.close();
    h = await startHarness({ faults: { taskErrorRate: 0.5, seed: 11 } });
    const { report } = await run({ ...options, refreshAttempts: 6 });
    expect(report.failed).toEqual([]);
    expect(report.applied).toHaveLength(2);
    expect(report.refreshes.filter((r) => r.status === 'error').length).toBeGreaterThan(0);
  });

  it('converges through seeded 5xx, 429 bursts and hangs, writing each drifted farm once', async () => {
    await h.close();
    h = await startHarness(
      {
        faults: {
          seed: 2027,
          serverErrorRate: 0.15,
          throttleRate: 0.05,
          throttleBurst: 2,
          retryAfterSeconds: 0,
          hangRate: 0.03,
        },
      },
      { timeoutMs: 150, retry: { maxAttempts: 8, baseDelayMs: 1, maxDelayMs: 10 } },
    );
    const { report } = await run();
    expect(report.failed).toEqual([]);
    expect(report.applied.map((a) => a.change.farm.farmId).sort()).toEqual([10, 2]);
    const { faults } = h.sim.stats;
    expect(faults.serverErrors + faults.throttled + faults.hangs).toBeGreaterThan(0);
    // A PUT that hung may have been stored before the timeout; what matters is the end state.
    const service = h.sim.state.services.get('loadbalancer-aaa')!;
    expect(service.farms.get('http/2')!.applied.get('sbg')?.stickiness).toBe('cookie');
    expect(await h.api.pendingChanges('loadbalancer-aaa')).toEqual([]);
  });

  it.each([
    ['processed the refresh, then answered 500', true],
    ['answered 500 without processing it', false],
  ])(
    'settles a refresh POST that %s: one zone apply on the server, the change applied',
    async (_, processed) => {
      let failedPosts = 0;
      const report = await reconcileShopThrough(async (input, init) => {
        if (init?.method === 'POST' && failedPosts++ === 0) {
          if (processed) await fetch(input, init);
          return boom(500);
        }
        return fetch(input, init);
      });
      expect(report.failed).toEqual([]);
      expect(report.applied).toHaveLength(1);
      expect(h.sim.stats.calls.refresh).toBe(1);
      expect(
        h.sim.state.services.get('loadbalancer-bbb')!.farms.get('http/10')!.applied.get('rbx')?.stickiness,
      ).toBeNull();
    },
  );

  it('never asks for a second refresh when following the first one fails: it settles it instead', async () => {
    let taskReads = 0;
    const report = await reconcileShopThrough(
      // The first read of the task fails (OVH down for a moment), later ones pass.
      async (input, init) =>
        /\/task\/\d+$/.test(String(input)) && ++taskReads <= 1 ? boom(503) : fetch(input, init),
      { maxAttempts: 1 },
    );
    expect(report.failed).toEqual([]);
    expect(report.applied).toHaveLength(1);
    expect(h.sim.stats.calls.refresh).toBe(1);
  });

  describe('a write answered with success that cannot be read (a cut answer, a proxy page)', () => {
    const shop = () => h.sim.state.services.get('loadbalancer-bbb')!.farms.get('http/10')!;

    it.each(['cut-json', 'html'] as const)(
      'reads the farm again: stored, so its zone is applied (%s)',
      async (body) => {
        h.sim.faults.garbled = { calls: ['put-farm'], body };
        const fleet = await makeDiscoverFleet({ api: h.api })({ services: ['loadbalancer-bbb'] });
        const report = await makeApplyPlan({ api: h.api, clock: systemClock })(
          planFromPolicy(fleet, policy),
          options,
        );
        expect(report.failed).toEqual([]);
        expect(report.applied).toHaveLength(1);
        expect(h.sim.stats.calls['put-farm']).toBe(1);
        expect(h.sim.stats.calls.refresh).toBe(1);
        expect(shop().applied.get('rbx')?.stickiness).toBeNull();
      },
    );

    it('reads the farm again: not stored, so the write failed and nothing is refreshed', async () => {
      h.sim.faults.garbled = { calls: ['put-farm'], body: 'html', carriedOut: false };
      const fleet = await makeDiscoverFleet({ api: h.api })({ services: ['loadbalancer-bbb'] });
      const report = await makeApplyPlan({ api: h.api, clock: systemClock })(
        planFromPolicy(fleet, policy),
        options,
      );
      expect(report.applied).toEqual([]);
      expect(report.failed).toEqual([
        expect.objectContaining({
          code: 'write-failed',
          reason: expect.stringMatching(
            /could not store the new stickiness: .*an HTML page.*; the farm, read again, does not store it/,
          ),
        }),
      ]);
      expect(h.sim.stats.calls.refresh ?? 0).toBe(0);
      expect(shop().stored.stickiness).toBe('sourceIp');
    });

    it('says the outcome is unknown when the farm cannot be read again either', async () => {
      let putDone = false;
      const report = await reconcileShopThrough(
        async (input, init) => {
          if (init?.method === 'PUT') {
            await fetch(input, init);
            putDone = true;
            return new Response('<html><body>Bad gateway</body></html>', { status: 200 });
          }
          if (putDone && /\/farm\/10$/.test(String(input))) return boom(503);
          return fetch(input, init);
        },
        { maxAttempts: 2 },
      );
      expect(report.applied).toEqual([]);
      expect(report.failed).toEqual([
        expect.objectContaining({
          code: 'outcome-unknown',
          retryable: false,
          reason: expect.stringContaining("outcome unknown: the write's answer could not be read"),
        }),
      ]);
      expect(report.failed[0]!.reason).toContain("'stickler show loadbalancer-bbb'");
      // Its zone held nothing else: not refreshed, left for the operator to look at.
      expect(h.sim.stats.calls.refresh ?? 0).toBe(0);
    });
  });

  it('says the outcome is unknown, not "not applied", when neither the task nor the zone can be read', async () => {
    let refreshed = false;
    const report = await reconcileShopThrough(
      async (input, init) => {
        if (init?.method === 'POST') {
          refreshed = true;
          return fetch(input, init);
        }
        // After the refresh, OVH answers no read of its task or of the zone's pending changes.
        if (refreshed && /\/(task\/\d+|pendingChanges)$/.test(new URL(String(input)).pathname))
          return boom(503);
        return fetch(input, init);
      },
      { maxAttempts: 1 },
    );
    expect(report.applied).toEqual([]);
    expect(report.failed).toEqual([
      expect.objectContaining({
        code: 'outcome-unknown',
        retryable: false,
        reason: expect.stringMatching(
          /^outcome unknown in zone rbx of loadbalancer-bbb: .*could not follow task/,
        ),
      }),
    ]);
    expect(report.failed[0]!.reason).not.toContain('not applied');
    expect(report.refreshes.map((r) => r.status)).toEqual(['unknown']);
    expect(h.sim.stats.calls.refresh).toBe(1); // asked once, never again blindly
  });

  it('on interrupt, applies the zone whose writes had begun and starts no other', async () => {
    const webOnly = parsePolicy(
      'version: 1\nrules:\n  - match: { displayName: "web-*" }\n    stickiness: sourceIp\n',
    );
    const fleet = await makeDiscoverFleet({ api: h.api })({ services: ['loadbalancer-aaa'] });
    const controller = new AbortController();
    const report = await makeApplyPlan({
      api: h.api,
      clock: systemClock,
      onProgress: (e) => e.kind === 'written' && controller.abort(),
    })(planFromPolicy(fleet, webOnly), { ...options, signal: controller.signal });
    expect(report.applied.map((a) => `${a.change.farm.zone}/${a.change.farm.farmId}`)).toEqual(['gra/1']);
    expect(report.failed).toEqual([
      expect.objectContaining({
        code: 'interrupted',
        retryable: true,
        ref: expect.objectContaining({ farmId: 2 }),
      }),
    ]);
    expect(h.sim.stats.calls['put-farm']).toBe(1);
    expect(await h.api.pendingChanges('loadbalancer-aaa')).toEqual([]);
  });

  it('writes nothing when interrupted before it starts', async () => {
    const fleet = await makeDiscoverFleet({ api: h.api })();
    const report = await makeApplyPlan({ api: h.api, clock: systemClock })(planFromPolicy(fleet, policy), {
      ...options,
      signal: AbortSignal.abort(),
    });
    expect(report.failed.map((f) => f.code)).toEqual(['interrupted', 'interrupted']);
    expect(h.sim.stats.calls['put-farm'] + h.sim.stats.calls.refresh).toBe(0);
  });

  it('waits for a refresh already running before writing', async () => {
    const running = await h.api.refresh('loadbalancer-bbb', 'rbx');
    const events: string[] = [];
    const fleet = await makeDiscoverFleet({ api: h.api })({ services: ['loadbalancer-bbb'] });
    await makeApplyPlan({
      api: h.api,
      clock: systemClock,
      onProgress: (e) => events.push(e.kind === 'waiting-for-running-tasks' ? `wait:${e.taskIds}` : e.kind),
    })(planFromPolicy(fleet, policy), options);
    expect(events).toEqual([`wait:${running.id}`, 'written', 'refresh-started', 'refresh-finished']);
  });

  it('does not refresh a zone someone else wrote to after this run read it, and says so', async () => {
    // A second operator stores a change in the same zone right after this run's write.
    const setStickiness = h.api.setStickiness.bind(h.api);
    const api = Object.assign(Object.create(h.api), {
      setStickiness: async (
        ref: Parameters<typeof setStickiness>[0],
        to: Parameters<typeof setStickiness>[1],
      ) => {
        await setStickiness(ref, to);
        await setStickiness({ service: 'loadbalancer-aaa', type: 'tcp', farmId: 3 }, null);
      },
    });
    const { report } = await makeApplyRequests({ api, clock: systemClock })(
      [request({ service: 'loadbalancer-aaa', farmId: 1, stickiness: 'none' })],
      options,
    );
    expect(h.sim.stats.calls.refresh ?? 0).toBe(0);
    expect(report.failed).toEqual([
      expect.objectContaining({
        code: 'refresh-failed',
        reason: expect.stringContaining('someone else changed it meanwhile'),
      }),
    ]);
  });

  it('runs two applies of the same change at once without refreshing the zone twice', async () => {
    await h.close();
    h = await startHarness({ faults: { latencyMs: 50 } });
    const apply = () =>
      makeApplyRequests({ api: h.api, clock: systemClock })(
        [request({ service: 'loadbalancer-bbb', farmId: 10, stickiness: 'cookie' })],
        options,
      );
    const [a, b] = await Promise.all([apply(), apply()]);
    expect(h.sim.stats.calls.refresh ?? 0).toBeLessThanOrEqual(1);
    const outcomes = [a, b].map(({ report }) =>
      report.applied.length ? 'applied' : report.failed.length ? 'failed' : 'unchanged',
    );
    // Either one run applied the zone and the other found it applied, or both refused to push the other's write.
    expect(outcomes.sort()).toEqual(
      expect.arrayContaining([expect.stringMatching(/applied|failed|unchanged/)]),
    );
    if (h.sim.stats.calls.refresh === 1)
      expect(
        h.sim.state.services.get('loadbalancer-bbb')!.farms.get('http/10')!.applied.get('rbx')?.stickiness,
      ).toBe('cookie');
  });

  it('refreshes zone all once when an all-zone farm changes, carrying the per-zone changes along', async () => {
    const allPolicy = parsePolicy(
      'version: 1\nrules:\n  - match: { service: loadbalancer-aaa, type: http }\n    stickiness: sourceIp\n',
    );
    const fleet = await makeDiscoverFleet({ api: h.api })();
    const report = await makeApplyPlan({ api: h.api, clock: systemClock })(
      planFromPolicy(fleet, allPolicy),
      options,
    );
    expect(report.refreshes.map((r) => [r.zone, r.changes, r.status])).toEqual([['all', 3, 'done']]);
    const farm = h.sim.state.services.get('loadbalancer-aaa')!.farms.get('http/5')!;
    expect([...farm.applied.values()].map((c) => c.stickiness)).toEqual(['sourceIp', 'sourceIp']);
  });
});

describe('change requests against the simulator', () => {
  let h: SimulatorHarness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.close());
  const apply = (requests: ChangeRequest[], opts = options) =>
    makeApplyRequests({ api: h.api, clock: systemClock })(requests, opts);

  it('gives every request one outcome: applied, unchanged, refused or superseded', async () => {
    const { report } = await apply([
      request({ requestId: 'old', farmId: 2, stickiness: 'sourceIp', requestedAt: '2026-11-25T09:00:00Z' }),
      request({ requestId: 'new', farmId: 2, stickiness: 'cookie' }),
      request({ requestId: 'same', farmId: 1, stickiness: 'cookie' }),
      request({ requestId: 'tcp-cookie', farmType: 'tcp', farmId: 3, stickiness: 'cookie' }),
      request({ requestId: 'missing', farmId: 404 }),
    ]);
    expect(report.applied.map((a) => a.change.origin)).toEqual([{ kind: 'request', requestId: 'new' }]);
    expect(report.unchanged.map((u) => u.origin)).toEqual([{ kind: 'request', requestId: 'same' }]);
    const refused = Object.fromEntries(
      report.refused.map((r) => [(r.origin as { requestId: string }).requestId, r.code]),
    );
    expect(refused).toEqual({ old: 'superseded', 'tcp-cookie': 'invalid-target', missing: 'farm-not-found' });
    expect(h.sim.stats.calls['put-farm']).toBe(1);
    expect(h.sim.stats.rejected.validation).toBe(1); // the 404 of the missing farm, no refused write
  });

  it('refuses cookie on a TCP farm without a single write', async () => {
    const { report } = await apply([request({ farmType: 'tcp', farmId: 3, stickiness: 'cookie' })]);
    expect(report.refused[0]).toMatchObject({ code: 'invalid-target' });
    expect(h.sim.stats.calls['put-farm'] + h.sim.stats.calls.refresh).toBe(0);
  });

  it('does not call a stored-but-unapplied target unchanged: it refuses, naming the pending zone', async () => {
    await h.api.setStickiness({ service: 'loadbalancer-aaa', type: 'http', farmId: 2 }, 'cookie');
    const { report } = await apply([request({ farmId: 2, stickiness: 'cookie' })]);
    expect(report.unchanged).toEqual([]);
    expect(report.refused[0]).toMatchObject({
      code: 'foreign-pending',
      reason: expect.stringContaining('may not be live'),
    });

    const allowed = await apply([request({ farmId: 2, stickiness: 'cookie' })], {
      ...options,
      allowForeignPending: true,
    });
    expect(allowed.report.applied).toHaveLength(1);
    expect(
      h.sim.state.services.get('loadbalancer-aaa')!.farms.get('http/2')!.applied.get('sbg')?.stickiness,
    ).toBe('cookie');
  });

  it('reports a farm that cannot be read as failed and retryable, not as refused', async () => {
    await h.close();
    h = await startHarness({ faults: { serverErrorRate: 1 } }, { retry: { maxAttempts: 2, baseDelayMs: 1 } });
    const { report } = await apply([request({})]);
    expect(report.failed).toEqual([expect.objectContaining({ code: 'read-failed', retryable: true })]);
  });
});
