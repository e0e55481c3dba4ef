/**
 * PlanRegistry on the idempotency table: one item per registered plan, `~plan:<digest>`, holding
 * the plan's body as JSON (`body`), expiring (TTL `expiresAtEpoch`) when the registration does.
 * Operators may write these items only (their policy's `~plan:*`); the ticket webhook reads them.
 */
import type { SavedPlanBody } from '../../domain/saved-plan';
import type { PlanRegistry, RegisteredPlan } from '../../ports/plan-registry';
import type { AwsCall } from '../aws/aws-json-client';
import { type DynamoItem, epochSeconds, isConditionFailure } from './dynamodb-types';

export const planItemId = (digest: string): string => `~plan:${digest}`;

export class DynamoDbPlanRegistry implements PlanRegistry {
  constructor(private readonly options: { client: AwsCall; tableName: string }) {}

  async register(body: SavedPlanBody, digest: string, expiresAt: Date): Promise<'registered' | 'already'> {
    try {
      await this.options.client('PutItem', {
        TableName: this.options.tableName,
        Item: {
          id: { S: planItemId(digest) },
          body: { S: JSON.stringify(body) },
          expiresAtEpoch: { N: epochSeconds(expiresAt.getTime()) },
        },
        // Written only if absent, or expired but not yet deleted by the TTL.
        ConditionExpression: 'attribute_not_exists(id) OR expiresAtEpoch <= :now',
        ExpressionAttributeValues: { ':now': { N: epochSeconds(Date.now()) } },
      });
      return 'registered';
    } catch (error) {
      if (isConditionFailure(error)) return 'already';
      throw error;
    }
  }

  async read(digest: string): Promise<RegisteredPlan | undefined> {
    const { Item } = await this.options.client<{ Item?: DynamoItem }>('GetItem', {
      TableName: this.options.tableName,
      Key: { id: { S: planItemId(digest) } },
      ConsistentRead: true,
    });
    if (Item?.body?.S === undefined) return undefined;
    const epoch = Number(Item.expiresAtEpoch?.N);
    // No readable expiry: expired.
    return { body: Item.body.S, expiresAt: new Date(Number.isFinite(epoch) ? epoch * 1000 : 0) };
  }
}
