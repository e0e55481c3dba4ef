/**
 * RolloutStore on the worker's table: the state (`rollout:<key>`, JSON with a version, written
 * conditionally), each request's outcome (`rollout-outcome:<key>:<request id>`, a conditional
 * put that keeps the first), and the policy lock (`rollout-lock:<sha256 of the policy source>`,
 * naming the rollout that holds it). Kept 30 days. DynamoDB items hold at most 400 KB: a rollout
 * larger than that is refused.
 */
import { createHash } from 'node:crypto';
import { SticklerError } from '../../domain/errors';
import { RECORD_RETENTION_MS } from '../../domain/request-rules';
import type { RolloutOutcome, RolloutState, RolloutStore } from '../../ports/rollout-store';
import type { AwsCall } from '../aws/aws-json-client';
import { batchGetLiveItems, type DynamoItem, epochSeconds, isConditionFailure } from './dynamodb-types';

const MAX_STATE_BYTES = 350 * 1024;

const outcomeId = (key: string, requestId: string) => `rollout-outcome:${key}:${requestId}`;
const lockId = (policy: string) => `rollout-lock:${createHash('sha256').update(policy).digest('hex')}`;

export class DynamoDbRolloutStore implements RolloutStore {
  constructor(private readonly options: { client: AwsCall; tableName: string }) {}

  private expiry() {
    return { N: epochSeconds(Date.now() + RECORD_RETENTION_MS) };
  }

  private item(state: RolloutState) {
    const json = JSON.stringify(state);
    if (Buffer.byteLength(json) > MAX_STATE_BYTES)
      throw new SticklerError(
        'rollout-too-large',
        `the rollout of run ${state.runId} is over ${MAX_STATE_BYTES} bytes: split the policy or raise the cap per run`,
      );
    return {
      id: { S: `rollout:${state.key}` },
      state: { S: json },
      version: { N: String(state.version) },
      expiresAtEpoch: this.expiry(),
    };
  }

  private async put(item: Record<string, unknown>, condition: string, values?: Record<string, unknown>) {
    try {
      await this.options.client('PutItem', {
        TableName: this.options.tableName,
        Item: item,
        ConditionExpression: condition,
        ...(values ? { ExpressionAttributeValues: values } : {}),
      });
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async create(state: RolloutState): Promise<boolean> {
    return this.put(this.item(state), 'attribute_not_exists(id)');
  }

  async get(key: string): Promise<RolloutState | undefined> {
    const { Item } = await this.options.client<{ Item?: DynamoItem }>('GetItem', {
      TableName: this.options.tableName,
      Key: { id: { S: `rollout:${key}` } },
      ConsistentRead: true,
    });
    return Item?.state?.S ? (JSON.parse(Item.state.S) as RolloutState) : undefined;
  }

  async update(state: RolloutState): Promise<boolean> {
    return this.put(this.item(state), 'version = :previous', {
      ':previous': { N: String(state.version - 1) },
    });
  }

  async recordOutcome(key: string, outcome: RolloutOutcome): Promise<void> {
    await this.put(
      {
        id: { S: outcomeId(key, outcome.requestId) },
        outcome: { S: JSON.stringify(outcome) },
        expiresAtEpoch: this.expiry(),
      },
      'attribute_not_exists(id)',
    );
  }

  async outcomes(key: string, requestIds: readonly string[]): Promise<Map<string, RolloutOutcome>> {
    const items = await batchGetLiveItems(
      this.options.client,
      this.options.tableName,
      requestIds.map((id) => outcomeId(key, id)),
      'rollout outcome',
    );
    const out = new Map<string, RolloutOutcome>();
    for (const item of items) {
      if (!item.outcome?.S) continue;
      const outcome = JSON.parse(item.outcome.S) as RolloutOutcome;
      out.set(outcome.requestId, outcome);
    }
    return out;
  }

  async lock(policy: string, key: string): Promise<{ held: true } | { held: false; holder: string }> {
    const item = { id: { S: lockId(policy) }, holder: { S: key }, expiresAtEpoch: this.expiry() };
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.put(item, 'attribute_not_exists(id) OR holder = :key', { ':key': { S: key } }))
        return { held: true };
      const { Item } = await this.options.client<{ Item?: DynamoItem }>('GetItem', {
        TableName: this.options.tableName,
        Key: { id: { S: lockId(policy) } },
        ConsistentRead: true,
      });
      const holder = Item?.holder?.S;
      if (!holder) continue;
      const state = await this.get(holder);
      if (state?.status === 'running') return { held: false, holder };
      // The holder's rollout has ended (or is gone): the lock is taken over, unless someone else was first.
      if (await this.put(item, 'holder = :holder', { ':holder': { S: holder } })) return { held: true };
    }
    return { held: false, holder: 'another run (the lock kept changing)' };
  }

  async unlock(policy: string, key: string): Promise<void> {
    try {
      await this.options.client('DeleteItem', {
        TableName: this.options.tableName,
        Key: { id: { S: lockId(policy) } },
        ConditionExpression: 'holder = :key',
        ExpressionAttributeValues: { ':key': { S: key } },
      });
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
}
