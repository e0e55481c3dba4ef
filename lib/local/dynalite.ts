/** An in-process DynamoDB (dynalite) on a loopback port, with stickler's idempotency table created. */
import dynalite from 'dynalite';
import { DYNAMODB, makeAwsJsonClient } from '../adapters/aws/aws-json-client';
import { listenOn } from './listen';

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

export const startDynalite = async (tableName: string, port = 0) => {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const endpoint = `http://127.0.0.1:${await listenOn(server, port, 'DynamoDB (dynalite)')}`;
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
