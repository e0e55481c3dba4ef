import { makePlanPolicy } from '../../lib/app/plan-policy';
import { InMemoryLoadBalancerApi } from '../helpers/fakes';

const policyText = `version: 1
rules:
  - name: web keeps sessions
    match: { type: http }
    stickiness: cookie
`;

describe('planPolicy, looking at unapplied changes', () => {
  const fleet = () =>
    new InMemoryLoadBalancerApi()
      .addFarm('lb-a', { type: 'http', farmId: 1, zone: 'gra', stored: 'cookie' })
      .addFarm('lb-a', { type: 'http', farmId: 2, zone: 'sbg', stored: 'cookie' })
      .addFarm('lb-b', { type: 'http', farmId: 3, zone: 'rbx', stored: 'cookie' });

  it('lists farms that store their target in a zone holding unapplied changes, and only with lookAtPending', async () => {
    const api = fleet();
    // lb-a http/2 stores cookie, but its zone has not been applied since.
    api.farm({ service: 'lb-a', type: 'http', farmId: 2 })!.applied = null;
    const plan = makePlanPolicy({ api });
    const looked = await plan({ policyText, policySource: 'p.yaml', lookAtPending: true });
    expect(looked.plan.changes).toEqual([]);
    expect(looked.storedNotApplied.map((s) => [s.farm.service, s.farm.farmId, s.pending])).toEqual([
      ['lb-a', 2, 1],
    ]);
    expect(looked.pendingUnread).toEqual([]);
    const calls = api.calls.pendingChanges;
    const blind = await plan({ policyText, policySource: 'p.yaml' });
    expect(blind.storedNotApplied).toEqual([]);
    expect(api.calls.pendingChanges).toBe(calls);
  });

  it('names the load balancers whose unapplied changes could not be read, and plans them all the same', async () => {
    const api = fleet();
    api.failures.fail('pendingChanges');
    const out = await makePlanPolicy({ api })({ policyText, policySource: 'p.yaml', lookAtPending: true });
    expect(out.plan.unchanged).toHaveLength(3);
    expect(out.pendingUnread.map((u) => [u.service, u.message])).toEqual([
      ['lb-a', 'pendingChanges is unavailable'],
      ['lb-b', 'pendingChanges is unavailable'],
    ]);
    expect(out.storedNotApplied).toEqual([]);
  });
});
