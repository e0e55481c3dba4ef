import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  AwsError,
  type AwsJsonClientOptions,
  awsJsonClientFromEnv,
  EVENTBRIDGE,
} from '../../../lib/adapters/aws/aws-json-client';
import { signRequest } from '../../../lib/adapters/aws/sigv4';
import { checkSignature, TEST_AWS_CREDENTIALS } from '../../helpers/aws-signature';
import { type FakeAws, startFakeAws } from '../../helpers/fake-aws';

describe('SigV4 signing', () => {
  const request = (sessionToken?: string) => {
    const url = new URL('https://events.eu-west-3.amazonaws.com/');
    const body = '{"Entries":[{"Source":"stickler","Detail":"{\\"a\\": 1}"}]}';
    const headers = signRequest({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' },
      body,
      service: 'events',
      region: 'eu-west-3',
      credentials: { ...TEST_AWS_CREDENTIALS, ...(sessionToken ? { sessionToken } : {}) },
      now: new Date('2026-11-25T10:30:00.123Z'),
    });
    const all: Record<string, string> = { ...headers, host: url.host };
    return { method: 'POST', path: '/', headers: all, body };
  };
  const expected = { service: 'events', region: 'eu-west-3', credentials: TEST_AWS_CREDENTIALS };

  it("agrees with the AWS SDK's signer, with and without a session token", async () => {
    const plain = request();
    expect(plain.headers['x-amz-date']).toBe('20261125T103000Z');
    expect(plain.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261125\/eu-west-3\/events\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=[0-9a-f]{64}$/,
    );
    await expect(checkSignature(plain, expected)).resolves.toBeUndefined();
    const withToken = request('FwoGZXIvYXdzE-token');
    expect(withToken.headers['x-amz-security-token']).toBe('FwoGZXIvYXdzE-token');
    expect(withToken.headers.authorization).toContain('x-amz-security-token');
    await expect(checkSignature(withToken, expected)).resolves.toBeUndefined();
  });

  it('agrees with it on other hosts, ports, paths, regions, dates and non-ASCII bodies', async () => {
    const cases = [
      { url: 'http://127.0.0.1:4566/', service: 'dynamodb', region: 'us-east-1', body: '{}' },
      {
        url: 'https://vpce-0a1b.ssm.eu-west-3.vpce.amazonaws.com/',
        service: 'ssm',
        region: 'eu-west-3',
        body: '{"Name":"/stickler/prod/ovh-credentials"}',
      },
      {
        url: 'https://events.cn-north-1.amazonaws.com.cn/base path/',
        service: 'events',
        region: 'cn-north-1',
        body: '{"Detail":"réf. ✓ 東京 \\u0000"}',
      },
      {
        // Scheduler's DeleteSchedule: a query string, its values escaped and its names sorted.
        url: 'https://scheduler.eu-west-3.amazonaws.com/schedules/defer-abc?groupName=stickler-prod&clientToken=cancel%20x%2By&a=%2F',
        service: 'scheduler',
        region: 'eu-west-3',
        body: '',
      },
    ];
    for (const [i, c] of cases.entries()) {
      const url = new URL(c.url);
      const headers = signRequest({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': '  Spaced   Target ' },
        body: c.body,
        service: c.service,
        region: c.region,
        credentials: TEST_AWS_CREDENTIALS,
        now: new Date(Date.UTC(2026, 0, 1 + i * 40, 23, 59, 59)),
      });
      const all: Record<string, string> = { ...headers, host: url.host };
      const problem = await checkSignature(
        { method: 'POST', path: `${url.pathname}${url.search}`, headers: all, body: c.body },
        { service: c.service, region: c.region, credentials: TEST_AWS_CREDENTIALS },
      );
      expect({ case: c.url, problem }).toEqual({ case: c.url, problem: undefined });
    }
  });

  it('is refused when the body or the secret differ (the check can fail)', async () => {
    await expect(checkSignature({ ...request(), body: '{}' }, expected)).resolves.toMatch(
      /signature mismatch/,
    );
    await expect(
      checkSignature(request(), {
        ...expected,
        credentials: { ...TEST_AWS_CREDENTIALS, secretAccessKey: 'other' },
      }),
    ).resolves.toMatch(/signature mismatch/);
  });
});

describe('AWS JSON client (over HTTP, signatures checked by the AWS SDK signer)', () => {
  let aws: FakeAws;
  const sleeps: number[] = [];
  beforeAll(async () => {
    aws = await startFakeAws({ service: 'events' });
  });
  afterAll(() => aws.close());
  beforeEach(() => {
    aws.reset();
    sleeps.length = 0;
  });
  const client = (overrides: Partial<AwsJsonClientOptions> = {}) =>
    aws.client(EVENTBRIDGE, {
      random: () => 1,
      clock: { now: () => new Date(), sleep: async (ms) => void sleeps.push(ms) },
      ...overrides,
    });

  it('sends the operation as AWS expects it and returns the JSON answer', async () => {
    aws.on('AWSEvents.PutEvents', () => ({ body: { FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] } }));
    const answer = await client()('PutEvents', { Entries: [{ Source: 's', DetailType: 'd', Detail: '{}' }] });
    expect(answer).toEqual({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });
    expect(aws.calls).toHaveLength(1);
    expect(aws.calls[0]!.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(aws.calls[0]!.input).toEqual({ Entries: [{ Source: 's', DetailType: 'd', Detail: '{}' }] });
  });

  it('accepts requests from the real AWS SDK client too (the endpoint checks what AWS checks)', async () => {
    aws.on('AWSEvents.PutEvents', () => ({ body: { FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] } }));
    const sdk = new EventBridgeClient({
      region: 'eu-west-3',
      endpoint: aws.url,
      credentials: TEST_AWS_CREDENTIALS,
    });
    await expect(
      sdk.send(new PutEventsCommand({ Entries: [{ Source: 's', DetailType: 'd', Detail: '{}' }] })),
    ).resolves.toMatchObject({ FailedEntryCount: 0 });
    sdk.destroy();
    // Both clients put the same operation on the wire.
    await client()('PutEvents', { Entries: [{ Source: 's', DetailType: 'd', Detail: '{}' }] });
    const [fromSdk, ours] = aws.calls;
    expect(ours!.target).toBe(fromSdk!.target);
    expect(ours!.input).toEqual(fromSdk!.input);
    expect(ours!.headers['content-type']).toBe(fromSdk!.headers['content-type']);
  });

  it('is refused by the endpoint when signed with the wrong secret', async () => {
    aws.on('AWSEvents.PutEvents', () => ({ body: {} }));
    const error = (await client({
      credentials: () => ({ ...TEST_AWS_CREDENTIALS, secretAccessKey: 'nope' }),
    })('PutEvents', {}).catch((e: unknown) => e)) as AwsError;
    expect(error).toBeInstanceOf(AwsError);
    expect(error.code).toBe('InvalidSignatureException');
    expect(error.status).toBe(403);
    expect(error.retryable).toBe(false);
    expect(error.message).not.toContain('nope');
    expect(aws.calls).toHaveLength(0);
  });

  it('retries throttling and 5xx answers with full-jitter backoff, then succeeds', async () => {
    aws.on('AWSEvents.PutEvents', (_input, n) =>
      n === 1
        ? { status: 400, body: { __type: 'ThrottlingException', message: 'Rate exceeded' } }
        : n === 2
          ? { status: 503, body: { message: 'down' } }
          : { body: { ok: true } },
    );
    await expect(client()('PutEvents', {})).resolves.toEqual({ ok: true });
    expect(aws.calls).toHaveLength(3);
    expect(sleeps).toEqual([100, 200]);
  });

  it('does not retry a client error, and names the code, message, status and request id', async () => {
    aws.on('AWSEvents.PutEvents', () => ({
      status: 400,
      body: { __type: 'com.amazonaws.events#ValidationException', message: 'Entries must not be empty.' },
    }));
    const error = (await client()('PutEvents', { Entries: [] }).catch((e: unknown) => e)) as AwsError;
    expect(error.code).toBe('ValidationException');
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(
      'EventBridge PutEvents: ValidationException: Entries must not be empty. (HTTP 400, request id rid-1)',
    );
    expect(aws.calls).toHaveLength(1);
  });

  it('takes the error code from x-amzn-ErrorType when AWS sends it', async () => {
    aws.on('AWSEvents.PutEvents', () => ({
      status: 400,
      headers: {
        'x-amzn-ErrorType': 'ResourceNotFoundException:http://internal.amazon.com/coral/com.amazon.events/',
      },
      body: { message: 'Event bus x does not exist.' },
    }));
    await expect(client()('PutEvents', {})).rejects.toMatchObject({ code: 'ResourceNotFoundException' });
  });

  it('gives up after maxAttempts when an endpoint never answers, each attempt bounded by the timeout', async () => {
    aws.on('AWSEvents.PutEvents', () => ({ hang: true }));
    const started = Date.now();
    const error = (await client({ timeoutMs: 100, maxAttempts: 2 })('PutEvents', {}).catch(
      (e: unknown) => e,
    )) as AwsError;
    expect(error.code).toBe('TimeoutError');
    expect(error.message).toBe('EventBridge PutEvents: no answer within 100 ms');
    expect(aws.calls).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('reports a refused connection as a retryable network error', async () => {
    const error = (await client({ endpoint: 'http://127.0.0.1:9', maxAttempts: 2 })('PutEvents', {}).catch(
      (e: unknown) => e,
    )) as AwsError;
    expect(error.code).toBe('NetworkError');
    expect(error.retryable).toBe(true);
    expect(sleeps).toHaveLength(1);
  });
});

describe('awsJsonClientFromEnv', () => {
  it('takes the endpoint from AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL, as the SDK does', async () => {
    const aws = await startFakeAws({ service: 'events', region: 'eu-west-1' });
    try {
      aws.on('AWSEvents.PutEvents', () => ({ body: { ok: 1 } }));
      const env = {
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
        AWS_SESSION_TOKEN: 'session',
      };
      await expect(
        awsJsonClientFromEnv(EVENTBRIDGE, { ...env, AWS_ENDPOINT_URL_EVENTBRIDGE: aws.url })('PutEvents', {}),
      ).resolves.toEqual({ ok: 1 });
      await expect(
        awsJsonClientFromEnv(EVENTBRIDGE, { ...env, AWS_ENDPOINT_URL: aws.url })('PutEvents', {}),
      ).resolves.toEqual({ ok: 1 });
      expect(aws.calls.map((c) => c.headers['x-amz-security-token'])).toEqual(['session', 'session']);
    } finally {
      await aws.close();
    }
  });

  it('says what is missing, without quoting any secret', async () => {
    expect(() => awsJsonClientFromEnv(EVENTBRIDGE, {})).toThrow('AWS_REGION is not set');
    expect(() =>
      awsJsonClientFromEnv(EVENTBRIDGE, { AWS_REGION: 'eu-west-3', AWS_ENDPOINT_URL: 'not a url' }),
    ).toThrow("the EventBridge endpoint 'not a url' is not a URL");
    const call = awsJsonClientFromEnv(EVENTBRIDGE, {
      AWS_REGION: 'eu-west-3',
      AWS_SECRET_ACCESS_KEY: 'hush',
    });
    const error = (await call('PutEvents', {}).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe(
      'AWS credentials are not set: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required (Lambda sets them; elsewhere, for a profile: eval "$(aws configure export-credentials --format env)")',
    );
    expect(error.message).not.toContain('hush');
  });
});
