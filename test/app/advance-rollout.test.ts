import { makeAdvanceRollout } from '../../lib/app/advance-rollout';
import { makePlanPolicy } from '../../lib/app/plan-policy';
import { makeRunCompliance } from '../../lib/app/run-compliance';
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
const setup = () => {
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
    policySource: { load: async () => ({ text: POLICY, source: 'policy.yaml', version: 'v1' }) },
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
  return { run, advance, requested, types, publisher, rollouts };
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
    expect(await h.advance({ requestId: a!.requestId, outcome: 'applied', code: null })).toBe('advanced');
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

  it('ignores outcomes of requests that are not a rollout’s, and a retried run republishes only the zone in flight', async () => {
    const h = setup();
    expect(await h.advance({ requestId: 'tkt-0123', outcome: 'applied', code: null })).toBe('ignored');
    await h.run({ mode: 'enforce', runId: 'r4' });
    await h.run({ mode: 'enforce', runId: 'r4' });
    expect(h.requested().map((r) => r.farmId)).toEqual([1, 2, 1, 2]);
    expect(new Set(h.requested().map((r) => r.requestId)).size).toBe(2);
  });
});
