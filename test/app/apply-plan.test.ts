import { CHANGES_IN_FLIGHT, makeApplyPlan } from '../../lib/app/apply-plan';
import type { Change } from '../../lib/domain/plan';
import { FakeClock, InMemoryLoadBalancerApi } from '../helpers/fakes';

describe('apply plan, service by service', () => {
  it('starts services in bounded groups, releasing one before holding more than its change budget, and still refreshes each zone once', async () => {
    // Prepare: 6 services of 1,500 drifted farms each, one zone apiece.
    const perService = 1_500;
    const clock = new FakeClock();
    const api = new InMemoryLoadBalancerApi(clock);
    const changes: Change[] = [];
    for (let s = 0; s < 6; s++) {
      const service = `loadbalancer-${s}`;
      for (let id = 1; id <= perService; id++) {
        api.addFarm(service, { type: 'http', farmId: id, zone: 'gra', stored: null });
        changes.push({
          farm: { service, type: 'http', farmId: id, zone: 'gra', displayName: null, stickiness: null },
          from: null,
          to: 'cookie',
          origin: { kind: 'rule', rule: 'http keeps sessions', ruleIndex: 0 },
        });
      }
    }
    const started = new Set<string>();
    let inProgress = 0;
    let mostAtOnce = 0;
    const read = api.pendingChanges.bind(api);
    api.pendingChanges = async (service: string) => {
      if (!started.has(service)) {
        started.add(service);
        mostAtOnce = Math.max(mostAtOnce, ++inProgress);
      }
      return read(service);
    };

    // Act
    const report = await makeApplyPlan({ api, clock })(
      { changes, unchanged: [], invalid: [] },
      {
        allowForeignPending: false,
        taskTimeoutMs: 60_000,
        pollIntervalMs: 10,
        onZoneDone: async () => {
          inProgress--;
        },
      },
    );

    // Assess
    expect(report.applied).toHaveLength(6 * perService);
    expect(report.failed).toEqual([]);
    expect(api.refreshes).toHaveLength(6);
    expect(mostAtOnce).toBe(Math.floor(CHANGES_IN_FLIGHT / perService));
  });
});
