/**
 * ChatProposals on the worker's table: items `proposal:<id>` (the proposal as JSON, its state,
 * who spent it) and `reply:<request id>` (where the outcome goes). A click claims a proposal with
 * one conditional update (open and not expired at the click's time), so of two clicks at once
 * exactly one wins. Both kinds expire through the table's TTL a day after they stop being
 * usable, and an item past its time is treated as gone before DynamoDB deletes it.
 */
import type { ChatProposal, ChatProposals, ProposalClaim } from '../../ports/chat-proposals';
import type { AwsCall } from '../aws/aws-json-client';
import { type DynamoItem, epochSeconds, isConditionFailure } from './dynamodb-types';

const DAY_MS = 24 * 3600_000;

export class DynamoDbChatProposals implements ChatProposals {
  constructor(private readonly options: { client: AwsCall; tableName: string }) {}

  private key(id: string) {
    return { id: { S: `proposal:${id}` } };
  }

  async save(proposal: ChatProposal): Promise<void> {
    const expiresAtMs = Date.parse(proposal.expiresAt);
    await this.options.client('PutItem', {
      TableName: this.options.tableName,
      Item: {
        ...this.key(proposal.id),
        proposal: { S: JSON.stringify(proposal) },
        proposalState: { S: 'open' },
        usableUntilMs: { N: String(expiresAtMs) },
        expiresAtEpoch: { N: epochSeconds(expiresAtMs + DAY_MS) },
      },
      // Ids are random: an existing one is never overwritten.
      ConditionExpression: 'attribute_not_exists(id)',
    });
  }

  private async read(id: string): Promise<DynamoItem | undefined> {
    const { Item } = await this.options.client<{ Item?: DynamoItem }>('GetItem', {
      TableName: this.options.tableName,
      Key: this.key(id),
      ConsistentRead: true,
    });
    return Item;
  }

  async get(id: string): Promise<ChatProposal | undefined> {
    const item = await this.read(id);
    return item?.proposal?.S ? (JSON.parse(item.proposal.S) as ChatProposal) : undefined;
  }

  async claim(id: string, how: 'applied' | 'cancelled', by: string, now: Date): Promise<ProposalClaim> {
    try {
      const { Attributes } = await this.options.client<{ Attributes?: DynamoItem }>('UpdateItem', {
        TableName: this.options.tableName,
        Key: this.key(id),
        UpdateExpression: 'SET proposalState = :how, spentBy = :by, spentAt = :at',
        ConditionExpression: 'proposalState = :open AND usableUntilMs > :now',
        ExpressionAttributeValues: {
          ':how': { S: how },
          ':by': { S: by },
          ':at': { S: now.toISOString() },
          ':open': { S: 'open' },
          ':now': { N: String(now.getTime()) },
        },
        ReturnValues: 'ALL_NEW',
      });
      return { kind: 'claimed', proposal: JSON.parse(Attributes!.proposal!.S!) as ChatProposal };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    const item = await this.read(id);
    if (!item) return { kind: 'unknown' };
    const state = item.proposalState?.S;
    if (state === 'applied' || state === 'cancelled')
      return { kind: 'spent', how: state, by: item.spentBy?.S ?? '?' };
    return { kind: 'expired' };
  }

  async release(id: string): Promise<void> {
    try {
      await this.options.client('UpdateItem', {
        TableName: this.options.tableName,
        Key: this.key(id),
        UpdateExpression: 'SET proposalState = :open REMOVE spentBy, spentAt',
        ConditionExpression: 'proposalState = :applied',
        ExpressionAttributeValues: { ':open': { S: 'open' }, ':applied': { S: 'applied' } },
      });
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async saveReplyTarget(requestId: string, responseUrl: string, expiresAt: Date): Promise<void> {
    await this.options.client('PutItem', {
      TableName: this.options.tableName,
      Item: {
        id: { S: `reply:${requestId}` },
        responseUrl: { S: responseUrl },
        usableUntilMs: { N: String(expiresAt.getTime()) },
        expiresAtEpoch: { N: epochSeconds(expiresAt.getTime() + DAY_MS) },
      },
    });
  }

  async replyTarget(requestId: string): Promise<string | undefined> {
    const { Item } = await this.options.client<{ Item?: DynamoItem }>('GetItem', {
      TableName: this.options.tableName,
      Key: { id: { S: `reply:${requestId}` } },
      ConsistentRead: true,
    });
    if (!Item?.responseUrl?.S) return undefined;
    if (Number(Item.usableUntilMs?.N ?? 0) < Date.now()) return undefined; // Slack no longer takes it
    return Item.responseUrl.S;
  }
}
