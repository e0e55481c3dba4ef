/** An in-process DynamoDB (dynalite) on a loopback port, with stickler's idempotency table created. */
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { DYNAMODB, makeAwsJsonClient } from '../adapters/aws/aws-json-client';

/** The table's keys and index, as serverless.yml declares them (test/infra checks they agree). */
export const IDEMPOTENCY_TABLE_KEYS = {
  AttributeDefinitions: [
    { AttributeName: 'id', AttributeType: 'S' },
    { AttributeName: 'group', AttributeType: 'S' },
  ],
  GlobalSecondaryIndexes: [
    {
      IndexName: 'by-group',
      KeySchema: [
        { AttributeName: 'group', KeyType: 'HASH' },
        { AttributeName: 'id', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'KEYS_ONLY' },
    },
  ],
};

export const startDynalite = async (tableName: string) => {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = makeAwsJsonClient({
    service: DYNAMODB,
    endpoint,
    region: 'eu-west-3',
    credentials: () => ({ accessKeyId: 'local', secretAccessKey: 'local' }),
  });
  await client('CreateTable', {
    TableName: tableName,
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    ...IDEMPOTENCY_TABLE_KEYS,
    BillingMode: 'PAY_PER_REQUEST',
  });
  return {
    endpoint,
    client,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};
