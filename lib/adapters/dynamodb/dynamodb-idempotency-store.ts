/**
 * IdempotencyStore on a DynamoDB table with a string partition key `id` and a TTL attribute
 * `expiresAtEpoch`. Claims are conditional writes, so two invocations never both hold a request,
 * and the first claim's acceptance time and content hash are written with `if_not_exists`, so no
 * later delivery moves or replaces them. Items are `request:<key>` (and `ticket-deferrals:<ticket>`
 * for the requests a ticket has waiting): the table also holds farm ledger entries (`farm:…`),
 * service leases (`lease:…`) and unapplied-zone records, and no request id can name one of those.
 */
import { randomUUID } from 'node:crypto';
import {
  type OutgoingEvent,
  type RequestOrigin,
  type TerminalOutcome,
  terminalOf,
} from '../../domain/audit-events';
import type { ChangeRequestedDetail } from '../../domain/events';
import { RECORD_RETENTION_MS } from '../../domain/request-rules';
import type {
  ClaimFacts,
  ClaimResult,
  Decided,
  DeferredRequest,
  IdempotencyStore,
  RequestStatus,
  ZoneInFlight,
} from '../../ports/idempotency-store';
import type { AwsCall } from '../aws/aws-json-client';
import { batchGetLiveItems, type DynamoItem, epochSeconds, isConditionFailure } from './dynamodb-types';

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
const ticketItemId = (ticket: string): string => `ticket-deferrals:${ticket}`;
/** The table's one global secondary index: `group` (partition) and `id`, keys only. */
export const GROUP_INDEX = 'by-group';
/** One item per (group, request), found through GROUP_INDEX; the request key ends its id. */
const memberItemId = (group: string, key: string): string => `group-member:${group} ${key}`;

/** Item states; released keys are `open`. */
const STATE = {
  inProgress: 'in-progress',
  decided: 'decided',
  deferred: 'deferred',
  completed: 'completed',
  open: 'open',
  deadLettered: 'dead-lettered',
} as const;

type Item = DynamoItem & { requestIds?: { SS?: string[] } };

const parseInFlight = (text: string | undefined): ZoneInFlight | undefined => {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as ZoneInFlight;
    return typeof value?.service === 'string' &&
      typeof value.zone === 'string' &&
      typeof value.askedAt === 'string'
      ? value
      : undefined;
  } catch {
    return undefined;
  }
};

export class DynamoDbIdempotencyStore implements IdempotencyStore {
  private readonly retainMs: number;
  constructor(private readonly options: DynamoDbIdempotencyStoreOptions) {
    this.retainMs = options.retainMs ?? RECORD_RETENTION_MS;
  }

  private expiry(now: Date) {
    return { N: epochSeconds(now.getTime() + this.retainMs) };
  }

  private update(key: string, input: Record<string, unknown>) {
    return this.options.client<{ Attributes?: Item }>('UpdateItem', {
      TableName: this.options.tableName,
      Key: { id: { S: requestItemId(key) } },
      ...input,
    });
  }

  private async get(id: string): Promise<Item | undefined> {
    const { Item } = await this.options.client<{ Item?: Item }>('GetItem', {
      TableName: this.options.tableName,
      Key: { id: { S: id } },
      ConsistentRead: true,
    });
    return Item;
  }

  async claim(key: string, now: Date, holdMs: number, facts: ClaimFacts): Promise<ClaimResult> {
    // Marks this claim as ours: if the write succeeded but its answer was lost and the client's
    // retry was refused by the condition, reading the item back shows the claim is ours, rather
    // than held by someone else until it expires.
    const owner = randomUUID();
    const hash = facts.contentHash;
    // Before the claim: a claim whose memberships could not be written is not made (the queue
    // delivers the request again). Writing them again on a later delivery changes nothing.
    await Promise.all((facts.groups ?? []).map((group) => this.join(group, key, now)));
    const sentMs = String(facts.sentAt.getTime());
    try {
      const { Attributes: old } = await this.update(key, {
        UpdateExpression: `SET #state = :inProgress, #owner = :owner, heldUntil = :held, expiresAtEpoch = :exp, acceptedAtMs = if_not_exists(acceptedAtMs, :sent)${hash ? ', contentHash = if_not_exists(contentHash, :hash)' : ''} REMOVE inFlight`,
        ConditionExpression: `(attribute_not_exists(id) OR #state = :open OR #state = :deadLettered OR (#state = :inProgress AND heldUntil <= :now) OR (#state = :deferred AND deferredUntilMs <= :now))${hash ? ' AND (attribute_not_exists(contentHash) OR contentHash = :hash)' : ''}`,
        ExpressionAttributeNames: { '#state': 'state', '#owner': 'owner' },
        ExpressionAttributeValues: {
          ':inProgress': { S: STATE.inProgress },
          ':open': { S: STATE.open },
          ':deadLettered': { S: STATE.deadLettered },
          ':deferred': { S: STATE.deferred },
          ':owner': { S: owner },
          ':held': { N: String(now.getTime() + holdMs) },
          ':now': { N: String(now.getTime()) },
          ':sent': { N: sentMs },
          ':exp': this.expiry(now),
          ...(hash ? { ':hash': { S: hash } } : {}),
        },
        ReturnValues: 'ALL_OLD',
      });
      const inFlight = parseInFlight(old?.inFlight?.S);
      return {
        state: 'claimed',
        acceptedAt: new Date(Number(old?.acceptedAtMs?.N ?? sentMs)),
        deadLettered: old?.state?.S === STATE.deadLettered,
        ...(inFlight ? { inFlight } : {}),
        // Kept across claims and releases: the last time the key was deferred to.
        ...(old?.deferredUntil?.S ? { deferredUntil: old.deferredUntil.S } : {}),
      };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    const item = await this.get(requestItemId(key));
    const acceptedAt = item?.acceptedAtMs?.N ? new Date(Number(item.acceptedAtMs.N)) : undefined;
    if (hash && item?.contentHash?.S && item.contentHash.S !== hash)
      return { state: 'reused', contentHash: item.contentHash.S, ...(acceptedAt ? { acceptedAt } : {}) };
    const state = item?.state?.S;
    if (state === STATE.inProgress && item?.owner?.S === owner)
      return { state: 'claimed', acceptedAt: acceptedAt ?? facts.sentAt, deadLettered: false };
    if (state === STATE.completed) return { state: 'completed' };
    if (state === STATE.deferred) return { state: 'deferred', until: item?.deferredUntil?.S ?? '' };
    if (state === STATE.decided)
      return { state: 'decided', events: JSON.parse(item?.events?.S ?? '[]') as OutgoingEvent[] };
    return { state: 'in-progress' };
  }

  async decide(key: string, decided: Decided, now: Date): Promise<void> {
    const terminal = terminalOf(decided.events);
    await this.update(key, {
      // The terminal outcome is kept once, for good: a later write of leftover events keeps it.
      UpdateExpression: `SET #state = :decided, events = :events, expiresAtEpoch = :exp${terminal ? ', terminal = if_not_exists(terminal, :terminal)' : ''} REMOVE heldUntil`,
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: {
        ':decided': { S: STATE.decided },
        ':events': { S: JSON.stringify(decided.events) },
        ':exp': this.expiry(now),
        ...(terminal ? { ':terminal': { S: JSON.stringify(terminal) } } : {}),
      },
    });
  }

  async status(keys: readonly string[]): Promise<Map<string, RequestStatus>> {
    const items = await batchGetLiveItems(
      this.options.client,
      this.options.tableName,
      keys.map(requestItemId),
      'request record',
    );
    const out = new Map<string, RequestStatus>();
    for (const item of items) {
      const key = (item.id?.S ?? '').slice('request:'.length);
      const state = item.state?.S as RequestStatus['state'] | undefined;
      if (!key || !state) continue;
      out.set(key, {
        state,
        ...(item.terminal?.S ? { terminal: JSON.parse(item.terminal.S) as TerminalOutcome } : {}),
        ...(state === STATE.deferred && item.deferredUntil?.S ? { deferredUntil: item.deferredUntil.S } : {}),
      });
    }
    return out;
  }

  async note(key: string, inFlight: ZoneInFlight, now: Date): Promise<void> {
    await this.update(key, {
      UpdateExpression: 'SET inFlight = :inFlight, expiresAtEpoch = :exp',
      ConditionExpression: '#state = :inProgress',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: {
        ':inFlight': { S: JSON.stringify(inFlight) },
        ':inProgress': { S: STATE.inProgress },
        ':exp': this.expiry(now),
      },
    });
  }

  async defer(
    key: string,
    until: string,
    now: Date,
    waiting: { request: ChangeRequestedDetail; origin: RequestOrigin | null; ticket?: string },
  ): Promise<void> {
    const expiresAt = Math.max(now.getTime(), Date.parse(until)) + this.retainMs;
    await this.update(key, {
      UpdateExpression:
        'SET #state = :deferred, deferredUntil = :until, deferredUntilMs = :untilMs, deferredRequest = :request, deferredOrigin = :origin, expiresAtEpoch = :exp REMOVE events, heldUntil',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: {
        ':deferred': { S: STATE.deferred },
        ':until': { S: until },
        ':untilMs': { N: String(Date.parse(until)) },
        ':request': { S: JSON.stringify(waiting.request) },
        ':origin': { S: JSON.stringify(waiting.origin) },
        ':exp': { N: epochSeconds(expiresAt) },
      },
    });
    if (waiting.ticket)
      await this.options.client('UpdateItem', {
        TableName: this.options.tableName,
        Key: { id: { S: ticketItemId(waiting.ticket) } },
        UpdateExpression: 'ADD requestIds :ids SET expiresAtEpoch = :exp',
        ExpressionAttributeValues: { ':ids': { SS: [key] }, ':exp': { N: epochSeconds(expiresAt) } },
      });
  }

  async complete(key: string, now: Date): Promise<void> {
    await this.update(key, {
      UpdateExpression: 'SET #state = :completed, expiresAtEpoch = :exp REMOVE events, heldUntil',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: { ':completed': { S: STATE.completed }, ':exp': this.expiry(now) },
    });
  }

  async release(key: string): Promise<void> {
    // Only a claim in progress goes back to `open`: a decided or completed record stays as it is.
    try {
      await this.update(key, {
        UpdateExpression: 'SET #state = :open REMOVE heldUntil, #owner',
        ConditionExpression: '#state = :inProgress',
        ExpressionAttributeNames: { '#state': 'state', '#owner': 'owner' },
        ExpressionAttributeValues: { ':open': { S: STATE.open }, ':inProgress': { S: STATE.inProgress } },
      });
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async deadLetter(key: string, now: Date): Promise<void> {
    await this.update(key, {
      UpdateExpression: 'SET #state = :deadLettered, expiresAtEpoch = :exp REMOVE heldUntil, #owner, events',
      ExpressionAttributeNames: { '#state': 'state', '#owner': 'owner' },
      ExpressionAttributeValues: { ':deadLettered': { S: STATE.deadLettered }, ':exp': this.expiry(now) },
    });
  }

  async deferred(key: string): Promise<DeferredRequest | undefined> {
    const item = await this.get(requestItemId(key));
    if (item?.state?.S !== STATE.deferred || !item.deferredRequest?.S || !item.deferredUntil?.S)
      return undefined;
    return {
      request: JSON.parse(item.deferredRequest.S) as ChangeRequestedDetail,
      origin: item.deferredOrigin?.S ? (JSON.parse(item.deferredOrigin.S) as RequestOrigin | null) : null,
      until: item.deferredUntil.S,
    };
  }

  async closeDeferred(key: string, events: OutgoingEvent[], now: Date): Promise<boolean> {
    const terminal = terminalOf(events);
    try {
      await this.update(key, {
        UpdateExpression: `SET #state = :decided, events = :events, expiresAtEpoch = :exp${terminal ? ', terminal = :terminal' : ''}`,
        ConditionExpression: '#state = :deferred',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: {
          ':decided': { S: STATE.decided },
          ':deferred': { S: STATE.deferred },
          ':events': { S: JSON.stringify(events) },
          ':exp': this.expiry(now),
          ...(terminal ? { ':terminal': { S: JSON.stringify(terminal) } } : {}),
        },
      });
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  private async join(group: string, key: string, now: Date): Promise<void> {
    await this.options.client('PutItem', {
      TableName: this.options.tableName,
      Item: { id: { S: memberItemId(group, key) }, group: { S: group }, expiresAtEpoch: this.expiry(now) },
    });
  }

  async members(group: string): Promise<string[]> {
    const prefix = memberItemId(group, '');
    const keys: string[] = [];
    let start: DynamoItem | undefined;
    do {
      const page: { Items?: DynamoItem[]; LastEvaluatedKey?: DynamoItem } = await this.options.client(
        'Query',
        {
          TableName: this.options.tableName,
          IndexName: GROUP_INDEX,
          KeyConditionExpression: '#group = :group',
          ExpressionAttributeNames: { '#group': 'group' },
          ExpressionAttributeValues: { ':group': { S: group } },
          ...(start ? { ExclusiveStartKey: start } : {}),
        },
      );
      for (const item of page.Items ?? []) {
        const id = item.id?.S ?? '';
        if (id.startsWith(prefix) && id.length > prefix.length) keys.push(id.slice(prefix.length));
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return keys.sort();
  }

  async ticketDeferrals(ticket: string): Promise<string[]> {
    const item = await this.get(ticketItemId(ticket));
    return [...(item?.requestIds?.SS ?? [])].sort();
  }
}
