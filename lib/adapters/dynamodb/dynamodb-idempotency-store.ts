/**
 * IdempotencyStore on a DynamoDB table with a string partition key `id` and a TTL attribute
 * `expiresAtEpoch`. Claims are conditional writes, so two invocations never both hold a request.
 */
import { randomUUID } from 'node:crypto';
import type { OutgoingEvent } from '../../domain/events';
import type { ClaimResult, IdempotencyStore } from '../../ports/idempotency-store';
import type { AwsCall } from '../aws/aws-json-client';
import { type DynamoItem, isConditionFailure } from './dynamodb-types';

export interface DynamoDbIdempotencyStoreOptions {
  /** A DynamoDB client (makeAwsJsonClient with DYNAMODB). */
  client: AwsCall;
  tableName: string;
  /** How long finished records are kept (DynamoDB TTL), so late redeliveries are still recognised. */
  retainMs?: number;
}

const epoch = (ms: number) => String(Math.floor(ms / 1000));

export class DynamoDbIdempotencyStore implements IdempotencyStore {
  private readonly retainMs: number;
  constructor(private readonly options: DynamoDbIdempotencyStoreOptions) {
    this.retainMs = options.retainMs ?? 7 * 24 * 3600_000;
  }

  async claim(key: string, now: Date, holdMs: number): Promise<ClaimResult> {
    const { client, tableName } = this.options;
    // Marks this claim as ours: if the write succeeded but its answer was lost and the client's
    // retry was refused by the condition, reading the item back shows the claim is ours, rather
    // than held by someone else until it expires.
    const owner = randomUUID();
    try {
      await client('PutItem', {
        TableName: tableName,
        Item: {
          id: { S: key },
          state: { S: 'in-progress' },
          owner: { S: owner },
          heldUntil: { N: String(now.getTime() + holdMs) },
          expiresAtEpoch: { N: epoch(now.getTime() + this.retainMs) },
        },
        ConditionExpression: 'attribute_not_exists(id) OR (#state = :inProgress AND heldUntil <= :now)',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: {
          ':inProgress': { S: 'in-progress' },
          ':now': { N: String(now.getTime()) },
        },
      });
      return { state: 'claimed' };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    const { Item } = await client<{ Item?: DynamoItem }>('GetItem', {
      TableName: tableName,
      Key: { id: { S: key } },
      ConsistentRead: true,
    });
    const state = Item?.state?.S;
    if (state === 'in-progress' && Item?.owner?.S === owner) return { state: 'claimed' };
    if (state === 'completed') return { state: 'completed' };
    if (state === 'decided')
      return { state: 'decided', events: JSON.parse(Item?.events?.S ?? '[]') as OutgoingEvent[] };
    return { state: 'in-progress' };
  }

  async decide(key: string, events: readonly OutgoingEvent[], now: Date): Promise<void> {
    await this.options.client('UpdateItem', {
      TableName: this.options.tableName,
      Key: { id: { S: key } },
      UpdateExpression: 'SET #state = :decided, events = :events, expiresAtEpoch = :exp',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: {
        ':decided': { S: 'decided' },
        ':events': { S: JSON.stringify(events) },
        ':exp': { N: epoch(now.getTime() + this.retainMs) },
      },
    });
  }

  async complete(key: string, now: Date): Promise<void> {
    await this.options.client('UpdateItem', {
      TableName: this.options.tableName,
      Key: { id: { S: key } },
      UpdateExpression: 'SET #state = :completed, expiresAtEpoch = :exp REMOVE events',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: {
        ':completed': { S: 'completed' },
        ':exp': { N: epoch(now.getTime() + this.retainMs) },
      },
    });
  }

  async release(key: string): Promise<void> {
    await this.options.client('DeleteItem', { TableName: this.options.tableName, Key: { id: { S: key } } });
  }
}
