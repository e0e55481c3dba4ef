import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectPipeline, pipelineAsked } from '../../lib/cli/pipeline';
import { ConfigError } from '../../lib/domain/errors';

/**
 * Where the CLI finds a pipeline: a deployed stage through CloudFormation's outputs and the
 * caller's identity through STS (both AWS Query APIs, stood in for here over HTTP, answering in
 * their XML), or the environment a local pipeline prints.
 */
const ARN = 'arn:aws:iam::123456789012:user/alice';
const body = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = '';
    req.on('data', (c) => {
      text += c;
    });
    req.on('end', () => resolve(text));
  });

describe('connectPipeline', () => {
  let server: Server;
  let url: string;
  let stacks: Record<string, Record<string, string>>;
  const calls: string[] = [];
  const saved = { ...process.env };
  beforeAll(async () => {
    server = createServer(async (req, res) => {
      const form = new URLSearchParams(await body(req));
      const action = form.get('Action') ?? '';
      calls.push(`${action} ${req.headers.authorization?.split(' ')[0] ?? 'unsigned'}`);
      res.setHeader('content-type', 'text/xml');
      if (action === 'GetCallerIdentity') {
        res.end(
          `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>${ARN}</Arn><UserId>AIDA</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
        );
        return;
      }
      if (action === 'DescribeStacks') {
        const name = form.get('StackName') ?? '';
        const outputs = stacks[name];
        if (!outputs) {
          res.statusCode = 400;
          res.end(
            `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ${name} does not exist</Message></Error><RequestId>r2</RequestId></ErrorResponse>`,
          );
          return;
        }
        res.end(
          `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>${name}</StackName><StackStatus>UPDATE_COMPLETE</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime><Outputs>${Object.entries(
            outputs,
          )
            .map(([k, v]) => `<member><OutputKey>${k}</OutputKey><OutputValue>${v}</OutputValue></member>`)
            .join(
              '',
            )}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r3</RequestId></ResponseMetadata></DescribeStacksResponse>`,
        );
        return;
      }
      res.statusCode = 400;
      res.end('<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    calls.length = 0;
    stacks = {
      'stickler-prod': { EventBusName: 'stickler-prod', IdempotencyTableName: 'stickler-prod-idempotency' },
      'stickler-old': { EventBusName: 'stickler-old' },
    };
    // The SDK's default chain: the environment's keys, nothing from this machine's profiles.
    process.env = {
      ...saved,
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_REGION: 'eu-west-3',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: join(mkdtempSync(join(tmpdir(), 'stickler-aws-')), 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(mkdtempSync(join(tmpdir(), 'stickler-aws-')), 'none'),
    };
    for (const k of [
      'AWS_PROFILE',
      'AWS_SESSION_TOKEN',
      'EVENT_BUS_NAME',
      'IDEMPOTENCY_TABLE',
      'AWS_ENDPOINT_URL_EVENTBRIDGE',
    ])
      delete process.env[k];
  });
  afterEach(() => {
    process.env = { ...saved };
  });
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    ...process.env,
    AWS_ENDPOINT_URL_STS: url,
    AWS_ENDPOINT_URL_CLOUDFORMATION: url,
    ...extra,
  });

  it('finds a deployed stage by its stack outputs, and the operator by their AWS identity, with signed calls', async () => {
    const c = await connectPipeline(env(), { stage: 'prod' });
    expect(c).toMatchObject({ local: false, where: 'stage prod (eu-west-3)', actor: { id: ARN } });
    expect(calls).toEqual(['DescribeStacks AWS4-HMAC-SHA256', 'GetCallerIdentity AWS4-HMAC-SHA256']);
  });

  it('uses the bus and table of the environment without --stage, still naming the operator by STS', async () => {
    const c = await connectPipeline(env({ EVENT_BUS_NAME: 'bus-x', IDEMPOTENCY_TABLE: 'table-x' }), {
      pipeline: true,
    });
    expect(c).toMatchObject({ local: false, where: 'bus bus-x (eu-west-3)', actor: { id: ARN } });
  });

  it('refuses a stage that is not deployed, or deployed without the outputs this version reads', async () => {
    await expect(connectPipeline(env(), { stage: 'nowhere' })).rejects.toThrow(
      /cannot read the stack stickler-nowhere in eu-west-3: Stack with id stickler-nowhere does not exist/,
    );
    await expect(connectPipeline(env(), { stage: 'old' })).rejects.toThrow(
      /stickler-old has no EventBusName or IdempotencyTableName output/,
    );
  });

  it('refuses a stage name that is not one, before any call', async () => {
    await expect(connectPipeline(env(), { stage: '../prod' })).rejects.toThrow(/--stage must be/);
    expect(calls).toEqual([]);
  });

  it('says when there is no pipeline to use, and when there are no AWS credentials', async () => {
    await expect(connectPipeline(env(), { pipeline: true })).rejects.toThrow(
      /no pipeline: give --stage STAGE/,
    );
    const none = env();
    delete none.AWS_ACCESS_KEY_ID;
    delete none.AWS_SECRET_ACCESS_KEY;
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    const error = await connectPipeline(none, { stage: 'prod' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^no AWS credentials for the pipeline/);
  });

  it('takes the local pipeline from the exports simulate --pipeline prints: the operator is local, no AWS call', async () => {
    const c = await connectPipeline(
      {
        AWS_REGION: 'eu-west-3',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_EVENTBRIDGE: 'http://127.0.0.1:9/',
        EVENT_BUS_NAME: 'stickler-local',
        IDEMPOTENCY_TABLE: 'stickler-local-idempotency',
      },
      { pipeline: true },
    );
    expect(c).toMatchObject({ local: true, where: 'the local pipeline', actor: { id: 'local' } });
    expect(calls).toEqual([]);
    await expect(
      connectPipeline({ AWS_ENDPOINT_URL_EVENTBRIDGE: 'http://localhost:9/' }, { pipeline: true }),
    ).rejects.toThrow(/exports are incomplete/);
  });
});

describe('pipelineAsked', () => {
  it('is asked by --pipeline, --stage or STICKLER_PIPELINE=1, and refuses another value of the variable', () => {
    expect(pipelineAsked({}, {})).toBe(false);
    expect(pipelineAsked({}, { pipeline: true })).toBe(true);
    expect(pipelineAsked({}, { stage: 'prod' })).toBe(true);
    expect(pipelineAsked({ STICKLER_PIPELINE: '1' }, {})).toBe(true);
    expect(pipelineAsked({ STICKLER_PIPELINE: 'true' }, {})).toBe(true);
    expect(pipelineAsked({ STICKLER_PIPELINE: '0' }, {})).toBe(false);
    expect(pipelineAsked({ STICKLER_PIPELINE: '' }, {})).toBe(false);
    expect(() => pipelineAsked({ STICKLER_PIPELINE: 'yes please' }, {})).toThrow(
      /STICKLER_PIPELINE must be 1 or 0, got 'yes please'/,
    );
  });
});
