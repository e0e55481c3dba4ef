import type { Farm } from '../../lib/domain/farm';
import type { Change } from '../../lib/domain/plan';
import { batchByZone, guardPendingChanges } from '../../lib/domain/zones';

const change = (service: string, zone: string, farmId: number): Change => {
  const farm: Farm = { service, type: 'http', farmId, zone, displayName: null, stickiness: null };
  return { farm, from: null, to: 'cookie', origin: { kind: 'rule', rule: 'r', ruleIndex: 0 } };
};

const shape = (batches: ReturnType<typeof batchByZone>) =>
  batches.map((b) => `${b.service}@${b.zone}:${b.changes.map((c) => c.farm.farmId).join(',')}`);

describe('batchByZone', () => {
  it('makes one batch per touched (service, zone)', () => {
    const batches = batchByZone([
      change('b', 'rbx', 5),
      change('a', 'sbg', 2),
      change('a', 'gra', 1),
      change('a', 'gra', 3),
    ]);
    expect(shape(batches)).toEqual(['a@gra:1,3', 'a@sbg:2', 'b@rbx:5']);
  });

  it('folds a service into one refresh of zone all when one of its changes is an all-zone farm', () => {
    const batches = batchByZone([change('a', 'gra', 1), change('a', 'all', 2), change('b', 'rbx', 5)]);
    expect(shape(batches)).toEqual(['a@all:1,2', 'b@rbx:5']);
  });
});

describe('guardPendingChanges', () => {
  const changes = [
    change('a', 'gra', 1),
    change('a', 'sbg', 2),
    change('a', 'all', 3),
    change('b', 'rbx', 4),
  ];

  it('refuses changes in zones holding foreign edits, and all-zone farms while any zone does', () => {
    const pending = new Map([['a', [{ zone: 'sbg', number: 2 }]]]);
    const { accepted, refused } = guardPendingChanges(changes, pending, false);
    expect(accepted.map((c) => c.farm.farmId)).toEqual([1, 4]);
    expect(refused.map((r) => [r.ref.farmId, r.code])).toEqual([
      [2, 'foreign-pending'],
      [3, 'foreign-pending'],
    ]);
    expect(refused[0]?.reason).toContain('zone sbg of a holds 2 unapplied change(s)');
  });

  it('treats a pending entry for zone all as touching every zone', () => {
    const pending = new Map([['a', [{ zone: 'all', number: 1 }]]]);
    expect(guardPendingChanges(changes, pending, false).accepted.map((c) => c.farm.farmId)).toEqual([4]);
  });

  it('ignores zones with a zero count, and lets an operator allow foreign edits', () => {
    const pending = new Map([['a', [{ zone: 'gra', number: 0 }]]]);
    expect(guardPendingChanges(changes, pending, false).refused).toEqual([]);
    const dirty = new Map([['a', [{ zone: 'gra', number: 4 }]]]);
    expect(guardPendingChanges(changes, dirty, true).accepted).toHaveLength(4);
  });
});
