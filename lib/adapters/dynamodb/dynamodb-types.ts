/** The slice of DynamoDB's JSON wire format the stores use. */
import { AwsError } from '../aws/aws-json-client';

export type DynamoItem = Record<string, { S?: string; N?: string; BOOL?: boolean; NULL?: boolean }>;

/** A conditional write that was refused because its condition did not hold. */
export const isConditionFailure = (error: unknown): boolean =>
  error instanceof AwsError && error.code === 'ConditionalCheckFailedException';

/** DynamoDB TTL attributes are epoch seconds. */
export const epochSeconds = (ms: number): string => String(Math.floor(ms / 1000));
