import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import type { PutEventsRequestEntry } from '../../lib/adapters/eventbridge/eventbridge-publisher';
import { parseFleet } from '../../lib/simulator/fleet';
import { type RunningSimulator, SIMULATOR_CREDENTIALS, startSimulator } from '../../lib/simulator/server';
import { makeComplianceRunHandler } from '../../lib/wiring/compliance-run';
import { TEST_AWS_CREDENTIALS } from '../helpers/aws-signature';
import { type FakeAws, startFakeAws } from '../helpers/fake-aws';

type Handler = (
  event: unknown,
  context: Context,
) => Promise<{ requested: number; policy: { version: string } }>;

describe('compliance-run handler (S3, SSM, EventBridge and OVH over HTTP)', () => {
  let sim: RunningSimulator;
  let s3: FakeAws;
  let ssm: FakeAws;
  let eventBridge: FakeAws;
  let handler: Handler;
  let handlerEnv: NodeJS.ProcessEnv;
  let published: PutEventsRequestEntry[];
  const policy = readFileSync(join(__dirname, '../../examples/policy.yaml'), 'utf8');
  beforeAll(async () => {
    sim = await startSimulator({
      fleet: parseFleet(readFileSync(join(__dirname, '../../examples/fleet.yaml'), 'utf8')),
    });
    [s3, ssm, eventBridge] = await Promise.all([
      startFakeAws({ service: 's3' }),
      startFakeAws({ service: 'ssm' }),
      startFakeAws({ service: 'events' }),
    ]);
    handlerEnv = {
      STAGE: 'test',
      AWS_REGION: 'eu-west-3',
      AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_S3: s3.url,
      AWS_ENDPOINT_URL_SSM: ssm.url,
      AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.url,
      EVENT_BUS_NAME: 'stickler-test',
      IDEMPOTENCY_TABLE: 'stickler-test-idempotency',
      POLICY_BUCKET: 'stickler-test-policies',
      POLICY_KEY: 'policy.yaml',
      OVH_ENDPOINT: sim.baseUrl,
      OVH_CREDENTIALS_PARAMETER: '/stickler/test/ovh-credentials',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    };
    handler = makeComplianceRunHandler(handlerEnv) as unknown as Handler;
  });
  afterAll(async () => {
    await Promise.all([sim.close(), s3.close(), ssm.close(), eventBridge.close()]);
  });
  beforeEach(() => {
    published = [];
    for (const f of [s3, ssm, eventBridge]) f.reset();
    s3.on('GET /stickler-test-policies/*', () => ({
      body: policy,
      headers: { 'x-amz-version-id': 'ver-42' },
    }));
    ssm.on('AmazonSSM.GetParameter', () => ({
      body: { Parameter: { Value: JSON.stringify(SIMULATOR_CREDENTIALS) } },
    }));
    eventBridge.on('AWSEvents.PutEvents', (input) => {
      const entries = (input as { Entries: PutEventsRequestEntry[] }).Entries;
      published.push(...entries);
      return { body: { FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: 'e' })) } };
    });
  });
  const context = (id: string) =>
    ({ awsRequestId: id, functionName: 'compliance-run' }) as unknown as Context;

  it('reads the policy object and records its version; an enforce run publishes requests and never writes to OVH', async () => {
    const result = await handler({ mode: 'enforce' }, context('req-1'));
    expect(result.policy.version).toBe('ver-42');
    expect(result.requested).toBeGreaterThan(0);
    expect(published.filter((e) => e.DetailType === 'Stickiness Change Requested')).toHaveLength(
      result.requested,
    );
    expect(published.every((e) => e.Source === 'stickler.compliance')).toBe(true);
    expect(sim.stats.calls['put-farm'] ?? 0).toBe(0);
    expect(sim.stats.calls.refresh ?? 0).toBe(0);
  });

  it('gives a retried invocation (same request id) the same request ids', async () => {
    const ids = () =>
      published
        .filter((e) => e.DetailType === 'Stickiness Change Requested')
        .map((e) => JSON.parse(e.Detail!).requestId);
    await handler({ mode: 'enforce' }, context('req-2'));
    const first = ids();
    published = [];
    await handler({ mode: 'enforce' }, context('req-2'));
    expect(first.length).toBeGreaterThan(0);
    expect(ids()).toEqual(first);
  });

  it('takes the time the schedule fired for, and refuses one that is not a time before anything is read', async () => {
    await expect(handler({ mode: 'enforce', scheduledAt: 'yesterday' }, context('req-6'))).rejects.toThrow(
      "scheduledAt must be an ISO 8601 time, got 'yesterday'",
    );
    expect(published).toEqual([]);
    const result = await handler(
      { mode: 'enforce', scheduledAt: new Date().toISOString() },
      context('req-7'),
    );
    expect(result.requested).toBeGreaterThan(0);
  });

  it('fails loudly when the policy object is missing, publishing Compliance Run Failed only', async () => {
    s3.on('GET /stickler-test-policies/*', () => ({
      status: 404,
      body: '<Error><Code>NoSuchKey</Code></Error>',
    }));
    await expect(handler({ mode: 'enforce' }, context('req-3'))).rejects.toThrow(/NoSuchKey/);
    expect(published.map((e) => e.DetailType)).toEqual(['Compliance Run Failed']);
  });

  it('emits the dashboard metrics (drifted farms, unapplied zones, farms checked) as embedded metric lines', async () => {
    const lines: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    let result: { drifted: number; unappliedZones: number; farmsChecked: number };
    // Metric lines are off in the tests (test/setup/sandbox.js): on for this handler only.
    const off = process.env.POWERTOOLS_METRICS_DISABLED;
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    const measured = makeComplianceRunHandler(handlerEnv) as unknown as Handler;
    process.env.POWERTOOLS_METRICS_DISABLED = off;
    try {
      result = (await measured({ mode: 'report' }, context('req-5'))) as unknown as typeof result;
    } finally {
      write.mockRestore();
    }
    const emf = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const metric = emf.find((m) => 'drifted_farms' in m)!;
    expect(metric).toBeDefined();
    expect(metric).toMatchObject({
      drifted_farms: result.drifted,
      unapplied_zones: result.unappliedZones,
      farms_checked: result.farmsChecked,
      service: 'compliance-run',
    });
    expect(result.drifted).toBeGreaterThan(0);
    expect(
      (metric._aws as { CloudWatchMetrics: { Namespace: string }[] }).CloudWatchMetrics[0]!.Namespace,
    ).toBe('stickler');
  });

  it('refuses a mode it does not know', async () => {
    await expect(handler({ mode: 'fix-everything' }, context('req-4'))).rejects.toThrow(
      /mode must be report or enforce/,
    );
    expect(published).toEqual([]);
  });
});
