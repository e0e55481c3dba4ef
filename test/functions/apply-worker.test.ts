import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { PutEventsRequestEntry } from '../../lib/adapters/eventbridge/eventbridge-publisher';
import {
  type ChangeAuditDetail,
  ChangeAuditDetailSchema,
  ZoneAppliedDetailSchema,
} from '../../lib/domain/audit-events';
import { DETAIL_TYPES } from '../../lib/domain/events';
import { startDynalite } from '../../lib/local/dynalite';
import { parseFleet } from '../../lib/simulator/fleet';
import { type RunningSimulator, SIMULATOR_CREDENTIALS, startSimulator } from '../../lib/simulator/server';
import { TEST_AWS_CREDENTIALS } from '../helpers/aws-signature';
import { loadFreshEvent } from '../helpers/events';
import { type FakeAws, type FakeRoute, startFakeAws } from '../helpers/fake-aws';

type Entries = { Entries: PutEventsRequestEntry[] };
const context = {
  functionName: 'stickler-dev-apply-worker',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

describe('apply-worker handler (simulator, dynalite, EventBridge and SSM endpoints, all over HTTP)', () => {
  let sim: RunningSimulator;
  let db: Awaited<ReturnType<typeof startDynalite>>;
  let handler: Handler;
  let published: PutEventsRequestEntry[];
  let eventBridge: FakeAws;
  let ssm: FakeAws;
  let sqs: FakeAws;
  /** The visibility timeouts the worker set, per receipt handle, in order. */
  let visibility: { handle: string; seconds: number }[];
  const saved = { ...process.env };
  /** PutEvents answers `answer(entry)` per entry (accepted by default); accepted entries are kept. */
  const putEvents =
    (answer: (entry: PutEventsRequestEntry) => { ErrorCode?: string } = () => ({})): FakeRoute =>
    (input) => {
      const entries = (input as unknown as Entries).Entries;
      const answers = entries.map((e, i) => {
        const a = answer(e);
        return a.ErrorCode
          ? { ErrorCode: a.ErrorCode, ErrorMessage: 'failed' }
          : { EventId: `e-${published.length}-${i}` };
      });
      published.push(...entries.filter((_, i) => !('ErrorCode' in answers[i]!)));
      return { body: { FailedEntryCount: answers.filter((a) => 'ErrorCode' in a).length, Entries: answers } };
    };

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
      OVH_ENDPOINT: sim.baseUrl,
      OVH_CREDENTIALS_PARAMETER: '/stickler/test/ovh-credentials',
      POLL_INTERVAL_MS: '10',
      TASK_TIMEOUT_MS: '5000',
      FINISH_RESERVE_MS: '1000',
      MAX_RECEIVE_COUNT: '3',
      POWERTOOLS_DEV: 'false',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    ssm.on('AmazonSSM.GetParameter', () => ({
      body: { Parameter: { Value: JSON.stringify(SIMULATOR_CREDENTIALS), Type: 'SecureString' } },
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
  beforeEach(() => {
    published = [];
    eventBridge.reset();
    eventBridge.on('AWSEvents.PutEvents', putEvents());
    visibility = [];
    sqs.reset();
    sqs.on('AmazonSQS.ChangeMessageVisibilityBatch', (input) => {
      const entries = (
        input as { Entries: { Id: string; ReceiptHandle: string; VisibilityTimeout: number }[] }
      ).Entries;
      visibility.push(...entries.map((e) => ({ handle: e.ReceiptHandle, seconds: e.VisibilityTimeout })));
      return { body: { Successful: entries.map((e) => ({ Id: e.Id })), Failed: [] } };
    });
    sim.resetStats();
    sim.resetState(); // each test starts from the example fleet, whatever ran before it
    sim.faults.taskErrorRate = 0;
    sim.faults.serverErrorRate = 0;
  });

  // Whatever a test did, every event the worker published must fit the published contract.
  afterEach(() => {
    for (const entry of published) {
      const schema =
        entry.DetailType === DETAIL_TYPES.zoneApplied ? ZoneAppliedDetailSchema : ChangeAuditDetailSchema;
      const result = schema.safeParse(JSON.parse(entry.Detail!));
      expect({ type: entry.DetailType, ok: result.success, issues: result.error?.issues }).toEqual({
        type: entry.DetailType,
        ok: true,
        issues: undefined,
      });
    }
  });

  const audits = () =>
    published
      .filter((e) => e.DetailType !== 'Zone Configuration Applied')
      .map((e) => ({ type: e.DetailType, ...(JSON.parse(e.Detail!) as ChangeAuditDetail) }));

  it("bounds its records' visibility to its own end, so that a killed invocation's records come back within minutes", async () => {
    const event = loadFreshEvent<SQSEvent>('apply-worker', 'burst-two-zones');
    for (const record of event.Records) {
      // Requests of their own: the table is shared by the tests of this file.
      const body = JSON.parse(record.body);
      body.detail.requestId = `${body.detail.requestId}-visibility`;
      record.body = JSON.stringify(body);
    }
    await handler(event, context);
    // 60 s left in this invocation, and a minute: its records are visible again 120 s on at most.
    expect(visibility.slice(0, event.Records.length)).toEqual(
      event.Records.map((r) => ({ handle: r.receiptHandle, seconds: 120 })),
    );
  });

  it('applies a burst for two zones of one service with exactly two refreshes and one audit event per request', async () => {
    const result = await handler(loadFreshEvent<SQSEvent>('apply-worker', 'burst-two-zones'), context);
    expect(result.batchItemFailures).toEqual([]);
    expect(sim.stats.calls.refresh).toBe(2);
    expect(sim.stats.calls['put-farm']).toBe(4);
    const byRequest = Object.fromEntries(audits().map((a) => [a.requestId, a.type]));
    expect(byRequest).toEqual({
      'req-0001': 'Stickiness Change Applied',
      'req-0002': 'Stickiness Change Applied',
      'req-0003': 'Stickiness Change Refused',
      'req-0004': 'Stickiness Change Applied',
      'req-0005': 'Stickiness Change Applied',
    });
    expect(audits()).toHaveLength(5);
    const applied = audits().find((a) => a.requestId === 'req-0001')!;
    expect(applied).toMatchObject({
      outcome: 'applied',
      actor: { kind: 'ticket', id: 'jira:alice', name: 'Alice Martin' },
      ticket: 'OPS-1042',
      service: 'loadbalancer-7f3a9c21',
      farmType: 'http',
      farmId: 101,
      zone: 'gra',
      before: 'none',
      after: 'cookie',
      refresh: { zone: 'gra', status: 'done' },
    });
    expect(audits().find((a) => a.requestId === 'req-0003')).toMatchObject({
      code: 'superseded',
      message: 'superseded by request req-0004 for the same farm (accepted later, in the same batch)',
    });
    // Every outcome traces back to its publisher's envelope and carries a stable id.
    expect(applied).toMatchObject({
      schemaVersion: 2,
      auditId: 'req-0001:applied',
      origin: { source: 'acme.ticketing', account: '123456789012', eventId: expect.any(String) },
    });
    const zones = published
      .filter((e) => e.DetailType === 'Zone Configuration Applied')
      .map((e) => JSON.parse(e.Detail!));
    expect(zones.map((z) => [z.zone, z.requestIds.sort()])).toEqual(
      expect.arrayContaining([
        ['gra', ['req-0001', 'req-0002']],
        ['sbg', ['req-0004', 'req-0005']],
      ]),
    );
    expect(published.every((e) => e.EventBusName === 'stickler-test' && e.Source === 'stickler')).toBe(true);
    expect(JSON.stringify(published)).not.toContain(SIMULATOR_CREDENTIALS.applicationSecret);
  });

  it('changes nothing and emits nothing for a redelivered message', async () => {
    // Its first delivery (carried out, whatever the order tests run in), then the redelivery.
    const event = loadFreshEvent<SQSEvent>('apply-worker', 'redelivered');
    const body = JSON.parse(event.Records[0]!.body);
    body.detail.requestId = 'req-redelivered';
    event.Records[0]!.body = JSON.stringify(body);
    expect((await handler(event, context)).batchItemFailures).toEqual([]);
    published = [];
    sim.resetStats();
    const result = await handler(event, context);
    expect(result.batchItemFailures).toEqual([]);
    expect(published).toEqual([]);
    expect(sim.stats.calls['put-farm'] + sim.stats.calls.refresh + sim.stats.calls['get-farm']).toBe(0);
  });

  it('refuses poison and invalid records with an audit event, acknowledges them, and still applies the rest', async () => {
    const result = await handler(loadFreshEvent<SQSEvent>('apply-worker', 'poison-and-invalid'), context);
    expect(result.batchItemFailures).toEqual([]);
    const outcomes = audits().map((a) => [a.requestId, a.outcome, a.code]);
    expect(outcomes).toEqual(
      expect.arrayContaining([
        ['~record:0a3b6c2e-2222-4e0f-8f6e-000000000001', 'refused', 'invalid-request'],
        ['req-bad-1', 'refused', 'invalid-request'],
        ['req-0101', 'refused', 'invalid-target'],
        ['req-0102', 'applied', null],
      ]),
    );
    expect(audits().find((a) => a.requestId === 'req-bad-1')?.message).toMatch(
      /farmId: expected number, got "one-hundred-one"; stickiness: expected "cookie" \| "sourceIp" \| "none", got "sticky"/,
    );
    expect(sim.stats.calls['put-farm']).toBe(1);
  });

  it('republishes only the events that did not go out when a publish half fails', async () => {
    // Accept audit events, refuse zone events: the request's record is kept and retried.
    eventBridge.on(
      'AWSEvents.PutEvents',
      putEvents((e) =>
        e.DetailType === 'Zone Configuration Applied' ? { ErrorCode: 'InternalFailure' } : {},
      ),
    );
    // Farm http/112 (zone sbg); ask for whatever it does not store now, so there is a change to apply.
    const stored = sim.state.services.get('loadbalancer-b81e0d44')!.farms.get('http/112')!.stored.stickiness;
    const target = stored === 'cookie' ? 'sourceIp' : 'cookie';
    const first = await handler(requestEvent('req-half', 112, target, 1), context);
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'msg-req-half-1' }]);
    expect(published.map((e) => e.DetailType)).toEqual(['Stickiness Change Applied']);

    eventBridge.on('AWSEvents.PutEvents', putEvents());
    const retry = await handler(requestEvent('req-half', 112, target, 2), context);
    expect(retry.batchItemFailures).toEqual([]);
    expect(published.map((e) => e.DetailType)).toEqual([
      'Stickiness Change Applied',
      'Zone Configuration Applied',
    ]);
  });

  it('refuses an older request delivered after a newer one for the same farm was carried out, by queue time', async () => {
    // Farm ip-203.0.113.7 http/122 (zone bhs), its ledger entry forgotten first (the operator
    // override the README gives), whatever another test did with it. The older request's
    // publisher has a clock running an hour ahead: its requestedAt looks newer, but SQS received
    // it first, and that is the order stickler trusts.
    await db.client('DeleteItem', {
      TableName: 'stickler-test-idempotency',
      Key: { id: { S: 'farm:ip-203.0.113.7/http/122' } },
    });
    const sent = Date.now();
    const newer = requestEvent('req-order-new', 122, 'none', 1, 'ip-203.0.113.7');
    newer.Records[0]!.attributes.SentTimestamp = String(sent);
    expect((await handler(newer, context)).batchItemFailures).toEqual([]);
    const puts = sim.stats.calls['put-farm'];

    const older = requestEvent('req-order-old', 122, 'cookie', 1, 'ip-203.0.113.7');
    older.Records[0]!.attributes.SentTimestamp = String(sent - 60_000);
    const oldBody = JSON.parse(older.Records[0]!.body);
    oldBody.detail.requestedAt = new Date(sent + 3 * 60_000).toISOString();
    older.Records[0]!.body = JSON.stringify(oldBody);
    expect((await handler(older, context)).batchItemFailures).toEqual([]);

    expect(sim.stats.calls['put-farm']).toBe(puts);
    expect(audits().find((a) => a.requestId === 'req-order-old')).toMatchObject({
      outcome: 'refused',
      code: 'superseded',
      message: expect.stringContaining('superseded by request req-order-new'),
    });
    expect(
      sim.state.services.get('ip-203.0.113.7')!.farms.get('http/122')!.applied.get('bhs')?.stickiness,
    ).toBeNull();
  });

  it('treats the same message delivered twice in one batch as one request', async () => {
    const event = requestEvent('req-twice', 112, 'cookie', 1);
    const copy = { ...event.Records[0]!, messageId: 'msg-req-twice-copy' };
    const result = await handler({ Records: [event.Records[0]!, copy] }, context);
    expect(result.batchItemFailures).toEqual([]);
    expect(audits().map((a) => a.requestId)).toEqual(['req-twice']);
    expect(sim.stats.calls['put-farm']).toBeLessThanOrEqual(1);
  });

  it('refuses a request delivered outside its change window', async () => {
    const result = await handler(loadFreshEvent<SQSEvent>('apply-worker', 'window-closed'), context);
    expect(result.batchItemFailures).toEqual([]);
    expect(audits()).toEqual([
      expect.objectContaining({ requestId: 'req-0201', outcome: 'refused', code: 'outside-window' }),
    ]);
    expect(sim.stats.calls['put-farm']).toBe(0);
  });

  const requestEvent = (
    requestId: string,
    farmId: number,
    stickiness: string,
    receiveCount: number,
    service = 'loadbalancer-b81e0d44',
  ): SQSEvent => {
    const event = loadFreshEvent<SQSEvent>('apply-worker', 'redelivered');
    const record = event.Records[0]!;
    const body = JSON.parse(record.body);
    body.id = `event-${requestId}`;
    body.detail = { ...body.detail, requestId, farmId, stickiness, service };
    record.body = JSON.stringify(body);
    record.messageId = `msg-${requestId}-${receiveCount}`;
    record.attributes.ApproximateReceiveCount = String(receiveCount);
    return event;
  };

  it('starts no zone when the invocation is too close to its timeout: the request goes back untouched, then applies', async () => {
    // A farm no other test touches: loadbalancer-7f3a9c21 http/103 (zone rbx, cookie).
    const late = { ...context, getRemainingTimeInMillis: () => 500 } as Context; // < FINISH_RESERVE_MS
    const first = await handler(requestEvent('req-late', 103, 'sourceIp', 1, 'loadbalancer-7f3a9c21'), late);
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'msg-req-late-1' }]);
    expect(sim.stats.calls['put-farm'] ?? 0).toBe(0);
    expect(sim.stats.calls.refresh ?? 0).toBe(0);
    expect(published).toEqual([]);

    const retry = await handler(
      requestEvent('req-late', 103, 'sourceIp', 2, 'loadbalancer-7f3a9c21'),
      context,
    );
    expect(retry.batchItemFailures).toEqual([]);
    expect(audits()).toEqual([expect.objectContaining({ requestId: 'req-late', outcome: 'applied' })]);
  });

  it('audits a zone that would not apply as failed at once, and the next request in that zone applies its write along', async () => {
    sim.faults.taskErrorRate = 1;
    const result = await handler(requestEvent('req-stuck', 111, 'none', 1), context);
    expect(result.batchItemFailures).toEqual([]);
    expect(sim.stats.calls.refresh).toBe(3);
    expect(audits()).toEqual([
      expect.objectContaining({
        requestId: 'req-stuck',
        outcome: 'failed',
        code: 'refresh-failed',
        retryable: false,
        message: expect.stringContaining("recorded as stickler's own"),
      }),
    ]);
    const lb = sim.state.services.get('loadbalancer-b81e0d44')!;
    expect(lb.farms.get('http/111')!.applied.get('gra')?.stickiness).toBe('cookie');

    // OVH's tasks work again. A request for the other farm of zone gra: the zone holds only the
    // worker's own unapplied write (recorded in the table), so it is applied, with that write along.
    sim.faults.taskErrorRate = 0;
    published = [];
    sim.resetStats();
    const next = requestEvent('req-after-stuck', 211, 'none', 1);
    const body = JSON.parse(next.Records[0]!.body);
    body.detail.farmType = 'tcp';
    next.Records[0]!.body = JSON.stringify(body);
    expect((await handler(next, context)).batchItemFailures).toEqual([]);
    expect(audits()).toEqual([expect.objectContaining({ requestId: 'req-after-stuck', outcome: 'applied' })]);
    expect(sim.stats.calls.refresh).toBe(1);
    expect(lb.farms.get('http/111')!.applied.get('gra')?.stickiness ?? null).toBeNull();
    expect(lb.farms.get('tcp/211')!.applied.get('gra')?.stickiness ?? null).toBeNull();
  });

  it('hands a retryable failure back; on the last receive audits it and lets it go to the DLQ, whence a redrive applies it', async () => {
    sim.faults.serverErrorRate = 1;
    const first = await handler(requestEvent('req-retry', 121, 'cookie', 1, 'ip-203.0.113.7'), context);
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'msg-req-retry-1' }]);
    expect(published).toEqual([]);

    const last = await handler(requestEvent('req-retry', 121, 'cookie', 3, 'ip-203.0.113.7'), context);
    expect(last.batchItemFailures).toEqual([{ itemIdentifier: 'msg-req-retry-3' }]);
    expect(audits()).toEqual([
      expect.objectContaining({ requestId: 'req-retry', outcome: 'failed', retryable: true }),
    ]);
    expect(audits()[0]?.message).toMatch(
      /^gave up after 3 attempts \(the queue's last receive\), the message goes to the dead-letter queue; redrive it to try again: could not read the farm: OVH GET/,
    );

    // OVH is back; an operator redrives the DLQ (the receive count starts again).
    sim.faults.serverErrorRate = 0;
    published = [];
    const redriven = await handler(requestEvent('req-retry', 121, 'cookie', 1, 'ip-203.0.113.7'), context);
    expect(redriven.batchItemFailures).toEqual([]);
    expect(audits()).toEqual([
      expect.objectContaining({
        requestId: 'req-retry',
        outcome: expect.stringMatching(/applied|unchanged/),
      }),
    ]);
  });

  it('keeps a request whose audit could not be published, and republishes it without applying again', async () => {
    eventBridge.on(
      'AWSEvents.PutEvents',
      putEvents(() => ({ ErrorCode: 'InternalFailure' })),
    );
    // Farm http/112, which other tests change too: ask for whatever it does not store now.
    const stored = sim.state.services.get('loadbalancer-b81e0d44')!.farms.get('http/112')!.stored.stickiness;
    const target = stored === 'sourceIp' ? 'cookie' : 'sourceIp';
    const first = await handler(requestEvent('req-audit', 112, target, 1), context);
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'msg-req-audit-1' }]);
    const writes = sim.stats.calls['put-farm'];
    expect(writes).toBe(1);

    eventBridge.on('AWSEvents.PutEvents', putEvents());
    const retry = await handler(requestEvent('req-audit', 112, target, 2), context);
    expect(retry.batchItemFailures).toEqual([]);
    expect(sim.stats.calls['put-farm']).toBe(writes);
    expect(audits()).toEqual([expect.objectContaining({ requestId: 'req-audit', outcome: 'applied' })]);
  });
});
