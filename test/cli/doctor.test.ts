import { join } from 'node:path';
import { DYNAMODB, makeAwsJsonClient, SSM } from '../../lib/adapters/aws/aws-json-client';
import { checkOvhSecrets, checkTriggers, type DoctorTarget } from '../../lib/cli/doctor';
import { SIMULATOR_SERVICE_ACCOUNT, simulatorEnv } from '../../lib/simulator/server';
import { captureCli } from '../helpers/cli';
import { type FakeAws, startFakeAws } from '../helpers/fake-aws';
import { type PipelineHarness, startPipelineHarness } from '../helpers/pipeline';
import { startHarness } from '../helpers/simulator';

const examples = join(__dirname, '../../examples');

interface Check {
  id: string;
  status: 'pass' | 'fail' | 'skip';
  detail: string;
  fix?: string;
}

describe('stickler doctor against the local pipeline (simulate --pipeline)', () => {
  let harness: PipelineHarness;
  let env: Record<string, string>;
  beforeAll(async () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    harness = await startPipelineHarness();
    // What `stickler simulate --pipeline` prints for another shell.
    env = { ...harness.pipeline.env };
    delete env.POWERTOOLS_LOG_LEVEL;
    delete env.POWERTOOLS_METRICS_DISABLED;
  });
  afterAll(() => harness.close());

  const doctor = async (overrides: Record<string, string | undefined> = {}, argv: string[] = ['--json']) => {
    const run = await captureCli(['doctor', ...argv], { ...env, ...overrides }, examples);
    const checks = argv.includes('--json') ? (JSON.parse(run.out).checks as Check[]) : [];
    return { ...run, checks, byId: Object.fromEntries(checks.map((c) => [c.id, c])) };
  };

  it('passes, with every check it cannot make here said skipped and why', async () => {
    const run = await doctor({}, []);
    expect(run.code).toBe(0);
    expect(run.out).toContain('stickler doctor: the local pipeline (eu-west-3)');
    for (const title of [
      'OVH credentials work',
      'OVH rights',
      'Event bus',
      'Queue',
      'Table',
      'Schedule group',
    ])
      expect(run.out).toMatch(new RegExp(`^✓ ${title}: `, 'm'));
    expect(run.out).toMatch(
      /^- SSM parameters \(OVH credentials\): skipped: the local pipeline's functions take OVH credentials from OVH_\* variables/m,
    );
    expect(run.out).toMatch(/^✓ Slack secrets: SLACK_SIGNING_SECRET present/m);
    expect(run.out).toMatch(/^✓ Jira secrets: /m);
    expect(run.out).toMatch(/^✓ ServiceNow secrets: /m);
    expect(run.out).toContain("the consumer key's rules are exactly what stickler calls");
    expect(run.out).toMatch(
      /^✓ The local pipeline's HTTP API and webhook secrets: http:\/\/.* answers; the generic, jira, servicenow webhook secrets are the pipeline's/m,
    );
    expect(run.out).toMatch(/0 failed/);
    expect(run.out).not.toContain(env.OVH_APPLICATION_SECRET!);
  });

  it.each([
    [
      'the Slack signing secret',
      { SLACK_SIGNING_SECRET: undefined },
      'slack-secrets',
      'SLACK_SIGNING_SECRET',
    ],
    ["Jira's API token", { JIRA_API_TOKEN: undefined }, 'jira-secrets', 'JIRA_API_TOKEN'],
    [
      "ServiceNow's webhook secret",
      { STICKLER_WEBHOOK_SECRET_SERVICENOW: undefined },
      'servicenow-secrets',
      'STICKLER_WEBHOOK_SECRET_SERVICENOW',
    ],
    [
      'the table',
      { IDEMPOTENCY_TABLE: 'stickler-local-gone' },
      'table',
      'table stickler-local-gone does not exist',
    ],
    [
      'the schedule group',
      { DEFERRAL_SCHEDULE_GROUP: 'stickler-gone' },
      'schedule-group',
      'schedule group stickler-gone does not exist',
    ],
    [
      'the consumer key',
      { OVH_CONSUMER_KEY: undefined },
      'ovh-credentials',
      'missing OVH credentials: set OVH_CONSUMER_KEY',
    ],
    [
      'a right consumer key',
      { OVH_CONSUMER_KEY: 'not-the-consumer-key' },
      'ovh-credentials',
      'This credential does not exist',
    ],
  ])('names %s when it is missing, with how to fix it, and exits 1', async (_what, overrides, id, says) => {
    const run = await doctor(overrides);
    expect(run.code).toBe(1);
    expect(run.byId[id]).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining(says),
      fix: expect.any(String),
    });
    expect(run.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(
      id === 'ovh-credentials' ? ['ovh-credentials'] : [id],
    );
  });

  it("says which webhook secret is not the pipeline's, and an HTTP API that does not answer", async () => {
    const wrong = await doctor({ STICKLER_WEBHOOK_SECRET_GENERIC: 'not-the-secret' });
    expect(wrong.code).toBe(1);
    expect(wrong.byId['local-http-api']).toMatchObject({
      status: 'fail',
      detail: "STICKLER_WEBHOOK_SECRET_GENERIC not the pipeline's (its webhook refused the signature)",
      fix: expect.stringContaining("paste all the exports of 'stickler simulate --pipeline'"),
    });
    expect(wrong.out).not.toContain('not-the-secret');
    const gone = await doctor({ STICKLER_API_URL: 'http://127.0.0.1:9' });
    expect(gone.byId['local-http-api']).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('http://127.0.0.1:9 does not answer'),
    });
  });

  it('names the bus and the queue of a bus that is not this one', async () => {
    const run = await doctor({ EVENT_BUS_NAME: 'stickler-nowhere' });
    expect(run.code).toBe(1);
    expect(run.byId.bus).toMatchObject({
      status: 'fail',
      detail: 'bus stickler-nowhere does not exist in eu-west-3',
    });
    expect(run.byId.queue).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('queue stickler-nowhere-change-requests'),
    });
    expect(run.byId.bus!.fix).toContain("is 'stickler simulate --pipeline' running");
  });

  it('names a table that was deleted', async () => {
    const dynamodb = makeAwsJsonClient({
      service: DYNAMODB,
      region: 'eu-west-3',
      endpoint: env.AWS_ENDPOINT_URL_DYNAMODB!,
      credentials: () => ({ accessKeyId: 'local', secretAccessKey: 'local' }),
    });
    await dynamodb('CreateTable', {
      TableName: 'stickler-doctor-doomed',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    });
    expect((await doctor({ IDEMPOTENCY_TABLE: 'stickler-doctor-doomed' })).byId.table!.status).toBe('pass');
    await dynamodb('DeleteTable', { TableName: 'stickler-doctor-doomed' });
    expect((await doctor({ IDEMPOTENCY_TABLE: 'stickler-doctor-doomed' })).byId.table!.status).toBe('fail');
  });

  it('with a service account: a token and a harmless call, its IAM rights said unknowable, never its secret', async () => {
    const run = await doctor({
      OVH_APPLICATION_KEY: undefined,
      OVH_APPLICATION_SECRET: undefined,
      OVH_CONSUMER_KEY: undefined,
      ...simulatorEnv(env.OVH_ENDPOINT!, SIMULATOR_SERVICE_ACCOUNT),
    });
    expect(run.code).toBe(0);
    expect(run.byId['ovh-credentials']).toMatchObject({
      status: 'pass',
      detail: expect.stringMatching(
        /^service account: a token from http:\/\/127\.0\.0\.1:\d+\/auth\/oauth2\/token, then GET \/ipLoadbalancing answered/,
      ),
    });
    expect(run.byId['ovh-rights']).toMatchObject({
      status: 'skip',
      detail: expect.stringContaining('IAM policy'),
    });
    const refused = await doctor({
      OVH_APPLICATION_KEY: undefined,
      OVH_APPLICATION_SECRET: undefined,
      OVH_CONSUMER_KEY: undefined,
      ...simulatorEnv(env.OVH_ENDPOINT!, { ...SIMULATOR_SERVICE_ACCOUNT, clientSecret: 'wrong-sa-secret-1' }),
    });
    expect(refused.byId['ovh-credentials']).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('invalid_client'),
    });
    expect(refused.out + refused.err).not.toContain('wrong-sa-secret-1');
  });

  it("says which of a consumer key's rules are missing or broader than stickler needs", async () => {
    const other = await startHarness({
      accessRules: [
        { method: 'GET', path: '/ipLoadbalancing' },
        { method: 'GET', path: '/ipLoadbalancing/*' },
        { method: 'PUT', path: '/ipLoadbalancing/*' },
        { method: 'DELETE', path: '/ipLoadbalancing/*' },
      ],
    });
    try {
      const run = await doctor({ OVH_ENDPOINT: other.sim.baseUrl });
      expect(run.code).toBe(1);
      expect(run.byId['ovh-credentials']!.status).toBe('pass');
      expect(run.byId['ovh-rights']).toMatchObject({
        status: 'fail',
        detail:
          'missing: POST /ipLoadbalancing/*/refresh; broader than stickler needs: PUT /ipLoadbalancing/*, DELETE /ipLoadbalancing/*',
        fix: expect.stringContaining(
          'create a consumer key with exactly these rules: GET /ipLoadbalancing, ',
        ),
      });
    } finally {
      await other.close();
    }
  });

  it('refuses to guess without a pipeline to check', async () => {
    const run = await captureCli(['doctor'], {}, examples);
    expect(run.code).toBe(1);
    expect(run.err).toContain('no pipeline to check: give --stage STAGE');
  });

  it("names the variable missing from a pipeline's exports", async () => {
    const partial = await captureCli(['doctor'], { EVENT_BUS_NAME: 'stickler-local' }, examples);
    expect(partial.code).toBe(1);
    expect(partial.err).toContain("the pipeline's exports are incomplete: IDEMPOTENCY_TABLE is not set");
    const noRegion = await captureCli(
      ['doctor'],
      {
        EVENT_BUS_NAME: 'stickler-local',
        IDEMPOTENCY_TABLE: 't',
        AWS_ENDPOINT_URL_EVENTBRIDGE: 'http://127.0.0.1:9',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
      },
      examples,
    );
    expect(noRegion.err).toContain("the local pipeline's exports are incomplete: AWS_REGION not set");
  });
});

describe("stickler doctor's checks of a stage's SSM parameters (SSM over HTTP)", () => {
  let aws: FakeAws;
  beforeAll(async () => {
    aws = await startFakeAws({ service: 'ssm' });
  });
  afterAll(() => aws.close());
  beforeEach(() => aws.reset());

  const holding = (values: Record<string, string>) =>
    aws.on('AmazonSSM.GetParameter', (input) => {
      const v = values[input.Name as string];
      return v === undefined
        ? { status: 400, body: { __type: 'ParameterNotFound', message: 'not found' } }
        : { body: { Parameter: { Value: v, Type: 'SecureString' } } };
    });
  const target = (): DoctorTarget =>
    ({
      where: 'stage prod (eu-west-3)',
      region: 'eu-west-3',
      stage: 'prod',
      local: false,
      env: {},
      ssm: aws.client(SSM, { maxAttempts: 1 }),
    }) as unknown as DoctorTarget;

  it('passes a service account that exists and decrypts, naming it', async () => {
    holding({
      '/stickler/prod/ovh-service-account': JSON.stringify({ clientId: 'id', clientSecret: 'sa-secret-3' }),
    });
    const { result, credentials } = await checkOvhSecrets(target());
    expect(result).toMatchObject({
      status: 'pass',
      detail: 'a service account in /stickler/prod/ovh-service-account exists and decrypts in eu-west-3',
    });
    expect(credentials).toMatchObject({ clientId: 'id' });
    expect(JSON.stringify(result)).not.toContain('sa-secret-3');
  });

  it('fails without either parameter, with the put-parameter command in the stack’s region', async () => {
    holding({});
    const { result } = await checkOvhSecrets(target());
    expect(result).toMatchObject({ status: 'fail', detail: expect.stringContaining('no OVH credentials') });
    expect(result.fix).toContain(
      'aws ssm put-parameter --region eu-west-3 --type SecureString --name /stickler/prod/ovh-service-account',
    );
  });

  it('fails with both parameters, saying to delete one', async () => {
    holding({
      '/stickler/prod/ovh-service-account': JSON.stringify({ clientId: 'id', clientSecret: 's' }),
      '/stickler/prod/ovh-credentials': JSON.stringify({
        applicationKey: 'a',
        applicationSecret: 'b',
        consumerKey: 'c',
      }),
    });
    const { result } = await checkOvhSecrets(target());
    expect(result).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('aws ssm delete-parameter --region eu-west-3'),
    });
  });

  it('skips a trigger that is not set up, and names the missing half of one that is', async () => {
    holding({ '/stickler/prod/slack-signing-secret': 'x', '/stickler/prod/webhook-secret/jira': 'y' });
    const checks = Object.fromEntries((await checkTriggers(target())).map((c) => [c.id, c]));
    expect(checks['slack-secrets']!.status).toBe('pass');
    expect(checks['jira-secrets']).toMatchObject({
      status: 'fail',
      detail: 'missing SSM parameter: /stickler/prod/jira-credentials',
      fix: expect.stringContaining(
        'aws ssm put-parameter --region eu-west-3 --type SecureString --name /stickler/prod/jira-credentials',
      ),
    });
    expect(checks['servicenow-secrets']).toMatchObject({
      status: 'skip',
      detail: expect.stringContaining('not set up'),
    });
  });

  it('fails, and does not pass, a parameter it may not read', async () => {
    aws.on('AmazonSSM.GetParameter', () => ({
      status: 400,
      body: { __type: 'AccessDeniedException', message: 'denied' },
    }));
    const checks = await checkTriggers(target());
    expect(checks.every((c) => c.status === 'fail')).toBe(true);
    expect(checks[0]!.detail).toContain('AccessDeniedException');
  });
});
