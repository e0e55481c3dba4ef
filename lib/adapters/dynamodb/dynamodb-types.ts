/** The slice of DynamoDB's JSON wire format the stores use. */
import { type AwsCall, AwsError } from '../aws/aws-json-client';

export type DynamoItem = Record<
  string,
  { S?: string; N?: string; BOOL?: boolean; NULL?: boolean; SS?: string[] }
>;

/** A conditional write that was refused because its condition did not hold. */
export const isConditionFailure = (error: unknown): boolean =>
  error instanceof AwsError && error.code === 'ConditionalCheckFailedException';

/** DynamoDB TTL attributes are epoch seconds. */
export const epochSeconds = (ms: number): string => String(Math.floor(ms / 1000));

/**
 * The live items among these ids (strong reads, 100 keys per BatchGetItem). Keys DynamoDB leaves
 * unprocessed under load are asked again, a bounded number of times; an item past its TTL counts
 * as gone (DynamoDB deletes expired items within days, not at once). `what` names them in errors.
 */
export const batchGetLiveItems = async (
  client: AwsCall,
  tableName: string,
  ids: readonly string[],
  what: string,
): Promise<DynamoItem[]> => {
  const out: DynamoItem[] = [];
  const unique = [...new Set(ids)];
  const nowEpoch = Math.floor(Date.now() / 1000);
  for (let i = 0; i < unique.length; i += 100) {
    let keys: { id: { S: string } }[] = unique.slice(i, i + 100).map((id) => ({ id: { S: id } }));
    for (let attempt = 0; keys.length > 0 && attempt < 5; attempt++) {
      const answer = await client<{
        Responses?: Record<string, DynamoItem[]>;
        UnprocessedKeys?: Record<string, { Keys?: typeof keys }>;
      }>('BatchGetItem', { RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } });
      for (const item of answer.Responses?.[tableName] ?? []) {
        if (item.expiresAtEpoch?.N && Number(item.expiresAtEpoch.N) <= nowEpoch) continue;
        out.push(item);
      }
      keys = answer.UnprocessedKeys?.[tableName]?.Keys ?? [];
    }
    if (keys.length > 0) throw new Error(`DynamoDB left ${keys.length} ${what} key(s) unread`);
  }
  return out;
};
