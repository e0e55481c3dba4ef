import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIMULATOR_SERVICE_ACCOUNT } from '../../lib/simulator/server';
import { TEST_AWS_CREDENTIALS } from '../helpers/aws-signature';
import { captureCli } from '../helpers/cli';
import { type FakeAws, startFakeAws } from '../helpers/fake-aws';
import { type SimulatorHarness, startHarness } from '../helpers/simulator';

/**
 * `stickler doctor --stage prod` as an operator runs it: the stack's outputs from CloudFormation
 * (its XML, stood in for here), then SSM, EventBridge, SQS, DynamoDB and Scheduler (endpoints that
 * check SigV4), and OVH (the simulator), all over HTTP.
 */
describe('stickler doctor --stage', () => {
  let cloudformation: Server;
  let fakes: Record<'ssm' | 'events' | 'sqs' | 'dynamodb' | 'scheduler', FakeAws>;
  let h: SimulatorHarness;
  let env: NodeJS.ProcessEnv;
  let parameters: Record<string, string>;
  let awsDir: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    cloudformation = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'text/xml');
        res.end(
          '<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>stickler-prod</StackName><StackStatus>UPDATE_COMPLETE</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime><Outputs><member><OutputKey>EventBusName</OutputKey><OutputValue>stickler-prod</OutputValue></member><member><OutputKey>IdempotencyTableName</OutputKey><OutputValue>stickler-prod-idempotency</OutputValue></member></Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></DescribeStacksResponse>',
        );
      });
    });
    await new Promise<void>((resolve) => cloudformation.listen(0, '127.0.0.1', resolve));
    fakes = {
      ssm: await startFakeAws({ service: 'ssm' }),
      events: await startFakeAws({ service: 'events' }),
      sqs: await startFakeAws({ service: 'sqs' }),
      dynamodb: await startFakeAws({ service: 'dynamodb' }),
      scheduler: await startFakeAws({ service: 'scheduler' }),
    };
    h = await startHarness();
    awsDir = mkdtempSync(join(tmpdir(), 'stickler-doctor-aws-'));
    env = {
      // The SDK's default chain: these keys, nothing from this machine's profiles.
      AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'eu-west-3',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: join(awsDir, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(awsDir, 'none'),
      AWS_ENDPOINT_URL_CLOUDFORMATION: `http://127.0.0.1:${(cloudformation.address() as AddressInfo).port}`,
      AWS_ENDPOINT_URL_SSM: fakes.ssm.url,
      AWS_ENDPOINT_URL_EVENTBRIDGE: fakes.events.url,
      AWS_ENDPOINT_URL_SQS: fakes.sqs.url,
      AWS_ENDPOINT_URL_DYNAMODB: fakes.dynamodb.url,
      AWS_ENDPOINT_URL_SCHEDULER: fakes.scheduler.url,
      OVH_ENDPOINT: h.sim.baseUrl,
    };
    // The AWS SDK's credential chain reads the process's environment, as it does for an operator.
    for (const k of ['AWS_PROFILE', 'AWS_SESSION_TOKEN']) delete process.env[k];
    Object.assign(process.env, env);
  });
  afterAll(async () => {
    process.env = saved;
    await new Promise<void>((resolve) => cloudformation.close(() => resolve()));
    for (const fake of Object.values(fakes)) await fake.close();
    await h.close();
    rmSync(awsDir, { recursive: true, force: true });
  });
  beforeEach(() => {
    parameters = {
      '/stickler/prod/ovh-service-account': JSON.stringify(SIMULATOR_SERVICE_ACCOUNT),
      '/stickler/prod/slack-signing-secret': 'slack-signing-secret-value',
    };
    fakes.ssm.on('AmazonSSM.GetParameter', (input) => {
      const value = parameters[input.Name as string];
      return value === undefined
        ? { status: 400, body: { __type: 'ParameterNotFound', message: 'not found' } }
        : { body: { Parameter: { Value: value, Type: 'SecureString' } } };
    });
    fakes.events.on('AWSEvents.DescribeEventBus', (input) =>
      input.Name === 'stickler-prod'
        ? {
            body: {
              Name: 'stickler-prod',
              Arn: 'arn:aws:events:eu-west-3:123456789012:event-bus/stickler-prod',
            },
          }
        : { status: 400, body: { __type: 'ResourceNotFoundException', message: 'no such bus' } },
    );
    fakes.sqs.on('AmazonSQS.GetQueueUrl', (input) =>
      input.QueueName === 'stickler-prod-change-requests'
        ? {
            body: {
              QueueUrl: 'https://sqs.eu-west-3.amazonaws.com/123456789012/stickler-prod-change-requests',
            },
          }
        : { status: 400, body: { __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'no such queue' } },
    );
    fakes.dynamodb.on('DynamoDB_20120810.DescribeTable', () => ({
      body: { Table: { TableName: 'stickler-prod-idempotency', TableStatus: 'ACTIVE' } },
    }));
    fakes.scheduler.on('GET /schedule-groups/*', () => ({
      body: { Name: 'stickler-prod', State: 'ACTIVE' },
    }));
  });

  it("passes a stack whose pieces are all there, reading the service account from the stage's SSM parameter", async () => {
    const run = await captureCli(['doctor', '--stage', 'prod'], env, awsDir);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toContain('stickler doctor: stage prod (eu-west-3)');
    expect(run.out).toContain(
      '✓ SSM parameters (OVH credentials): a service account in /stickler/prod/ovh-service-account exists and decrypts in eu-west-3',
    );
    expect(run.out).toMatch(/^✓ OVH credentials work: service account: a token from /m);
    expect(run.out).toContain('✓ Queue: queue stickler-prod-change-requests exists in eu-west-3');
    expect(run.out).toContain('✓ Slack secrets: /stickler/prod/slack-signing-secret present');
    expect(run.out).toMatch(/^- Jira secrets: skipped: not set up/m);
    expect(run.out).not.toContain(SIMULATOR_SERVICE_ACCOUNT.clientSecret);
    expect(run.out).not.toContain('slack-signing-secret-value');
    const names = fakes.ssm.calls.map((c) => c.input.Name);
    expect(names).toContain('/stickler/prod/ovh-credentials');
    expect(fakes.ssm.calls.every((c) => c.input.WithDecryption === true)).toBe(true);
  });

  it('names each missing piece with how to fix it: the OVH parameter, the queue', async () => {
    delete parameters['/stickler/prod/ovh-service-account'];
    fakes.sqs.on('AmazonSQS.GetQueueUrl', () => ({
      status: 400,
      body: { __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'no such queue' },
    }));
    const run = await captureCli(['doctor', '--stage', 'prod', '--json'], env, awsDir);
    expect(run.code).toBe(1);
    const checks = Object.fromEntries(
      (JSON.parse(run.out).checks as { id: string; status: string; fix?: string }[]).map((c) => [c.id, c]),
    );
    expect(checks['ssm-ovh']).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining(
        'aws ssm put-parameter --region eu-west-3 --type SecureString --name /stickler/prod/ovh-service-account',
      ),
    });
    expect(checks['ovh-credentials']!.status).toBe('skip');
    expect(checks.queue).toMatchObject({
      status: 'fail',
      fix: 'deploy the stack: npx serverless deploy --stage prod --region eu-west-3',
    });
    expect(Object.values(checks).filter((c) => c.status === 'fail')).toHaveLength(2);
  });
});
