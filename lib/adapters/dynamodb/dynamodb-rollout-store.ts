/**
 * RolloutStore on the worker's table (items `rollout:<key>`): the state as JSON with a version,
 * written conditionally, so two outcome events arriving together never lose each other's update.
 * Kept 30 days. DynamoDB items hold at most 400 KB: a rollout larger than that is refused.
 */
import { SticklerError } from '../../domain/errors';
import { RECORD_RETENTION_MS } from '../../domain/request-rules';
import type { RolloutState, RolloutStore } from '../../ports/rollout-store';
import type { AwsCall } from '../aws/aws-json-client';
import { type DynamoItem, epochSeconds, isConditionFailure } from './dynamodb-types';

const MAX_STATE_BYTES = 350 * 1024;

export class DynamoDbRolloutStore implements RolloutStore {
  constructor(private readonly options: { client: AwsCall; tableName: string }) {}

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
      expiresAtEpoch: { N: epochSeconds(Date.now() + RECORD_RETENTION_MS) },
    };
  }

  async create(state: RolloutState): Promise<boolean> {
    try {
      await this.options.client('PutItem', {
        TableName: this.options.tableName,
        Item: this.item(state),
        ConditionExpression: 'attribute_not_exists(id)',
      });
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
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
    try {
      await this.options.client('PutItem', {
        TableName: this.options.tableName,
        Item: this.item(state),
        ConditionExpression: 'version = :previous',
        ExpressionAttributeValues: { ':previous': { N: String(state.version - 1) } },
      });
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}
