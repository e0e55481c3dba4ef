import { DynamoDbRolloutStore } from '../../../lib/adapters/dynamodb/dynamodb-rollout-store';
import { startDynalite } from '../../../lib/local/dynalite';
import type { RolloutState } from '../../../lib/ports/rollout-store';

describe('DynamoDbRolloutStore on dynalite', () => {
  let db: Awaited<ReturnType<typeof startDynalite>>;
  let store: DynamoDbRolloutStore;
  beforeAll(async () => {
    db = await startDynalite('rollouts');
    store = new DynamoDbRolloutStore({ client: db.client, tableName: 'rollouts' });
  });
  afterAll(() => db.close());
  const state = (over: Partial<RolloutState> = {}): RolloutState => ({
    key: 'abc',
    runId: 'run-1',
    policy: { source: 'policy.yaml', version: 'v1' },
    zones: [],
    current: 0,
    pending: ['a', 'b'],
    failures: [],
    status: 'running',
    version: 1,
    ...over,
  });

  let n = 0;
  const key = () => `k-${Date.now().toString(36)}-${++n}`;

  it('creates a rollout once (a retried run finds it)', async () => {
    const k = key();
    expect(await store.create(state({ key: k }))).toBe(true);
    expect(await store.create(state({ key: k, runId: 'other' }))).toBe(false);
    expect((await store.get(k))?.runId).toBe('run-1');
  });

  it('lets only the writer holding the current version move it on', async () => {
    const k = key();
    await store.create(state({ key: k }));
    expect(await store.update(state({ key: k, pending: ['b'], version: 2 }))).toBe(true);
    // A writer that read version 1 too is refused, and must read again.
    expect(await store.update(state({ key: k, pending: ['a'], version: 2 }))).toBe(false);
    expect((await store.get(k))?.pending).toEqual(['b']);
  });

  it('keeps the first outcome of each request, all of them when they arrive together, and reads them in batches', async () => {
    const k = key();
    const ids = Array.from({ length: 130 }, (_, i) => `cmp-${i}`);
    await Promise.all(
      ids.map((requestId) => store.recordOutcome(k, { requestId, outcome: 'applied', code: null })),
    );
    await store.recordOutcome(k, { requestId: 'cmp-0', outcome: 'failed', code: 'late-copy' });
    const read = await store.outcomes(k, [...ids, 'never']);
    expect(read.size).toBe(130);
    expect(read.get('cmp-0')).toEqual({ requestId: 'cmp-0', outcome: 'applied', code: null });
  });

  it('gives a policy lock to one running rollout at a time, and to the next once it has ended', async () => {
    const [a, b] = [key(), key()];
    await store.create(state({ key: a }));
    await store.create(state({ key: b }));
    const policy = `s3://bucket/${a}.yaml`;
    expect(await store.lock(policy, a)).toEqual({ held: true });
    expect(await store.lock(policy, a)).toEqual({ held: true }); // a retried run
    expect(await store.lock(policy, b)).toEqual({ held: false, holder: a });
    await store.update(state({ key: a, status: 'finished', version: 2 }));
    expect(await store.lock(policy, b)).toEqual({ held: true }); // a's rollout ended: taken over
    await store.unlock(policy, a); // not the holder: nothing happens
    expect(await store.lock(policy, a)).toEqual({ held: false, holder: b });
    await store.unlock(policy, b);
    expect(await store.lock(policy, a)).toEqual({ held: true });
  });

  it('refuses a rollout too large for one item, rather than cutting it', async () => {
    const big = state({
      key: 'big',
      zones: [
        {
          service: 's',
          zone: 'z',
          requests: Array.from({ length: 2000 }, () => ({ reason: 'x'.repeat(200) }) as never),
        },
      ],
    });
    await expect(store.create(big)).rejects.toThrow(/rollout of run run-1 is over/);
  });
});
