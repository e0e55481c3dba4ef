/**
 * `npm run test:aws`, before any test: packages the stack as a deploy would (serverless package
 * --stage dev), starts moto's server on a free loopback port and deploys the packaged template on
 * moto's CloudFormation, so that the tests run the project's AWS calls against the stack's own
 * resources in an AWS implementation the project did not write. Without moto_server or cfn-lint
 * it stops at once, saying so (the run then fails: nothing was checked).
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { CREDENTIALS, REGION, STACK, STAGE } from './moto';

type Template = {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  Outputs?: Record<string, unknown>;
};

const root = join(__dirname, '../..');

const requireTool = (tool: string, install: string) => {
  const probe = spawnSync(tool, ['--help'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) {
    const message = `npm run test:aws needs ${tool}, which is not installed here (${install}): nothing was run.`;
    console.error(`\n${message}\n`);
    throw new Error(message);
  }
};

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

const packageStack = (dir: string) => {
  const run = spawnSync(
    process.execPath,
    [join(root, 'node_modules/serverless/bin/serverless.js'), 'package', '--stage', STAGE, '--package', dir],
    {
      cwd: root,
      env: { ...process.env, CI: 'true', SLS_TELEMETRY_DISABLED: '1' },
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  if (run.status !== 0) throw new Error(`serverless package failed:\n${run.stdout}\n${run.stderr}`);
};

const waitForMoto = async (url: string, exited: () => number | null, log: string) => {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    if (exited() !== null) break;
    try {
      if ((await fetch(`${url}/moto-api/`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`moto_server did not start at ${url}:\n${readFileSync(log, 'utf8').slice(-2000)}`);
};

/**
 * The packaged template as moto's CloudFormation can create it. Each change works around moto,
 * not the template:
 * - the functions' code comes from a bucket created beforehand (the stack's deployment bucket
 *   would be empty when the functions are created; serverless deploy uploads first too);
 * - the worker's SQS event source mapping is left out: moto would hand the queue's messages to a
 *   stand-in function (it runs no code without Docker) and delete them; the tests play Lambda's
 *   poller themselves;
 * - `Ref` of the bus becomes its name: moto resolves Ref of an AWS::Events::EventBus to an object
 *   and fails on every rule that names its bus that way (AWS returns the name).
 */
const forMoto = (template: Template, codeBucket: string): Template => {
  const busName = (template.Resources.StickinessBus!.Properties as { Name: string }).Name;
  const busRef = JSON.stringify({ Ref: 'StickinessBus' });
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value && typeof value === 'object') {
      if (JSON.stringify(value) === busRef) return busName;
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewrite(v)]));
    }
    return value;
  };
  const resources = Object.fromEntries(
    Object.entries(template.Resources)
      .filter(
        ([id, r]) =>
          !id.startsWith('ServerlessDeploymentBucket') && r.Type !== 'AWS::Lambda::EventSourceMapping',
      )
      .map(([id, r]) => {
        if (r.Type !== 'AWS::Lambda::Function') return [id, r];
        const code = r.Properties.Code as { S3Key: string };
        return [id, { ...r, Properties: { ...r.Properties, Code: { ...code, S3Bucket: codeBucket } } }];
      }),
  );
  const outputs = Object.fromEntries(
    Object.entries(template.Outputs ?? {}).filter(
      ([, o]) => !JSON.stringify(o).includes('ServerlessDeploymentBucket'),
    ),
  );
  return rewrite({ ...template, Resources: resources, Outputs: outputs }) as Template;
};

const deploy = async (url: string, dir: string) => {
  const config = {
    region: REGION,
    endpoint: url,
    credentials: CREDENTIALS,
    forcePathStyle: true,
    maxAttempts: 1,
  };
  const template = JSON.parse(
    readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as Template;
  const codeBucket = 'stickler-aws-test-code';
  const s3 = new S3Client(config);
  await s3.send(
    new CreateBucketCommand({
      Bucket: codeBucket,
      CreateBucketConfiguration: { LocationConstraint: REGION },
    }),
  );
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const key = (r.Properties.Code as { S3Key: string }).S3Key;
    await s3.send(
      new PutObjectCommand({
        Bucket: codeBucket,
        Key: key,
        Body: readFileSync(join(dir, key.split('/').pop()!)),
      }),
    );
  }
  const cloudformation = new CloudFormationClient(config);
  await cloudformation.send(
    new CreateStackCommand({
      StackName: STACK.name,
      TemplateBody: JSON.stringify(forMoto(template, codeBucket)),
      Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM'],
    }),
  );
  const { Stacks = [] } = await cloudformation.send(new DescribeStacksCommand({ StackName: STACK.name }));
  if (Stacks[0]?.StackStatus !== 'CREATE_COMPLETE') {
    const { StackEvents = [] } = await cloudformation.send(
      new DescribeStackEventsCommand({ StackName: STACK.name }),
    );
    const failed = StackEvents.filter((e) => e.ResourceStatus?.endsWith('FAILED')).map(
      (e) => `${e.LogicalResourceId}: ${e.ResourceStatusReason}`,
    );
    throw new Error(`the stack did not deploy on moto (${Stacks[0]?.StackStatus}):\n${failed.join('\n')}`);
  }
  // What moto's CloudFormation accepts without building it, built from the template's own
  // properties: a table's TimeToLiveSpecification, and AWS::Scheduler::ScheduleGroup.
  for (const r of Object.values(template.Resources)) {
    if (r.Type === 'AWS::DynamoDB::Table' && r.Properties.TimeToLiveSpecification) {
      await new DynamoDBClient(config).send(
        new UpdateTimeToLiveCommand({
          TableName: r.Properties.TableName as string,
          TimeToLiveSpecification: r.Properties.TimeToLiveSpecification as {
            AttributeName: string;
            Enabled: boolean;
          },
        }),
      );
    }
    if (r.Type === 'AWS::Scheduler::ScheduleGroup') {
      await new SchedulerClient(config).send(
        new CreateScheduleGroupCommand({ Name: r.Properties.Name as string }),
      );
    }
  }
};

export default async function globalSetup(): Promise<void> {
  requireTool('moto_server', 'pip install "moto[server]==5.2.1"');
  requireTool('cfn-lint', 'pip install "cfn-lint==1.51.*"');
  const dir = mkdtempSync(join(tmpdir(), 'stickler-aws-'));
  packageStack(dir);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = join(dir, 'moto.log');
  const out = openSync(log, 'w');
  // Its own process group, so that teardown ends moto and nothing else.
  const moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  moto.unref();
  (globalThis as { __STICKLER_MOTO__?: unknown }).__STICKLER_MOTO__ = { pid: moto.pid, dir };
  try {
    await waitForMoto(url, () => moto.exitCode, log);
    await deploy(url, dir);
  } catch (error) {
    if (moto.pid) process.kill(-moto.pid, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  process.env.STICKLER_MOTO_URL = url;
  process.env.STICKLER_AWS_TEMPLATE = join(dir, 'cloudformation-template-update-stack.json');
  console.log(`\nmoto ${url}, stack ${STACK.name} deployed from ${process.env.STICKLER_AWS_TEMPLATE}`);
}
