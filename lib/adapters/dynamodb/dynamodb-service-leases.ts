/**
 * ServiceLeases on the idempotency table (items `lease:<service>`): a conditional write takes a
 * lease that is free or expired; each acquisition's token makes release (and a retried write
 * whose answer was lost) safe. A crashed holder's lease expires on its own after `holdMs`.
 */
import { randomUUID } from 'node:crypto';
import type { Lease, ServiceLeases } from '../../ports/service-leases';
import type { AwsCall } from '../aws/aws-json-client';
import { type DynamoItem, epochSeconds, isConditionFailure } from './dynamodb-types';

export const leaseItemId = (service: string): string => `lease:${service}`;

export class DynamoDbServiceLeases implements ServiceLeases {
  constructor(private readonly options: { client: AwsCall; tableName: string }) {}

  private async acquireOne(service: string, token: string, now: Date, holdMs: number): Promise<boolean> {
    const { client, tableName } = this.options;
    const id = { S: leaseItemId(service) };
    try {
      await client('PutItem', {
        TableName: tableName,
        Item: {
          id,
          owner: { S: token },
          leasedUntil: { N: String(now.getTime() + holdMs) },
          expiresAtEpoch: { N: epochSeconds(now.getTime() + holdMs + 24 * 3600_000) },
        },
        ConditionExpression: 'attribute_not_exists(id) OR leasedUntil <= :now OR #owner = :owner',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':now': { N: String(now.getTime()) }, ':owner': { S: token } },
      });
      return true;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      return false;
    }
  }

  async acquire(services: readonly string[], now: Date, holdMs: number): Promise<Lease> {
    const lease: Lease = { services: new Set(), token: randomUUID() };
    const wanted = [...new Set(services)];
    const results = await Promise.allSettled(
      wanted.map(async (s) => {
        if (await this.acquireOne(s, lease.token, now, holdMs)) lease.services.add(s);
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // One write failed: give back every lease this acquisition may hold (by its token, so none
      // of anyone else's; a write whose answer was lost included), rather than leave them to expire.
      await this.release({ services: new Set(wanted), token: lease.token }).catch(() => undefined);
      throw failed.reason;
    }
    return lease;
  }

  async release(lease: Lease): Promise<void> {
    await Promise.all(
      [...lease.services].map(async (service) => {
        try {
          await this.options.client('DeleteItem', {
            TableName: this.options.tableName,
            Key: { id: { S: leaseItemId(service) } },
            ConditionExpression: '#owner = :owner',
            ExpressionAttributeNames: { '#owner': 'owner' },
            ExpressionAttributeValues: { ':owner': { S: lease.token } },
          });
        } catch (error) {
          if (!isConditionFailure(error)) throw error; // expired and taken by someone else: theirs now
        }
      }),
    );
  }

  /** Who holds a service's lease now (for tests and operators). */
  async holder(service: string): Promise<string | undefined> {
    const { Item } = await this.options.client<{ Item?: DynamoItem }>('GetItem', {
      TableName: this.options.tableName,
      Key: { id: { S: leaseItemId(service) } },
      ConsistentRead: true,
    });
    return Item?.owner?.S;
  }
}
