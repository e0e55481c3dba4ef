import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { PutEventsRequestEntry } from '../../lib/adapters/eventbridge/eventbridge-publisher';
import { startDynalite } from '../../lib/local/dynalite';
import { parseFleet } from '../../lib/simulator/fleet';
import { type RunningSimulator, SIMULATOR_SERVICE_ACCOUNT, startSimulator } from '../../lib/simulator/server';
import { TEST_AWS_CREDENTIALS } from '../helpers/aws-signature';
import { loadFreshEvent } from '../helpers/events';
import { type FakeAws, startFakeAws } from '../helpers/fake-aws';

const context = {
  functionName: 'stickler-dev-apply-worker',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345679',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** The sample burst with request ids of its own (the table is shared by the runs of this file). */
const burst = (suffix: string) => {
  const event = loadFreshEvent<SQSEvent>('apply-worker', 'burst-two-zones');
  for (const record of event.Records) {
    const body = JSON.parse(record.body);
    body.detail.requestId = `${body.detail.requestId}-${suffix}`;
    record.body = JSON.stringify(body);
  }
  return event;
};

describe('apply-worker with an OVH service account read from SSM (simulator, dynalite, EventBridge and SSM over HTTP)', () => {
  let sim: RunningSimulator;
  let db: Awaited<ReturnType<typeof startDynalite>>;
  let handler: Handler;
  let eventBridge: FakeAws;
  let ssm: FakeAws;
  let sqs: FakeAws;
  const published: PutEventsRequestEntry[] = [];
  const saved = { ...process.env };

  beforeAll(async () => {
    sim = await startSimulator({
      fleet: parseFleet(readFileSync(join(__dirname, '../../examples/fleet.yaml'), 'utf8')),
      task: { todoMs: 10, doingMs: 30 },
    });
    db = await startDynalite('stickler-test-idempotency');
    eventBridge = await startFakeAws({ service: 'events' });
    ssm = await startFakeAws({ service: 'ssm' });
    sqs = await startFakeAws({ service: 'sqs' });
    Object.assign(process.env, {
      STAGE: 'test',
      AWS_REGION: 'eu-west-3',
      AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.url,
      AWS_ENDPOINT_URL_SSM: ssm.url,
      AWS_ENDPOINT_URL_SQS: sqs.url,
      EVENT_BUS_NAME: 'stickler-test',
      EVENT_BUS_ARN: 'arn:aws:events:eu-west-3:123456789012:event-bus/stickler-test',
      DEFERRAL_SCHEDULE_GROUP: 'stickler-test',
      DEFERRAL_ROLE_ARN: 'arn:aws:iam::123456789012:role/stickler-test-deferral',
      IDEMPOTENCY_TABLE: 'stickler-test-idempotency',
      // A base URL: the token URL is its origin's /auth/oauth2/token, which the simulator serves.
      OVH_ENDPOINT: sim.baseUrl,
      OVH_CREDENTIALS_PARAMETER: '/stickler/test/ovh-credentials',
      OVH_SERVICE_ACCOUNT_PARAMETER: '/stickler/test/ovh-service-account',
      POLL_INTERVAL_MS: '10',
      TASK_TIMEOUT_MS: '5000',
      FINISH_RESERVE_MS: '1000',
      POWERTOOLS_DEV: 'false',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    // Only the service account's parameter exists, as after following the README's recipe.
    ssm.on('AmazonSSM.GetParameter', (input) =>
      input.Name === '/stickler/test/ovh-service-account'
        ? { body: { Parameter: { Value: JSON.stringify(SIMULATOR_SERVICE_ACCOUNT), Type: 'SecureString' } } }
        : { status: 400, body: { __type: 'ParameterNotFound', message: 'not found' } },
    );
    eventBridge.on('AWSEvents.PutEvents', (input) => {
      const entries = (input as { Entries: PutEventsRequestEntry[] }).Entries;
      published.push(...entries);
      return { body: { FailedEntryCount: 0, Entries: entries.map((_, i) => ({ EventId: `e-${i}` })) } };
    });
    sqs.on('AmazonSQS.ChangeMessageVisibilityBatch', (input) => ({
      body: {
        Successful: (input as { Entries: { Id: string }[] }).Entries.map((e) => ({ Id: e.Id })),
        Failed: [],
      },
    }));
    handler = (await import('../../functions/apply-worker')).handler as unknown as Handler;
  });
  afterAll(async () => {
    process.env = saved;
    await sim.close();
    await db.close();
    await eventBridge.close();
    await ssm.close();
    await sqs.close();
  });

  const outcomes = () =>
    published
      .filter((e) => e.DetailType !== 'Zone Configuration Applied')
      .map((e) => (JSON.parse(e.Detail!) as { outcome?: string }).outcome);

  it('applies a burst with a bearer token, then, its token expired, fetches a new one once and applies the next', async () => {
    const first = await handler(burst('sa-1'), context);
    expect(first.batchItemFailures).toEqual([]);
    expect(sim.stats.calls.refresh).toBe(2);
    expect(sim.stats.calls['oauth2-token']).toBe(1);
    expect(sim.stats.calls['auth-time']).toBe(0); // no signature, no clock offset
    expect(outcomes().filter((o) => o === 'applied')).toHaveLength(4);

    sim.tokens.expireAll(); // OVH ends the token early: the next call meets a 401
    sim.resetState();
    sim.resetStats();
    published.length = 0;
    const second = await handler(burst('sa-2'), context);
    expect(second.batchItemFailures).toEqual([]);
    expect(sim.stats.calls['oauth2-token']).toBe(1);
    // Calls in flight when it expired may each meet a 401; they share the one new token.
    expect(sim.stats.rejected.auth).toBeGreaterThanOrEqual(1);
    expect(outcomes().filter((o) => o === 'applied')).toHaveLength(4);
    expect(JSON.stringify(published)).not.toContain(SIMULATOR_SERVICE_ACCOUNT.clientSecret);
  });
});
