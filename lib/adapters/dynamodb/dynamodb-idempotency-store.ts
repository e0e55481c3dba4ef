/**
 * IdempotencyStore on a DynamoDB table with a string partition key `id` and a TTL attribute
 * `expiresAtEpoch`. Claims are conditional writes, so two invocations never both hold a request.
 * Items are `request:<key>`: the table also holds farm ledger entries (`farm:…`) and service
 * leases (`lease:…`), and no request id can name one of those.
 */
import { randomUUID } from 'node:crypto';
import type { OutgoingEvent } from '../../domain/audit-events';
import { RECORD_RETENTION_MS } from '../../domain/request-rules';
import type {
  ClaimResult,
  Decided,
  IdempotencyStore,
  PendingLedgerWrite,
} from '../../ports/idempotency-store';
import type { AwsCall } from '../aws/aws-json-client';
import { type DynamoItem, epochSeconds, isConditionFailure } from './dynamodb-types';

export interface DynamoDbIdempotencyStoreOptions {
  /** A DynamoDB client (makeAwsJsonClient with DYNAMODB). */
  client: AwsCall;
  tableName: string;
  /**
   * How long records are kept (DynamoDB TTL): longer than a request can come back (queue, DLQ,
   * redrive, and the oldest request the worker accepts).
   */
  retainMs?: number;
}

export const requestItemId = (key: string): string => `request:${key}`;

export class DynamoDbIdempotencyStore implements IdempotencyStore {
  private readonly retainMs: number;
  constructor(private readonly options: DynamoDbIdempotencyStoreOptions) {
    this.retainMs = options.retainMs ?? RECORD_RETENTION_MS;
  }

  private expiry(now: Date) {
    return { N: epochSeconds(now.getTime() + this.retainMs) };
  }

  async claim(key: string, now: Date, holdMs: number): Promise<ClaimResult> {
    const { client, tableName } = this.options;
    const id = { S: requestItemId(key) };
    // Marks this claim as ours: if the write succeeded but its answer was lost and the client's
    // retry was refused by the condition, reading the item back shows the claim is ours, rather
    // than held by someone else until it expires.
    const owner = randomUUID();
    try {
      await client('PutItem', {
        TableName: tableName,
        Item: {
          id,
          state: { S: 'in-progress' },
          owner: { S: owner },
          heldUntil: { N: String(now.getTime() + holdMs) },
          expiresAtEpoch: this.expiry(now),
        },
        ConditionExpression:
          'attribute_not_exists(id) OR (#state = :inProgress AND heldUntil <= :now) OR (#state = :deferred AND deferredUntilMs <= :now)',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: {
          ':inProgress': { S: 'in-progress' },
          ':deferred': { S: 'deferred' },
          ':now': { N: String(now.getTime()) },
        },
      });
      return { state: 'claimed' };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    const { Item } = await client<{ Item?: DynamoItem }>('GetItem', {
      TableName: tableName,
      Key: { id },
      ConsistentRead: true,
    });
    const state = Item?.state?.S;
    if (state === 'in-progress' && Item?.owner?.S === owner) return { state: 'claimed' };
    if (state === 'completed') return { state: 'completed' };
    if (state === 'deferred') return { state: 'deferred', until: Item?.deferredUntil?.S ?? '' };
    if (state === 'decided') {
      const ledger = Item?.ledger?.S ? (JSON.parse(Item.ledger.S) as PendingLedgerWrite) : undefined;
      return {
        state: 'decided',
        events: JSON.parse(Item?.events?.S ?? '[]') as OutgoingEvent[],
        ...(ledger ? { ledger } : {}),
      };
    }
    return { state: 'in-progress' };
  }

  async decide(key: string, decided: Decided, now: Date): Promise<void> {
    await this.options.client('UpdateItem', {
      TableName: this.options.tableName,
      Key: { id: { S: requestItemId(key) } },
      UpdateExpression: decided.ledger
        ? 'SET #state = :decided, events = :events, ledger = :ledger, expiresAtEpoch = :exp'
        : 'SET #state = :decided, events = :events, expiresAtEpoch = :exp REMOVE ledger',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: {
        ':decided': { S: 'decided' },
        ':events': { S: JSON.stringify(decided.events) },
        ':exp': this.expiry(now),
        ...(decided.ledger ? { ':ledger': { S: JSON.stringify(decided.ledger) } } : {}),
      },
    });
  }

  async defer(key: string, until: string, now: Date): Promise<void> {
    await this.options.client('UpdateItem', {
      TableName: this.options.tableName,
      Key: { id: { S: requestItemId(key) } },
      UpdateExpression:
        'SET #state = :deferred, deferredUntil = :until, deferredUntilMs = :untilMs, expiresAtEpoch = :exp REMOVE events, ledger, heldUntil',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: {
        ':deferred': { S: 'deferred' },
        ':until': { S: until },
        ':untilMs': { N: String(Date.parse(until)) },
        ':exp': { N: epochSeconds(Math.max(now.getTime(), Date.parse(until)) + this.retainMs) },
      },
    });
  }

  async complete(key: string, now: Date): Promise<void> {
    await this.options.client('UpdateItem', {
      TableName: this.options.tableName,
      Key: { id: { S: requestItemId(key) } },
      UpdateExpression: 'SET #state = :completed, expiresAtEpoch = :exp REMOVE events, ledger',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: {
        ':completed': { S: 'completed' },
        ':exp': this.expiry(now),
      },
    });
  }

  async release(key: string): Promise<void> {
    await this.options.client('DeleteItem', {
      TableName: this.options.tableName,
      Key: { id: { S: requestItemId(key) } },
    });
  }
}
