import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { awsJsonClientFromEnv, DYNAMODB } from '../../lib/adapters/aws/aws-json-client';
import { DynamoDbChatProposals } from '../../lib/adapters/dynamodb/dynamodb-chat-proposals';
import { DynamoDbFarmLedger } from '../../lib/adapters/dynamodb/dynamodb-farm-ledger';
import { DynamoDbIdempotencyStore } from '../../lib/adapters/dynamodb/dynamodb-idempotency-store';
import { DynamoDbRolloutStore } from '../../lib/adapters/dynamodb/dynamodb-rollout-store';
import { DynamoDbServiceLeases } from '../../lib/adapters/dynamodb/dynamodb-service-leases';
import { DynamoDbUnappliedZones } from '../../lib/adapters/dynamodb/dynamodb-unapplied-zones';
import type { RolloutState } from '../../lib/ports/rollout-store';
import { farmLedgerContract } from '../contracts/farm-ledger.contract';
import { idempotencyStoreContract } from '../contracts/idempotency-store.contract';
import { awsEnv, STACK, sdk, unique } from './moto';

/** The DynamoDB stores on the stack's table in moto (its key schema and TTL, as deployed). */
describe('the DynamoDB stores on moto', () => {
  const client = () => awsJsonClientFromEnv(DYNAMODB, awsEnv(), { maxAttempts: 1 });
  const tableName = STACK.table;
  const item = async (id: string) =>
    (
      await new DynamoDBClient(sdk()).send(
        new GetItemCommand({ TableName: tableName, Key: { id: { S: id } }, ConsistentRead: true }),
      )
    ).Item;
  const now = new Date();
  const later = (ms: number) => new Date(now.getTime() + ms);
  const epoch = (ms: number) => Math.floor(ms / 1000);

  describe('the IdempotencyStore contract', () => {
    idempotencyStoreContract(() => new DynamoDbIdempotencyStore({ client: client(), tableName }));
  });

  describe('the FarmLedger contract', () => {
    farmLedgerContract(() => new DynamoDbFarmLedger({ client: client(), tableName }));
  });

  it('keeps a request record 30 days (TTL) past its last write', async () => {
    const store = new DynamoDbIdempotencyStore({ client: client(), tableName });
    const key = unique('req');
    await store.claim(key, now, 60_000, { contentHash: 'h', sentAt: now });
    const stored = await item(`request:${key}`);
    expect(stored?.state?.S).toBe('in-progress');
    expect(Number(stored?.acceptedAtMs?.N)).toBe(now.getTime());
    expect(Number(stored?.expiresAtEpoch?.N)).toBe(epoch(now.getTime() + 30 * 24 * 3600_000));
    await store.complete(key, now);
    expect((await item(`request:${key}`))?.events).toBeUndefined();
  });

  it('leases a load balancer to one holder at a time, and only the holder releases it', async () => {
    const leases = new DynamoDbServiceLeases({ client: client(), tableName });
    const [s1, s2] = [unique('lb'), unique('lb')];
    const first = await leases.acquire([s1, s2], now, 60_000);
    expect([...first.services].sort()).toEqual([s1, s2].sort());
    const second = await leases.acquire([s1], later(1_000), 60_000);
    expect([...second.services]).toEqual([]);
    await leases.release(second); // holds nothing: releases nothing
    await expect(leases.holder(s1)).resolves.toBe(first.token);
    await leases.release(first);
    await expect(leases.holder(s1)).resolves.toBeUndefined();
    expect([...(await leases.acquire([s1], later(2_000), 60_000)).services]).toEqual([s1]);
  });

  it('remembers, reads (BatchGetItem, ignoring an item past its TTL) and forgets unapplied zones', async () => {
    const zones = new DynamoDbUnappliedZones({ client: client(), tableName });
    const service = unique('lb');
    const record = {
      service,
      zone: 'gra',
      pending: 2,
      farms: [{ type: 'http' as const, farmId: 1, stickiness: 'cookie' as const }],
      doneRefreshes: [7, 9],
      at: now.toISOString(),
    };
    await zones.remember(record, now);
    await zones.remember({ ...record, zone: 'sbg' }, new Date(now.getTime() - 2 * 24 * 3600_000)); // expired
    await expect(zones.read(service, ['gra', 'sbg', 'rbx'])).resolves.toEqual([record]);
    await zones.forget(service, 'gra');
    await expect(zones.read(service, ['gra'])).resolves.toEqual([]);
  });

  it('writes a rollout with optimistic concurrency: a stale version loses', async () => {
    const store = new DynamoDbRolloutStore({ client: client(), tableName });
    const state: RolloutState = {
      key: unique('run'),
      runId: 'run-1',
      policy: { source: 's3://b/policy.yaml', version: 'v1' },
      zones: [],
      current: 0,
      pending: [],
      failures: [],
      status: 'running',
      version: 1,
    };
    await expect(store.create(state)).resolves.toBe(true);
    await expect(store.create(state)).resolves.toBe(false);
    await expect(store.update({ ...state, current: 1, version: 2 })).resolves.toBe(true);
    await expect(store.update({ ...state, current: 5, version: 2 })).resolves.toBe(false);
    await expect(store.get(state.key)).resolves.toMatchObject({ current: 1, version: 2 });
  });

  it('lets one click claim a chat proposal (conditional update, ALL_NEW) and tells the next it is spent', async () => {
    const proposals = new DynamoDbChatProposals({ client: client(), tableName });
    const proposal = {
      id: unique('p').replace(/-/g, ''),
      requester: { teamId: 'T1', userId: 'U1' },
      channelId: 'C1',
      service: 'loadbalancer-a',
      farmType: 'http' as const,
      farmId: 1,
      stickiness: 'cookie' as const,
      before: 'none' as const,
      zone: 'gra',
      displayName: null,
      createdAt: now.toISOString(),
      expiresAt: later(15 * 60_000).toISOString(),
    };
    await proposals.save(proposal);
    await expect(proposals.save(proposal)).rejects.toMatchObject({ code: 'ConditionalCheckFailedException' });
    await expect(proposals.claim(proposal.id, 'applied', 'U2', later(1_000))).resolves.toEqual({
      kind: 'claimed',
      proposal,
    });
    await expect(proposals.claim(proposal.id, 'cancelled', 'U3', later(2_000))).resolves.toEqual({
      kind: 'spent',
      how: 'applied',
      by: 'U2',
    });
    await proposals.saveReplyTarget('req-1', 'https://hooks.slack.com/x', later(30 * 60_000));
    await expect(proposals.replyTarget('req-1')).resolves.toBe('https://hooks.slack.com/x');
  });
});
