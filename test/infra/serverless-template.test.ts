import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AdmZip from 'adm-zip';

/**
 * Packages the stack exactly as a deploy would (no network, no AWS credentials) and checks the
 * CloudFormation template a reviewer would deploy.
 */
type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
};

const root = join(__dirname, '../..');
let out: string;
let resources: Record<string, Resource>;

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const one = (type: string): Resource => {
  const found = ofType(type);
  expect(found).toHaveLength(1);
  return found[0]![1];
};

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'stickler-package-'));
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/serverless/bin/serverless.js'), 'package', '--stage', 'test', '--package', out],
    {
      cwd: root,
      env: { ...process.env, CI: 'true', SLS_TELEMETRY_DISABLED: '1' },
      stdio: 'pipe',
      timeout: 120_000,
    },
  );
  resources = JSON.parse(
    readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8'),
  ).Resources;
}, 150_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('serverless package', () => {
  it('builds the apply-worker on nodejs24.x arm64, serialised, with a 900 s timeout', () => {
    const fn = one('AWS::Lambda::Function').Properties;
    expect(fn).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 900,
      ReservedConcurrentExecutions: 1,
      Handler: 'functions/apply-worker.handler',
    });
    const env = (fn.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env).toMatchObject({
      EVENT_BUS_NAME: 'stickler-test',
      IDEMPOTENCY_TABLE: 'stickler-test-idempotency',
      OVH_CREDENTIALS_PARAMETER: '/stickler/test/ovh-credentials',
      MAX_RECEIVE_COUNT: '5',
    });
    expect(Object.keys(env)).not.toEqual(expect.arrayContaining(['OVH_APPLICATION_SECRET']));
    expect(Object.keys(env).filter((k) => /SECRET|CONSUMER_KEY|APPLICATION_KEY/.test(k))).toEqual([]);
  });

  it('feeds it from SQS in batches with a batching window and partial batch failures', () => {
    expect(one('AWS::Lambda::EventSourceMapping').Properties).toMatchObject({
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 20,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('sizes the queue visibility to six function timeouts and sends poison to a DLQ with an alarm', () => {
    const queues = ofType('AWS::SQS::Queue');
    const main = queues.find(([id]) => id === 'ChangeRequestQueue')![1].Properties;
    expect(main.VisibilityTimeout).toBe(5400);
    expect(main.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': ['ChangeRequestDeadLetterQueue', 'Arn'] },
      maxReceiveCount: 5,
    });
    // The worker's "last receive" must be the queue's, or a retryable failure would reach the DLQ unaudited.
    const fn = one('AWS::Lambda::Function').Properties as {
      Environment: { Variables: Record<string, string> };
    };
    expect(Number(fn.Environment.Variables.MAX_RECEIVE_COUNT)).toBe(5);
    const alarm = one('AWS::CloudWatch::Alarm').Properties;
    expect(alarm.Dimensions).toEqual([
      { Name: 'QueueName', Value: { 'Fn::GetAtt': ['ChangeRequestDeadLetterQueue', 'QueueName'] } },
    ]);
    expect(alarm.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
  });

  it('has a custom bus with an archive and a rule routing change requests to the queue', () => {
    expect(one('AWS::Events::EventBus').Properties.Name).toBe('stickler-test');
    expect(one('AWS::Events::Archive').Properties.SourceArn).toEqual({
      'Fn::GetAtt': ['StickinessBus', 'Arn'],
    });
    expect(one('AWS::Events::Rule').Properties).toMatchObject({
      EventBusName: { Ref: 'StickinessBus' },
      EventPattern: { 'detail-type': ['Stickiness Change Requested'] },
      Targets: [{ Arn: { 'Fn::GetAtt': ['ChangeRequestQueue', 'Arn'] }, Id: 'change-request-queue' }],
    });
    const policy = one('AWS::SQS::QueuePolicy').Properties.PolicyDocument as { Statement: Statement[] };
    expect(policy.Statement[0]?.Condition).toEqual({
      ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': ['ChangeRequestRule', 'Arn'] } },
    });
  });

  it('keeps idempotency records in DynamoDB with a TTL', () => {
    expect(one('AWS::DynamoDB::Table').Properties).toMatchObject({
      TableName: 'stickler-test-idempotency',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiresAtEpoch', Enabled: true },
    });
  });

  it('gives the worker a role of its own with no wildcard action, and wildcards only on a KMS decrypt bound to one parameter', () => {
    const fn = one('AWS::Lambda::Function').Properties;
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['ApplyWorkerRole', 'Arn'] });
    const roles = ofType('AWS::IAM::Role');
    expect(roles.map(([id]) => id)).toEqual(['ApplyWorkerRole']);
    const statements = (
      roles[0]![1].Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]
    ).flatMap((p) => p.PolicyDocument.Statement);
    const actions = statements.flatMap((s) => [s.Action].flat());
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
    expect(actions).toEqual(
      expect.arrayContaining([
        'events:PutEvents',
        'dynamodb:PutItem',
        'sqs:DeleteMessage',
        'ssm:GetParameter',
        'kms:Decrypt',
      ]),
    );
    for (const s of statements) {
      if (JSON.stringify(s.Resource).includes('*')) {
        expect([s.Sid, s.Action]).toEqual(
          expect.arrayContaining([expect.stringMatching(/OwnLogs|DecryptOvhCredentials/)]),
        );
      }
    }
    expect(statements.find((s) => s.Sid === 'DecryptOvhCredentials')?.Condition).toMatchObject({
      StringEquals: {
        'kms:ViaService': expect.anything(),
        'kms:EncryptionContext:PARAMETER_ARN': expect.anything(),
      },
    });
  });

  it('ships one bundle per function with a source map, under 250 KB minified, loading no AWS SDK', () => {
    const zip = new AdmZip(join(out, 'apply-worker.zip'));
    const names = zip.getEntries().map((e) => e.entryName);
    expect(names.sort()).toEqual(['functions/apply-worker.js', 'functions/apply-worker.js.map']);
    const code = zip.getEntry('functions/apply-worker.js')!.getData().toString('utf8');
    expect(Buffer.byteLength(code)).toBeLessThan(250 * 1024);
    // Linked, so that NODE_OPTIONS=--enable-source-maps can find it.
    expect(code.trimEnd().endsWith('//# sourceMappingURL=apply-worker.js.map')).toBe(true);
    expect(code).not.toMatch(/require\("yaml"\)|LineCounter/);
    // The worker reaches AWS through lib/adapters/aws: loading the SDK clients would triple its cold start.
    expect(code).not.toMatch(/require\("@aws-sdk\/|@smithy\//);
    expect(statSync(join(out, 'apply-worker.zip')).size).toBeGreaterThan(0);
  });
});
