import { makePlanPolicy } from '../../lib/app/plan-policy';
import { complianceRequestId, makeRunCompliance } from '../../lib/app/run-compliance';
import { PUBLISHED_SCHEMAS } from '../../lib/domain/audit-events';
import type { PolicyDocument } from '../../lib/ports/policy-source';
import {
  FakeClock,
  InMemoryLoadBalancerApi,
  InMemoryRolloutStore,
  InMemoryUnappliedZones,
  RecordingPublisher,
  silentLog,
} from '../helpers/fakes';

const POLICY = [
  'version: 1',
  'rules:',
  '  - name: web keeps sessions',
  '    match: { type: http }',
  '    stickiness: cookie',
  '  - name: tcp is pinned by source',
  '    match: { type: tcp }',
  '    stickiness: sourceIp',
].join('\n');

const setup = (policy: string | Error = POLICY) => {
  const clock = new FakeClock();
  const api = new InMemoryLoadBalancerApi(clock)
    .addFarm('lb-a', { type: 'http', farmId: 1, zone: 'gra', stored: null })
    .addFarm('lb-a', { type: 'http', farmId: 2, zone: 'sbg', stored: 'cookie' })
    .addFarm('lb-a', { type: 'tcp', farmId: 3, zone: 'gra', stored: null });
  const publisher = new RecordingPublisher();
  const zones = new InMemoryUnappliedZones();
  const log = silentLog();
  const run = makeRunCompliance({
    unapplied: { api, zones },
    policySource: {
      load: async (): Promise<PolicyDocument> => {
        if (policy instanceof Error) throw policy;
        return { text: policy, source: 's3://stickler-policies/policy.yaml', version: 'v-7' };
      },
    },
    planPolicy: makePlanPolicy({ api }),
    publisher,
    rollouts: new InMemoryRolloutStore(),
    clock,
    log,
  });
  const types = () => publisher.published.map((e) => e.detailType);
  const of = (type: string) =>
    publisher.published.filter((e) => e.detailType === type).map((e) => e.detail as Record<string, unknown>);
  /** Farm 2 (zone sbg) stores cookie, but a worker refresh failed: sbg holds it unapplied. */
  const leaveFarm2Unapplied = async (recorded = true) => {
    api.farm({ service: 'lb-a', type: 'http', farmId: 2 })!.applied = null;
    if (recorded)
      await zones.remember({
        service: 'lb-a',
        zone: 'sbg',
        pending: 1,
        farms: [
          {
            type: 'http',
            farmId: 2,
            stickiness: api.farm({ service: 'lb-a', type: 'http', farmId: 2 })!.stored,
          },
        ],
        doneRefreshes: [],
        at: clock.now().toISOString(),
      });
  };
  return { api, publisher, run, types, of, zones, log, leaveFarm2Unapplied, clock };
};

describe('runCompliance', () => {
  it('report: publishes the drift and the completion, and changes nothing', async () => {
    const h = setup();
    const result = await h.run({ mode: 'report', runId: 'run-1' });
    expect(result).toMatchObject({
      farmsChecked: 3,
      drifted: 2,
      requested: 0,
      blocked: false,
      policy: { version: 'v-7' },
    });
    expect(h.types()).toEqual(['Compliance Drift Detected', 'Compliance Run Completed']);
    expect(h.of('Compliance Drift Detected')[0]).toMatchObject({
      drifted: [
        expect.objectContaining({ farmId: 1, before: 'none', wanted: 'cookie', rule: 'web keeps sessions' }),
        expect.objectContaining({
          farmId: 3,
          before: 'none',
          wanted: 'sourceIp',
          rule: 'tcp is pinned by source',
        }),
      ],
      policy: { source: 's3://stickler-policies/policy.yaml', version: 'v-7' },
    });
    expect(h.api.calls.setStickiness ?? 0).toBe(0);
    expect(h.api.calls.refresh ?? 0).toBe(0);
  });

  it('enforce: one change request per drifted farm, ids stable per run and farm, actor the policy version', async () => {
    const h = setup();
    const result = await h.run({ mode: 'enforce', runId: 'run-2' });
    expect(result.requested).toBe(2);
    const requests = h.of('Stickiness Change Requested');
    expect(requests.map((r) => [r.requestId, r.farmId, r.stickiness])).toEqual([
      [complianceRequestId('run-2', 'lb-a/http/1'), 1, 'cookie'],
      [complianceRequestId('run-2', 'lb-a/tcp/3'), 3, 'sourceIp'],
    ]);
    expect(requests[0]!.actor).toEqual({
      kind: 'compliance',
      id: 's3://stickler-policies/policy.yaml@v-7',
      name: 'web keeps sessions',
    });
    expect(h.publisher.published.every((e) => e.source === 'stickler.compliance')).toBe(true);
    // A retried run (same id) requests the same ids: the worker makes the copies no-ops.
    const again = setup();
    await again.run({ mode: 'enforce', runId: 'run-2' });
    expect(again.of('Stickiness Change Requested').map((r) => r.requestId)).toEqual(
      requests.map((r) => r.requestId),
    );
    expect(h.api.calls.setStickiness ?? 0).toBe(0); // the run itself never writes
  });

  it('enforce with limits.prefer: quietest: every request carries the window [now, now + maxDelay] that prefers its quietest slot', async () => {
    const h = setup(POLICY.replace('version: 1', 'version: 1\nlimits: { prefer: quietest, maxDelay: PT6H }'));
    await h.run({ mode: 'enforce', runId: 'run-q' });
    const requests = h.of('Stickiness Change Requested');
    expect(requests).toHaveLength(2);
    for (const r of requests)
      expect(r.window).toEqual({
        notBefore: '2026-11-25T10:00:00.000Z',
        notAfter: '2026-11-25T16:00:00.000Z',
        prefer: 'quietest',
      });
    // A retried run (Lambda's retry of the scheduled invocation, minutes later) starts its windows
    // at the time the run was scheduled for, as the first did: the same requests, not id-reused ones.
    const scheduledAt = new Date('2026-11-25T09:58:00.000Z');
    const first = setup(
      POLICY.replace('version: 1', 'version: 1\nlimits: { prefer: quietest, maxDelay: PT6H }'),
    );
    await first.run({ mode: 'enforce', runId: 'run-r', scheduledAt });
    const retried = setup(
      POLICY.replace('version: 1', 'version: 1\nlimits: { prefer: quietest, maxDelay: PT6H }'),
    );
    retried.clock.advance(3 * 60_000);
    await retried.run({ mode: 'enforce', runId: 'run-r', scheduledAt });
    const windows = (x: typeof first) =>
      x.of('Stickiness Change Requested').map((r) => [r.requestId, r.window]);
    expect(windows(retried)).toEqual(windows(first));
    expect(windows(first)[0]![1]).toEqual({
      notBefore: '2026-11-25T09:58:00.000Z',
      notAfter: '2026-11-25T15:58:00.000Z',
      prefer: 'quietest',
    });
    // Without the preference, no window at all: applied as soon as the worker takes them.
    const plain = setup();
    await plain.run({ mode: 'enforce', runId: 'run-p' });
    expect(plain.of('Stickiness Change Requested').every((r) => r.window === undefined)).toBe(true);
  });

  describe("a zone holding stickler's own unapplied writes (a worker refresh that failed)", () => {
    it('enforce: asks once for a compliant farm of that zone, so that the worker applies the zone', async () => {
      const h = setup();
      await h.leaveFarm2Unapplied();
      const result = await h.run({ mode: 'enforce', runId: 'run-u1' });
      expect(result).toMatchObject({ drifted: 2, requested: 3, unappliedZones: 1 });
      const requests = h.of('Stickiness Change Requested');
      expect(requests.map((r) => [r.farmId, r.stickiness])).toEqual([
        [1, 'cookie'],
        [3, 'sourceIp'],
        [2, 'cookie'],
      ]);
      expect(requests[2]!.reason).toContain(
        "the farm stores it, but its zone holds stickler's own unapplied writes",
      );
      expect(h.of('Compliance Run Completed')[0]).toMatchObject({ unappliedZones: 1, requested: 3 });
    });

    it('report: counts the zone, asks nothing', async () => {
      const h = setup();
      await h.leaveFarm2Unapplied();
      const result = await h.run({ mode: 'report', runId: 'run-u2' });
      expect(result).toMatchObject({ requested: 0, unappliedZones: 1 });
      expect(h.types()).not.toContain('Stickiness Change Requested');
    });

    it("leaves a zone alone whose unapplied changes stickler has no record of (someone else's)", async () => {
      const h = setup();
      await h.leaveFarm2Unapplied(false);
      const result = await h.run({ mode: 'enforce', runId: 'run-u3' });
      expect(result).toMatchObject({ requested: 2, unappliedZones: 0 });
    });

    it('never fails a run for it: a load balancer that cannot be looked at is logged and skipped', async () => {
      const h = setup();
      await h.leaveFarm2Unapplied();
      h.zones.failures.fail('read');
      const result = await h.run({ mode: 'enforce', runId: 'run-u4' });
      expect(result).toMatchObject({ requested: 2, unappliedZones: 0 });
      expect(h.log.lines).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          message: expect.stringContaining('could not look for unapplied writes'),
        }),
      );
    });

    it('asks nothing when the run is blocked by its blast radius', async () => {
      const h = setup(`${POLICY.replace('version: 1', 'version: 1\nlimits: { maxChangesPerRun: 1 }')}`);
      await h.leaveFarm2Unapplied();
      const result = await h.run({ mode: 'enforce', runId: 'run-u5' });
      expect(result).toMatchObject({ blocked: true, requested: 0, unappliedZones: 1 });
      expect(h.types()).not.toContain('Stickiness Change Requested');
    });
  });

  it('enforce over the blast radius: blocked, no request at all', async () => {
    const h = setup(`${POLICY.replace('version: 1', 'version: 1\nlimits: { maxChangesPerRun: 1 }')}`);
    const result = await h.run({ mode: 'enforce', runId: 'run-3' });
    expect(result).toMatchObject({ blocked: true, requested: 0, drifted: 2 });
    expect(h.types()).toEqual([
      'Compliance Drift Detected',
      'Compliance Run Blocked',
      'Compliance Run Completed',
    ]);
    expect(h.of('Compliance Run Blocked')[0]).toMatchObject({ drifted: 2, maxChangesPerRun: 1 });
  });

  it('fails loudly on a policy that does not parse, publishing only the failure', async () => {
    const h = setup('version: 1\nrules:\n  - match: { displayName: "[z-a]" }\n    stickiness: cookie\n');
    await expect(h.run({ mode: 'enforce', runId: 'run-4' })).rejects.toThrow(
      /compliance run run-4 failed: invalid s3:\/\/stickler-policies\/policy.yaml/,
    );
    expect(h.types()).toEqual(['Compliance Run Failed']);
    expect(h.of('Compliance Run Failed')[0]).toMatchObject({
      code: 'invalid-policy',
      policy: { version: 'v-7' },
    });
    expect(h.api.calls.listServices ?? 0).toBe(0);
  });

  it('fails loudly when the policy cannot be read, and when OVH cannot be read', async () => {
    const unreadable = setup(new Error('AccessDenied'));
    await expect(unreadable.run({ mode: 'report', runId: 'run-5' })).rejects.toThrow(/AccessDenied/);
    expect(unreadable.of('Compliance Run Failed')[0]).toMatchObject({ policy: null });
    const down = setup();
    down.api.failures.fail('listServices');
    await expect(down.run({ mode: 'enforce', runId: 'run-6' })).rejects.toMatchObject({ retryable: true });
    expect(down.types()).toEqual(['Compliance Run Failed']);
  });

  it('posts a report summary when configured, and a summary that cannot be posted never fails the run', async () => {
    const posted: string[] = [];
    const h = setup();
    const withSummary = makeRunCompliance({
      policySource: { load: async () => ({ text: POLICY, source: 'policy.yaml', version: 'v1' }) },
      planPolicy: makePlanPolicy({ api: h.api }),
      publisher: h.publisher,
      rollouts: new InMemoryRolloutStore(),
      summary: { post: async (text) => void posted.push(text) },
      clock: new FakeClock(),
      log: silentLog(),
    });
    await withSummary({ mode: 'report', runId: 'run-8' });
    expect(posted[0]).toMatch(
      /^stickler compliance report \(policy.yaml @ v1\): 3 farms checked, 2 drifted, 0 the policy cannot apply\.\n• lb-a http\/1: none → cookie/,
    );
    const failing = makeRunCompliance({
      policySource: { load: async () => ({ text: POLICY, source: 'policy.yaml', version: 'v1' }) },
      planPolicy: makePlanPolicy({ api: h.api }),
      publisher: h.publisher,
      rollouts: new InMemoryRolloutStore(),
      summary: { post: async () => Promise.reject(new Error('slack down')) },
      clock: new FakeClock(),
      log: silentLog(),
    });
    await expect(failing({ mode: 'report', runId: 'run-9' })).resolves.toMatchObject({ drifted: 2 });
  });

  it('publishes only events that fit their published schemas', async () => {
    const h = setup();
    await h.run({ mode: 'enforce', runId: 'run-7' });
    const schemaOf: Record<string, { safeParse(x: unknown): { success: boolean } }> = {
      'Compliance Drift Detected': PUBLISHED_SCHEMAS['compliance-drift-detected'],
      'Compliance Run Completed': PUBLISHED_SCHEMAS['compliance-run-completed'],
      'Stickiness Change Requested': PUBLISHED_SCHEMAS['stickiness-change-requested'],
    };
    for (const e of h.publisher.published)
      expect([e.detailType, schemaOf[e.detailType]!.safeParse(e.detail).success]).toEqual([
        e.detailType,
        true,
      ]);
  });
});
