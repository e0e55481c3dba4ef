import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { PutEventsRequestEntry } from '../../lib/adapters/eventbridge/eventbridge-publisher';
import { startDynalite } from '../../lib/local/dynalite';
import { makeSlackHandler } from '../../lib/wiring/slack';
import { TEST_AWS_CREDENTIALS } from '../helpers/aws-signature';
import { loadEvent, loadFreshSlackEvent } from '../helpers/events';
import { type FakeAws, startFakeAws } from '../helpers/fake-aws';

type Handler = (
  event: unknown,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2 & { result?: string }>;
const context = { functionName: 'stickler-test-slack', awsRequestId: 'r-1' } as unknown as Context;
type Event = APIGatewayProxyEventV2 & { headers: Record<string, string | undefined> };

describe('slack handler, deployed configuration (real envelopes; SSM, Lambda, EventBridge over HTTP; DynamoDB on dynalite)', () => {
  let aws: { ssm: FakeAws; lambda: FakeAws; events: FakeAws };
  let db: Awaited<ReturnType<typeof startDynalite>>;
  let handler: Handler;
  let published: PutEventsRequestEntry[];
  const SECRET = 'deployed-signing-secret';
  beforeAll(async () => {
    aws = {
      ssm: await startFakeAws({ service: 'ssm' }),
      lambda: await startFakeAws({ service: 'lambda' }),
      events: await startFakeAws({ service: 'events' }),
    };
    db = await startDynalite('stickler-test-idempotency');
    handler = makeSlackHandler({
      STAGE: 'test',
      AWS_REGION: 'eu-west-3',
      AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_SSM: aws.ssm.url,
      AWS_ENDPOINT_URL_LAMBDA: aws.lambda.url,
      AWS_ENDPOINT_URL_EVENTBRIDGE: aws.events.url,
      AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
      AWS_LAMBDA_FUNCTION_NAME: 'stickler-test-slack',
      EVENT_BUS_NAME: 'stickler-test',
      IDEMPOTENCY_TABLE: 'stickler-test-idempotency',
      OVH_ENDPOINT: 'ovh-eu',
      OVH_CREDENTIALS_PARAMETER: '/stickler/test/ovh-credentials',
      SLACK_SIGNING_SECRET_PARAMETER: '/stickler/test/slack-signing-secret',
      STICKLER_SLACK_TEAMS: 'T0001',
      STICKLER_SLACK_SETTERS: 'U0ALICE,U0BOB',
      STICKLER_SLACK_CHANNELS: 'C0OPS',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    }) as unknown as Handler;
  });
  afterAll(async () => {
    await Promise.all([aws.ssm.close(), aws.lambda.close(), aws.events.close(), db.close()]);
  });
  beforeEach(() => {
    published = [];
    for (const a of Object.values(aws)) a.reset();
    aws.ssm.on('AmazonSSM.GetParameter', (input) =>
      (input as { Name: string }).Name === '/stickler/test/slack-signing-secret'
        ? { body: { Parameter: { Value: SECRET } } }
        : { status: 400, headers: { 'x-amzn-errortype': 'ParameterNotFound' }, body: { message: 'no' } },
    );
    aws.lambda.on('POST /2015-03-31/functions/stickler-test-slack/invocations', () => ({
      status: 202,
      body: {},
    }));
    aws.events.on('AWSEvents.PutEvents', (input) => {
      const entries = (input as { Entries: PutEventsRequestEntry[] }).Entries;
      published.push(...entries);
      return { body: { FailedEntryCount: 0, Entries: entries.map((_, i) => ({ EventId: `e-${i}` })) } };
    });
  });

  it('answers a signed command at once and dispatches its work to itself, asynchronously', async () => {
    const answer = await handler(loadFreshSlackEvent<Event>('command-set', { secret: SECRET }), context);
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body!)).toMatchObject({
      response_type: 'ephemeral',
      text: expect.stringMatching(/^Working on `\/stickiness set loadbalancer-7f3a9c21 http\/101 cookie/),
    });
    expect(aws.lambda.calls).toHaveLength(1);
    expect(aws.lambda.calls[0]!.headers['x-amz-invocation-type']).toBe('Event');
    expect(aws.lambda.calls[0]!.input).toMatchObject({
      kind: 'stickler.slack-command',
      command: {
        kind: 'set',
        service: 'loadbalancer-7f3a9c21',
        farmType: 'http',
        farmId: 101,
        stickiness: 'cookie',
        ticket: 'OPS-1042',
        reason: 'checkout sessions drop on deploy',
      },
      caller: { teamId: 'T0001', userId: 'U0ALICE', channelId: 'C0OPS' },
      responseUrl: 'https://hooks.slack.com/commands/T0001/4863712501879/dOMNffCDfTjlSskBrmB1bOtR',
    });
    expect(published).toEqual([]);
  });

  it('refuses the sample as recorded (signed in the past), one signed with another secret, and the local default secret', async () => {
    for (const event of [
      loadEvent<Event>('slack', 'command-set'),
      loadFreshSlackEvent<Event>('command-set', { secret: 'wrong' }),
      loadFreshSlackEvent<Event>('command-set'),
      loadFreshSlackEvent<Event>('interaction-apply', { secret: 'wrong' }),
    ]) {
      const answer = await handler(event, context);
      expect(answer.statusCode).toBe(401);
      expect(JSON.parse(answer.body!)).toEqual({ error: 'unauthorized', message: 'unauthorized' });
    }
    expect(aws.lambda.calls).toEqual([]);
    expect(published).toEqual([]);
  });

  it('refuses a user who may not set with a polite answer and a Denied event, dispatching nothing', async () => {
    const event = loadFreshSlackEvent<Event>('command-set', {
      secret: SECRET,
      edit: (f) => f.set('user_id', 'U0EVE'),
    });
    const answer = await handler(event, context);
    expect(JSON.parse(answer.body!).text).toMatch(/not allowed to change stickiness/);
    expect(aws.lambda.calls).toEqual([]);
    expect(published.map((e) => [e.Source, e.DetailType])).toEqual([
      ['stickler', 'Stickiness Change Denied'],
    ]);
    expect(JSON.parse(published[0]!.Detail!)).toMatchObject({
      actor: { id: 'slack:T0001:U0EVE' },
      action: 'set',
    });
  });

  it('says when the work cannot be dispatched (Lambda throttling), rather than going silent', async () => {
    aws.lambda.on('POST /2015-03-31/functions/stickler-test-slack/invocations', () => ({
      status: 429,
      headers: { 'x-amzn-errortype': 'TooManyRequestsException' },
      body: { message: 'Rate exceeded' },
    }));
    const answer = await handler(loadFreshSlackEvent<Event>('command-set', { secret: SECRET }), context);
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body!).text).toMatch(/try again/);
  });

  it('answers 503 when the signing secret cannot be read, and 404 on another path', async () => {
    aws.ssm.on('AmazonSSM.GetParameter', () => ({ status: 500, body: { message: 'down' } }));
    // The secret read earlier is cached: a fresh handler meets the outage.
    const cold = makeSlackHandler({
      ...process.env,
      STAGE: 'test',
      AWS_REGION: 'eu-west-3',
      AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_SSM: aws.ssm.url,
      AWS_LAMBDA_FUNCTION_NAME: 'f',
      EVENT_BUS_NAME: 'b',
      IDEMPOTENCY_TABLE: 't',
      OVH_CREDENTIALS_PARAMETER: '/p',
      SLACK_SIGNING_SECRET_PARAMETER: '/s',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    }) as unknown as Handler;
    expect(
      (await cold(loadFreshSlackEvent<Event>('command-set', { secret: SECRET }), context)).statusCode,
    ).toBe(503);
    const elsewhere = {
      ...loadFreshSlackEvent<Event>('command-set', { secret: SECRET }),
      rawPath: '/slack/other',
    };
    expect((await handler(elsewhere, context)).statusCode).toBe(404);
  });

  it('refuses to start without its signing secret parameter in a deployed stage', () => {
    expect(() => makeSlackHandler({ STAGE: 'prod', EVENT_BUS_NAME: 'b', IDEMPOTENCY_TABLE: 't' })).toThrow(
      /SLACK_SIGNING_SECRET_PARAMETER is not set/,
    );
  });
});

describe('slack handler, local stage', () => {
  it('takes any workspace but still nobody as a setter unless STICKLER_SLACK_SETTERS names them', async () => {
    const { chatAuthorizationFromEnv } = await import('../../lib/wiring/slack');
    const local = chatAuthorizationFromEnv({}, true);
    expect([...local.teams]).toEqual(['*']);
    expect(local.setters.size).toBe(0);
    expect([...chatAuthorizationFromEnv({}, false).teams]).toEqual([]);
    expect(
      chatAuthorizationFromEnv({ STICKLER_SLACK_SECOND_APPROVER: 'true' }, false).requireSecondApprover,
    ).toBe(true);
  });
});
