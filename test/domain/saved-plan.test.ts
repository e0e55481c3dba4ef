import type { Farm } from '../../lib/domain/farm';
import type { Change } from '../../lib/domain/plan';
import {
  changesOf,
  planDigest,
  planStaleness,
  readRegisteredPlan,
  readSavedPlan,
  SAVED_PLAN_FORMAT,
  savePlan,
} from '../../lib/domain/saved-plan';

const farm = (farmId: number, over: Partial<Farm> = {}): Farm => ({
  service: 'lb-a',
  type: 'http',
  farmId,
  zone: 'gra',
  displayName: `web-${farmId}`,
  stickiness: null,
  ...over,
});
const fleet = [
  farm(1),
  farm(2, { zone: 'sbg', stickiness: 'cookie' }),
  farm(3, { type: 'tcp', stickiness: 'sourceIp' }),
];
const change: Change = {
  farm: fleet[0]!,
  from: null,
  to: 'cookie',
  origin: { kind: 'rule', rule: 'web keeps sessions', ruleIndex: 0 },
};
const pending = new Map([['lb-a', [{ zone: 'sbg', number: 2 }]]]);
const saved = () =>
  savePlan({
    createdAt: new Date('2026-12-07T10:00:00Z'),
    policySource: 'policy.yaml',
    policyText: 'version: 1\n',
    services: ['lb-a'],
    fleet,
    pending,
    changes: [change],
  });

describe('saved plans', () => {
  it('keeps what was read and the changes, with a digest, and reads back the same', () => {
    const plan = saved();
    expect(plan).toMatchObject({
      format: SAVED_PLAN_FORMAT,
      services: ['lb-a'],
      pending: [{ service: 'lb-a', zone: 'sbg', number: 2 }],
      changes: [
        { service: 'lb-a', type: 'http', farmId: 1, from: 'none', to: 'cookie', rule: 'web keeps sessions' },
      ],
    });
    expect(plan.farms).toHaveLength(3);
    expect(plan.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(readSavedPlan(JSON.stringify(plan), 'p.json')).toEqual(plan);
    expect(saved().digest).toBe(plan.digest);
  });

  it('refuses an edited plan, a wrong shape naming where, and what is not JSON', () => {
    const plan = saved();
    const edited = { ...plan, changes: [{ ...plan.changes[0]!, to: 'sourceIp' }] };
    expect(() => readSavedPlan(JSON.stringify(edited), 'p.json')).toThrow(
      /p.json has been edited since it was saved/,
    );
    const { digest: _, ...body } = plan;
    expect(() => readSavedPlan(JSON.stringify(body), 'p.json')).toThrow(/has been edited/);
    expect(() =>
      readSavedPlan(JSON.stringify({ ...plan, changes: [{ ...plan.changes[0]!, farmId: -1 }] }), 'p.json'),
    ).toThrow(
      /p.json is not a saved plan of this version \(stickler-plan\/1\): changes\[0\]\.farmId: must be > 0/,
    );
    expect(() => readSavedPlan(JSON.stringify({ ...plan, extra: 1 }), 'p.json')).toThrow(
      /not a saved plan of this version/,
    );
    expect(() => readSavedPlan('{', 'p.json')).toThrow(/not JSON/);
    expect(() => readSavedPlan('[]', 'p.json')).toThrow(/not a JSON object/);
  });

  it('refuses a body that contradicts itself, though its digest matches (made by hand, not by stickler)', () => {
    /** A body with its first change edited, and the digest of the edited body. */
    const forge = (over: Partial<ReturnType<typeof saved>['changes'][number]>) => {
      const { digest: _, ...body } = saved();
      body.changes = [{ ...body.changes[0]!, ...over }];
      return JSON.stringify({ ...body, digest: planDigest(body) });
    };
    expect(() => readSavedPlan(forge({ from: 'cookie' }), 'p.json')).toThrow(
      'p.json is not a plan stickler made: changes[0] (lb-a http/1) is from cookie, but the plan read none; make a new plan',
    );
    expect(() => readSavedPlan(forge({ farmId: 99 }), 'p.json')).toThrow(
      /changes\[0\] \(lb-a http\/99\) is of a farm the plan did not read/,
    );
    expect(() => readSavedPlan(forge({ to: 'none' }), 'p.json')).toThrow(
      /changes nothing \(from and to are both none\)/,
    );
  });

  it('reads a registered body under its digest, and refuses one edited where it was kept, or not a plan', () => {
    const plan = saved();
    const { digest, ...body } = plan;
    expect(readRegisteredPlan(JSON.stringify(body), digest)).toEqual(plan);
    const edited = { ...body, changes: [{ ...body.changes[0]!, to: 'sourceIp' }] };
    expect(() => readRegisteredPlan(JSON.stringify(edited), digest)).toThrow(
      `the plan registered as ${digest} has been edited since it was saved`,
    );
    expect(() => readRegisteredPlan(JSON.stringify({ ...body, format: 'other/1' }), digest)).toThrow(
      /is not a saved plan of this version \(stickler-plan\/1\): format/,
    );
    expect(() => readRegisteredPlan(JSON.stringify(plan), digest)).toThrow(/not a plan's body/);
    expect(() => readRegisteredPlan('null', digest)).toThrow(/not a plan's body/);
    expect(() => readRegisteredPlan('{', digest)).toThrow(/not JSON/);
  });

  it('finds nothing stale when nothing read has changed, and says each change of what was read', () => {
    const plan = saved();
    expect(planStaleness(plan, fleet, pending)).toEqual([]);
    const now = [
      farm(1, { stickiness: 'sourceIp' }),
      farm(2, { zone: 'rbx', stickiness: 'cookie', displayName: 'renamed' }),
      farm(4),
    ];
    expect(planStaleness(plan, now, new Map([['lb-a', [{ zone: 'gra', number: 1 }]]]))).toEqual([
      'lb-a http/1 now stores sourceIp (the plan read none)',
      'lb-a http/2 moved to zone rbx (from sbg)',
      'lb-a http/2 is now named "renamed" (the plan read "web-2")',
      'lb-a tcp/3 is gone',
      'lb-a http/4 is new since the plan',
      'lb-a zone sbg holds 0 unapplied change(s) (the plan read 2)',
      'lb-a zone gra holds 1 unapplied change(s) (the plan read 0)',
    ]);
  });

  it('gives back the saved changes on the farms read now', () => {
    expect(changesOf(saved(), fleet)).toEqual([change]);
    expect(changesOf(saved(), [])).toEqual([]);
  });
});
