import { DynamoDbPlanRegistry, planItemId } from '../../../lib/adapters/dynamodb/dynamodb-plan-registry';
import { startDynalite } from '../../../lib/local/dynalite';
import { aPlanBody, planRegistryContract } from '../../contracts/plan-registry.contract';

describe('DynamoDbPlanRegistry on dynalite', () => {
  let db: Awaited<ReturnType<typeof startDynalite>>;
  let registry: DynamoDbPlanRegistry;
  beforeAll(async () => {
    db = await startDynalite('plans');
    registry = new DynamoDbPlanRegistry({ client: db.client, tableName: 'plans' });
  });
  afterAll(() => db.close());

  describe('the PlanRegistry contract', () => {
    planRegistryContract(() => registry);
  });

  it('keeps one item ~plan:<digest> with the body as JSON and a TTL in epoch seconds', async () => {
    const { body, digest } = aPlanBody();
    const expiresAt = new Date(Date.now() + 7 * 24 * 3600_000);
    await registry.register(body, digest, expiresAt);
    const { Item } = await db.client<{ Item: Record<string, { S?: string; N?: string }> }>('GetItem', {
      TableName: 'plans',
      Key: { id: { S: planItemId(digest) } },
    });
    expect(Item).toEqual({
      id: { S: `~plan:${digest}` },
      body: { S: JSON.stringify(body) },
      expiresAtEpoch: { N: String(Math.floor(expiresAt.getTime() / 1000)) },
    });
  });

  it('hands back what is stored under the digest as it is (the reader checks it), and an item without an expiry as expired', async () => {
    const { digest } = aPlanBody();
    await db.client('PutItem', {
      TableName: 'plans',
      Item: { id: { S: planItemId(digest) }, body: { S: '{"format":"other"}' } },
    });
    expect(await registry.read(digest)).toEqual({ body: '{"format":"other"}', expiresAt: new Date(0) });
    await db.client('PutItem', { TableName: 'plans', Item: { id: { S: planItemId('f'.repeat(64)) } } });
    expect(await registry.read('f'.repeat(64))).toBeUndefined();
  });
});
