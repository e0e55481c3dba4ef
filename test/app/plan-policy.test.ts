import fc from 'fast-check';
import { makePlanPolicy } from '../../lib/app/plan-policy';
import { farmKey } from '../../lib/domain/farm';
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

describe('planPolicy keeping the decisions, not the fleet (the compliance run)', () => {
  const mixedPolicy = `version: 1
rules:
  - match: { service: "lb-1*" }
    stickiness: cookie
  - match: { type: http }
    stickiness: cookie
  - match: { type: tcp }
    stickiness: sourceIp
`;
  const stored = [null, 'cookie', 'sourceIp'] as const;
  const arbitraryFleet = fc.array(
    fc.record({
      service: fc.constantFrom('lb-1', 'lb-10', 'lb-2', 'lb-3'),
      zone: fc.constantFrom('gra', 'sbg', 'all'),
      type: fc.constantFrom('http', 'tcp'),
      farmId: fc.integer({ min: 1, max: 40 }),
      stored: fc.constantFrom(...stored),
    }),
    { maxLength: 60 },
  );

  it('decides every farm as the whole fleet’s plan does, keeping of the compliant farms the first of each zone', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryFleet, async (farms) => {
        const api = new InMemoryLoadBalancerApi();
        const seen = new Set<string>();
        for (const f of farms) {
          if (seen.has(`${f.service}/${f.type}/${f.farmId}`)) continue;
          seen.add(`${f.service}/${f.type}/${f.farmId}`);
          api.addFarm(f.service, { type: f.type, farmId: f.farmId, zone: f.zone, stored: f.stored });
        }
        const plan = makePlanPolicy({ api });
        const whole = await plan({ policyText: mixedPolicy, policySource: 'p.yaml' });
        const kept = await plan({ policyText: mixedPolicy, policySource: 'p.yaml', decisionsOnly: true });
        expect(kept.fleet).toEqual([]);
        expect(kept.farmsChecked).toBe(whole.fleet.length);
        expect(kept.plan.changes).toEqual(whole.plan.changes);
        expect(kept.plan.invalid).toEqual(whole.plan.invalid);
        expect(kept.overLimit).toEqual(whole.overLimit);
        const firsts = new Map<string, string>();
        for (const u of [...whole.plan.unchanged].sort((a, b) =>
          farmKey(a.farm).localeCompare(farmKey(b.farm)),
        ))
          if (!firsts.has(`${u.farm.service}/${u.farm.zone}`))
            firsts.set(`${u.farm.service}/${u.farm.zone}`, farmKey(u.farm));
        expect(new Set(kept.plan.unchanged.map((u) => farmKey(u.farm)))).toEqual(new Set(firsts.values()));
      }),
      { numRuns: 60 },
    );
  });

  it('is not asked with lookAtPending, and leaves out what it cannot read with partial', async () => {
    const api = new InMemoryLoadBalancerApi()
      .addFarm('lb-a', { type: 'http', farmId: 1, zone: 'gra', stored: null })
      .addFarm('lb-b', { type: 'http', farmId: 2, zone: 'gra', stored: null });
    const plan = makePlanPolicy({ api });
    await expect(
      plan({ policyText, policySource: 'p.yaml', decisionsOnly: true, lookAtPending: true }),
    ).rejects.toThrow(/decisionsOnly/);
    api.failures.fail('listFarms');
    await expect(plan({ policyText, policySource: 'p.yaml', decisionsOnly: true })).rejects.toThrow();
    const partial = await plan({ policyText, policySource: 'p.yaml', decisionsOnly: true, partial: true });
    expect(partial.unreadable.map((u) => u.service)).toEqual(['lb-a', 'lb-b']);
    expect(partial.farmsChecked).toBe(0);
  });
});
