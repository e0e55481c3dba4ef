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

  it('creates a rollout once (a retried run finds it)', async () => {
    expect(await store.create(state())).toBe(true);
    expect(await store.create(state({ runId: 'other' }))).toBe(false);
    expect((await store.get('abc'))?.runId).toBe('run-1');
  });

  it('lets only the writer holding the current version move it on', async () => {
    expect(await store.update(state({ pending: ['b'], version: 2 }))).toBe(true);
    // A writer that read version 1 too is refused, and must read again.
    expect(await store.update(state({ pending: ['a'], version: 2 }))).toBe(false);
    expect((await store.get('abc'))?.pending).toEqual(['b']);
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
