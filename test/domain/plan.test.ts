import { selectLatestPerFarm } from '../../lib/domain/change-request';
import { RunRefusedError } from '../../lib/domain/errors';
import { assertWithinLimits, type FarmRead, planFromPolicy, planFromRequests } from '../../lib/domain/plan';
import { parsePolicy } from '../../lib/domain/policy-file';
import { aChangeRequest, aFarm } from '../helpers/factories';

const farm = aFarm;
const request = aChangeRequest;

describe('planFromPolicy', () => {
  const policy = parsePolicy(
    'version: 1\nrules:\n  - name: web\n    match: { displayName: "web*" }\n    stickiness: cookie\n  - match: { type: tcp }\n    stickiness: none\n',
  );

  it('lists changes with from, to and the rule, counts compliant farms, and skips unmatched ones', () => {
    const fleet = [
      farm({ farmId: 1, stickiness: null }),
      farm({ farmId: 2, stickiness: 'cookie' }),
      farm({ farmId: 3, type: 'tcp', displayName: 'db', stickiness: 'sourceIp' }),
      farm({ farmId: 4, displayName: 'other' }),
    ];
    const plan = planFromPolicy(fleet, policy);
    expect(plan.changes).toEqual([
      { farm: fleet[0], from: null, to: 'cookie', origin: { kind: 'rule', rule: 'web', ruleIndex: 0 } },
      { farm: fleet[2], from: 'sourceIp', to: null, origin: { kind: 'rule', rule: 'rule #2', ruleIndex: 1 } },
    ]);
    expect(plan.unchanged.map((u) => u.farm.farmId)).toEqual([2]);
    expect(plan.invalid).toEqual([]);
  });

  it('reports a rule whose target does not fit the farm type as invalid, not as a change', () => {
    const plan = planFromPolicy([farm({ type: 'tcp', displayName: 'web-tcp' })], policy);
    expect(plan.changes).toEqual([]);
    expect(plan.invalid).toEqual([
      expect.objectContaining({ code: 'invalid-target', reason: expect.stringContaining('TCP farm') }),
    ]);
  });
});

describe('assertWithinLimits', () => {
  it('refuses a plan over maxChangesPerRun as a whole', () => {
    const policy = parsePolicy(
      'version: 1\nlimits: { maxChangesPerRun: 1 }\nrules:\n  - stickiness: cookie\n',
    );
    const plan = planFromPolicy([farm({ farmId: 1 }), farm({ farmId: 2 })], policy);
    expect(() => assertWithinLimits(plan, policy)).toThrow(RunRefusedError);
    expect(() => assertWithinLimits(plan, policy)).toThrow(/2 farms but the policy allows at most 1/);
    expect(() => assertWithinLimits({ ...plan, changes: plan.changes.slice(1) }, policy)).not.toThrow();
  });
});

describe('selectLatestPerFarm', () => {
  it('keeps the latest request per farm and names what superseded the others', () => {
    const early = request({ requestId: 'early', requestedAt: '2026-11-25T10:00:00Z' });
    const late = request({ requestId: 'late', stickiness: 'none', requestedAt: '2026-11-25T10:05:00Z' });
    const other = request({ requestId: 'other', farmId: 2 });
    const { kept, superseded } = selectLatestPerFarm([late, other, early]);
    expect(kept.map((r) => r.requestId)).toEqual(['late', 'other']);
    expect(superseded).toEqual([{ request: early, by: late }]);
  });

  it('breaks ties by arrival order', () => {
    const a = request({ requestId: 'a' });
    const b = request({ requestId: 'b' });
    expect(selectLatestPerFarm([a, b]).kept).toEqual([b]);
  });
});

describe('planFromRequests', () => {
  it('carries out a request made against what the farm stored only while it still stores that', () => {
    const ref = { service: 'lb-a', type: 'http' as const, farmId: 1 };
    const reads = new Map<string, FarmRead>([
      [
        'lb-a/http/1',
        { found: true, farm: { ...ref, zone: 'gra', displayName: null, stickiness: 'sourceIp' } },
      ],
    ]);
    const asSeen = planFromRequests(
      [request({ farmId: 1, stickiness: 'cookie', ifStores: 'sourceIp' })],
      reads,
    );
    expect(asSeen.changes).toHaveLength(1);
    const stale = planFromRequests([request({ farmId: 1, stickiness: 'cookie', ifStores: 'none' })], reads);
    expect(stale.changes).toEqual([]);
    expect(stale.invalid).toEqual([
      expect.objectContaining({
        code: 'changed-since',
        reason: expect.stringContaining(
          'the farm stores sourceIp, not the none this request was made against',
        ),
      }),
    ]);
    // Already at the target (the same plan approved twice, an undo done by hand): unchanged, not refused.
    const done = planFromRequests([request({ farmId: 1, stickiness: 'sourceIp', ifStores: 'none' })], reads);
    expect(done.invalid).toEqual([]);
    expect(done.unchanged).toEqual([
      expect.objectContaining({ farm: expect.objectContaining({ farmId: 1 }) }),
    ]);
  });

  it('refuses cookie on a TCP farm without needing the farm read', () => {
    const plan = planFromRequests([request({ farmType: 'tcp', stickiness: 'cookie' })], new Map());
    expect(plan.invalid).toEqual([expect.objectContaining({ code: 'invalid-target' })]);
  });

  it('separates changes, unchanged farms and farms not found', () => {
    const reads = new Map<string, FarmRead>([
      ['lb-a/http/1', { found: true, farm: farm({ farmId: 1, stickiness: 'cookie' }) }],
      ['lb-a/http/2', { found: true, farm: farm({ farmId: 2, stickiness: 'cookie' }) }],
      ['lb-a/http/3', { found: false, reason: 'HTTP farm 3 was not found on lb-a' }],
    ]);
    const plan = planFromRequests(
      [
        request({ requestId: 'same', farmId: 1 }),
        request({ requestId: 'clear', farmId: 2, stickiness: 'none', ticket: 'OPS-1' }),
        request({ requestId: 'gone', farmId: 3 }),
      ],
      reads,
    );
    expect(plan.unchanged.map((u) => u.origin)).toEqual([{ kind: 'request', requestId: 'same' }]);
    expect(plan.changes).toEqual([
      expect.objectContaining({
        from: 'cookie',
        to: null,
        origin: { kind: 'request', requestId: 'clear', ticket: 'OPS-1' },
      }),
    ]);
    expect(plan.invalid).toEqual([expect.objectContaining({ code: 'farm-not-found' })]);
  });
});
