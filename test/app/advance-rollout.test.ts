import { makeAdvanceRollout } from '../../lib/app/advance-rollout';
import { makePlanPolicy } from '../../lib/app/plan-policy';
import { makeRunCompliance, rolloutKeyOf } from '../../lib/app/run-compliance';
import type { ChangeRequestedDetail } from '../../lib/domain/events';
import {
  FakeClock,
  InMemoryLoadBalancerApi,
  InMemoryRolloutStore,
  RecordingPublisher,
  silentLog,
} from '../helpers/fakes';

const POLICY = [
  'version: 1',
  'limits: { rollout: zone-by-zone }',
  'rules:',
  '  - match: { type: http }',
  '    stickiness: cookie',
].join('\n');

/** Three zones over two load balancers, each with a farm to change. */
const setup = (policy = POLICY) => {
  const clock = new FakeClock();
  const api = new InMemoryLoadBalancerApi(clock)
    .addFarm('lb-a', { type: 'http', farmId: 1, zone: 'gra', stored: null })
    .addFarm('lb-a', { type: 'http', farmId: 2, zone: 'gra', stored: null })
    .addFarm('lb-a', { type: 'http', farmId: 3, zone: 'sbg', stored: null })
    .addFarm('lb-b', { type: 'http', farmId: 4, zone: 'rbx', stored: null });
  const publisher = new RecordingPublisher();
  const rollouts = new InMemoryRolloutStore();
  const log = silentLog();
  const run = makeRunCompliance({
    policySource: { load: async () => ({ text: policy, source: 'policy.yaml', version: 'v1' }) },
    planPolicy: makePlanPolicy({ api }),
    publisher,
    rollouts,
    clock,
    log,
  });
  const advance = makeAdvanceRollout({ rollouts, publisher, clock, log });
  const requested = () =>
    publisher.published
      .filter((e) => e.detailType === 'Stickiness Change Requested')
      .map((e) => e.detail as ChangeRequestedDetail);
  const types = () => publisher.published.map((e) => e.detailType);
  return { run, advance, requested, types, publisher, rollouts, api, clock };
};

describe('zone-by-zone rollout', () => {
  it('publishes one (service, zone) at a time, the next once every request of the previous one applied', async () => {
    const h = setup();
    const result = await h.run({ mode: 'enforce', runId: 'r1' });
    expect(result).toMatchObject({ requested: 2, rolloutZones: 3 });
    expect(h.requested().map((r) => [r.service, r.farmId])).toEqual([
      ['lb-a', 1],
      ['lb-a', 2],
    ]);
    const [a, b] = h.requested();
    expect(await h.advance({ requestId: a!.requestId, outcome: 'applied', code: null })).toBe('recorded');
    expect(h.requested()).toHaveLength(2); // gra still has a request pending
    await h.advance({ requestId: b!.requestId, outcome: 'unchanged', code: null });
    expect(h.requested().map((r) => r.farmId)).toEqual([1, 2, 3]); // sbg now
    await h.advance({ requestId: h.requested()[2]!.requestId, outcome: 'applied', code: null });
    expect(h.requested().map((r) => r.farmId)).toEqual([1, 2, 3, 4]); // lb-b rbx
    await h.advance({ requestId: h.requested()[3]!.requestId, outcome: 'applied', code: null });
    expect(h.types().at(-1)).toBe('Compliance Rollout Finished');
    expect(h.publisher.published.at(-1)!.detail).toMatchObject({
      done: [{ zone: 'gra' }, { zone: 'sbg' }, { zone: 'rbx' }],
      remaining: [],
    });
  });

  it('with prefer: quietest, starts at the quietest time of its window, and each later zone looks for its own from when its turn comes', async () => {
    const h = setup(
      POLICY.replace(
        '{ rollout: zone-by-zone }',
        '{ rollout: zone-by-zone, prefer: quietest, maxDelay: PT6H }',
      ),
    );
    const scheduledAt = new Date('2026-11-25T09:00:00.000Z');
    await h.run({ mode: 'enforce', runId: 'rq', scheduledAt });
    const first = h.requested();
    expect(first.map((r) => [r.farmId, r.window])).toEqual([
      [
        1,
        { notBefore: '2026-11-25T09:00:00.000Z', notAfter: '2026-11-25T15:00:00.000Z', prefer: 'quietest' },
      ],
      [
        2,
        { notBefore: '2026-11-25T09:00:00.000Z', notAfter: '2026-11-25T15:00:00.000Z', prefer: 'quietest' },
      ],
    ]);
    // The first zone applied at its slot, 13:00: sbg's turn, with a window of the same 6 hours from then.
    h.clock.t = Date.parse('2026-11-25T13:00:00Z');
    for (const r of first) await h.advance({ requestId: r.requestId, outcome: 'applied', code: null });
    const sbgWindow = {
      notBefore: '2026-11-25T13:00:00.000Z',
      notAfter: '2026-11-25T19:00:00.000Z',
      prefer: 'quietest',
    };
    expect(h.requested()[2]).toMatchObject({ farmId: 3, window: sbgWindow });
    // Published again (a lost mark, a redelivered outcome) later: the same request, the same window.
    const key = rolloutKeyOf(first[0]!.requestId)!;
    const state = (await h.rollouts.get(key))!;
    expect(state.zones[1]!.requests[0]!.window).toEqual(sbgWindow);
    await h.rollouts.update({ ...state, announced: false, version: state.version + 1 });
    h.clock.t = Date.parse('2026-11-25T14:00:00Z');
    await h.advance({ requestId: first[0]!.requestId, outcome: 'applied', code: null });
    expect(
      h
        .requested()
        .filter((r) => r.farmId === 3)
        .map((r) => r.window),
    ).toEqual([sbgWindow, sbgWindow]);
    // rbx's turn comes at 17:00.
    h.clock.t = Date.parse('2026-11-25T17:00:00Z');
    await h.advance({ requestId: h.requested()[2]!.requestId, outcome: 'applied', code: null });
    expect(h.requested().at(-1)).toMatchObject({
      farmId: 4,
      window: {
        notBefore: '2026-11-25T17:00:00.000Z',
        notAfter: '2026-11-25T23:00:00.000Z',
        prefer: 'quietest',
      },
    });
  });

  it('without prefer: quietest, later zones carry no window', async () => {
    const h = setup();
    await h.run({ mode: 'enforce', runId: 'rn' });
    for (const r of h.requested())
      await h.advance({ requestId: r.requestId, outcome: 'applied', code: null });
    expect(h.requested()[2]).toMatchObject({ farmId: 3 });
    expect(h.requested()[2]).not.toHaveProperty('window');
  });

  it('stops at a zone whose requests did not all apply, and reports the zones not reached', async () => {
    const h = setup();
    await h.run({ mode: 'enforce', runId: 'r2' });
    const [a, b] = h.requested();
    await h.advance({ requestId: a!.requestId, outcome: 'failed', code: 'refresh-failed' });
    await h.advance({ requestId: b!.requestId, outcome: 'applied', code: null });
    expect(h.requested()).toHaveLength(2); // nothing more requested
    expect(h.types().at(-1)).toBe('Compliance Rollout Stopped');
    expect(h.publisher.published.at(-1)!.detail).toMatchObject({
      stoppedAt: { service: 'lb-a', zone: 'gra', farms: 2 },
      failures: [{ requestId: a!.requestId, outcome: 'failed', code: 'refresh-failed' }],
      remaining: [
        { service: 'lb-a', zone: 'sbg' },
        { service: 'lb-b', zone: 'rbx' },
      ],
    });
    // Later outcomes change nothing.
    expect(await h.advance({ requestId: b!.requestId, outcome: 'applied', code: null })).toBe('ignored');
  });

  it('takes outcomes arriving together or twice without losing or doubling a step', async () => {
    const h = setup();
    await h.run({ mode: 'enforce', runId: 'r3' });
    const [a, b] = h.requested();
    await Promise.all([
      h.advance({ requestId: a!.requestId, outcome: 'applied', code: null }),
      h.advance({ requestId: b!.requestId, outcome: 'applied', code: null }),
      h.advance({ requestId: b!.requestId, outcome: 'applied', code: null }),
    ]);
    // The next zone may go out twice on the bus, but under the same request ids: one request in effect.
    const distinct = [...new Map(h.requested().map((r) => [r.requestId, r.farmId])).values()];
    expect(distinct).toEqual([1, 2, 3]);
    expect(h.rollouts.states.values().next().value).toMatchObject({
      current: 1,
      status: 'running',
      pending: [expect.any(String)],
    });
  });

  it('keeps every one of a hundred outcomes arriving together, and moves on exactly once', async () => {
    const h = setup();
    const manyFarms = Array.from({ length: 100 }, (_, i) => i + 10);
    for (const farmId of manyFarms)
      h.api.addFarm('lb-a', { type: 'http', farmId, zone: 'gra', stored: null });
    await h.run({ mode: 'enforce', runId: 'r100' });
    const gra = h.requested();
    expect(gra).toHaveLength(102);
    const results = await Promise.all(
      gra.map((r) => h.advance({ requestId: r.requestId, outcome: 'applied', code: null })),
    );
    expect(results.filter((r) => r === 'advanced')).toHaveLength(1);
    expect(h.rollouts.recorded.size).toBe(102);
    const next = h.requested().slice(102);
    expect(new Set(next.map((r) => r.requestId)).size).toBe(1); // zone sbg, however often it went out
    expect(h.rollouts.states.get(rolloutKeyOf(gra[0]!.requestId)!)).toMatchObject({
      current: 1,
      status: 'running',
    });
  });

  it('still finishes when a state write fails between a zone and the next (the outcome is retried)', async () => {
    const h = setup();
    await h.run({ mode: 'enforce', runId: 'r5' });
    const [a, b] = h.requested();
    await h.advance({ requestId: a!.requestId, outcome: 'applied', code: null });
    // The zone completes; the write that would move the rollout on fails: the event is retried.
    h.rollouts.failures.fail('update');
    await expect(h.advance({ requestId: b!.requestId, outcome: 'applied', code: null })).rejects.toThrow();
    h.rollouts.failures.heal('update');
    await h.advance({ requestId: b!.requestId, outcome: 'applied', code: null });
    expect(h.requested().map((r) => r.farmId)).toEqual([1, 2, 3]);
    // The next zone goes out, but marking it announced fails: its outcome still moves the rollout on.
    const announce = h.rollouts.update.bind(h.rollouts);
    h.rollouts.update = async (state) => (state.announced ? false : announce(state));
    await h.advance({ requestId: h.requested()[2]!.requestId, outcome: 'applied', code: null });
    h.rollouts.update = announce;
    await h.advance({ requestId: h.requested().at(-1)!.requestId, outcome: 'applied', code: null });
    expect(h.types().at(-1)).toBe('Compliance Rollout Finished');
    expect([...new Set(h.requested().map((r) => r.farmId))]).toEqual([1, 2, 3, 4]);
  });

  it('runs one rollout per policy at a time: a second enforce run is blocked and says which holds it', async () => {
    const h = setup();
    await h.run({ mode: 'enforce', runId: 'first' });
    const second = await h.run({ mode: 'enforce', runId: 'second' });
    expect(second).toMatchObject({ blocked: true, requested: 0 });
    expect(
      h.publisher.published.find((e) => e.detailType === 'Compliance Run Blocked')?.detail,
    ).toMatchObject({
      runId: 'second',
      message: expect.stringContaining('rollout of run first for this policy is still running (zone 1 of 3'),
    });
    // Once the first one ends, the next run goes.
    const [a, b] = h.requested();
    await h.advance({ requestId: a!.requestId, outcome: 'failed', code: 'refresh-failed' });
    await h.advance({ requestId: b!.requestId, outcome: 'applied', code: null });
    const third = await h.run({ mode: 'enforce', runId: 'third' });
    expect(third).toMatchObject({ blocked: false });
    expect(third.requested).toBeGreaterThan(0);
  });

  it('ignores outcomes of requests that are not a rollout’s, and a retried run republishes only the zone in flight', async () => {
    const h = setup();
    expect(await h.advance({ requestId: 'tkt-0123', outcome: 'applied', code: null })).toBe('ignored');
    await h.run({ mode: 'enforce', runId: 'r4' });
    await h.run({ mode: 'enforce', runId: 'r4' });
    expect(h.requested().map((r) => r.farmId)).toEqual([1, 2, 1, 2]);
    expect(new Set(h.requested().map((r) => r.requestId)).size).toBe(2);
  });
});
