import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { awsJsonClientFromEnv, DYNAMODB } from '../../lib/adapters/aws/aws-json-client';
import { DynamoDbChatProposals } from '../../lib/adapters/dynamodb/dynamodb-chat-proposals';
import { DynamoDbFarmLedger } from '../../lib/adapters/dynamodb/dynamodb-farm-ledger';
import { DynamoDbIdempotencyStore } from '../../lib/adapters/dynamodb/dynamodb-idempotency-store';
import { DynamoDbRolloutStore } from '../../lib/adapters/dynamodb/dynamodb-rollout-store';
import { DynamoDbServiceLeases } from '../../lib/adapters/dynamodb/dynamodb-service-leases';
import { DynamoDbUnappliedZones } from '../../lib/adapters/dynamodb/dynamodb-unapplied-zones';
import { DETAIL_TYPES } from '../../lib/domain/events';
import type { RolloutState } from '../../lib/ports/rollout-store';
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

  it('claims a request once with a conditional write, keeps its record 30 days (TTL) and releases it', async () => {
    const store = new DynamoDbIdempotencyStore({ client: client(), tableName });
    const key = unique('req');
    await expect(store.claim(key, now, 60_000)).resolves.toEqual({ state: 'claimed' });
    await expect(store.claim(key, later(1_000), 60_000)).resolves.toEqual({ state: 'in-progress' });
    await expect(store.claim(key, later(60_001), 60_000)).resolves.toEqual({ state: 'claimed' });
    const stored = await item(`request:${key}`);
    expect(stored?.state?.S).toBe('in-progress');
    expect(Number(stored?.expiresAtEpoch?.N)).toBe(epoch(later(60_001).getTime() + 30 * 24 * 3600_000));

    const events = [
      {
        detailType: DETAIL_TYPES.zoneApplied,
        detail: { auditId: 'a', service: 's' },
        dedupeKey: 'a',
      },
    ] as never;
    await store.decide(key, { events }, now);
    await expect(store.claim(key, later(120_000), 60_000)).resolves.toEqual({ state: 'decided', events });
    await store.defer(key, later(3_600_000).toISOString(), now);
    await expect(store.claim(key, later(1_000), 60_000)).resolves.toEqual({
      state: 'deferred',
      until: later(3_600_000).toISOString(),
    });
    // A deferred record stays until its window, then may be claimed again.
    await expect(store.claim(key, later(3_600_000), 60_000)).resolves.toEqual({ state: 'claimed' });
    await store.complete(key, now);
    await expect(store.claim(key, later(999_999_999), 60_000)).resolves.toEqual({ state: 'completed' });
    expect((await item(`request:${key}`))?.events).toBeUndefined();
    await store.release(key);
    expect(await item(`request:${key}`)).toBeUndefined();
  });

  it('keeps the newest request per farm (conditional on its SentTimestamp) and reads the ledger with BatchGetItem', async () => {
    const ledger = new DynamoDbFarmLedger({ client: client(), tableName });
    const [a, b, none] = [unique('lb/http/1'), unique('lb/http/2'), unique('lb/http/3')];
    await ledger.record(a, { requestId: 'new', sentAt: later(2_000).toISOString() }, now);
    await ledger.record(a, { requestId: 'old', sentAt: later(1_000).toISOString() }, now); // refused: older
    await ledger.record(b, { requestId: 'b1', sentAt: later(1_000).toISOString() }, now);
    // More keys than one BatchGetItem takes (100): the reads are split.
    const keys = [a, b, none, ...Array.from({ length: 120 }, (_, i) => unique(`lb/tcp/${i}`))];
    const latest = await ledger.latest(keys);
    expect(Object.fromEntries(latest)).toEqual({
      [a]: { requestId: 'new', sentAt: later(2_000).toISOString() },
      [b]: { requestId: 'b1', sentAt: later(1_000).toISOString() },
    });
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
    const record = { service, zone: 'gra', pending: 2, doneRefreshes: [7, 9], at: now.toISOString() };
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
