import { SSM } from '../../../lib/adapters/aws/aws-json-client';
import {
  makeSsmCredentialsLoader,
  makeSsmOvhCredentialsLoader,
} from '../../../lib/adapters/ssm/ovh-credentials';
import { type FakeAws, startFakeAws } from '../../helpers/fake-aws';

const secret = 'very-secret-application-secret';
const value = JSON.stringify({ applicationKey: 'ak', applicationSecret: secret, consumerKey: 'ck' });

describe('OVH credentials from SSM (GetParameter over HTTP)', () => {
  let aws: FakeAws;
  beforeAll(async () => {
    aws = await startFakeAws({ service: 'ssm' });
  });
  afterAll(() => aws.close());
  let now = 0;
  const clock = { now: () => new Date(now), sleep: async () => undefined };
  const loader = () =>
    makeSsmCredentialsLoader({
      ssm: aws.client(SSM, { maxAttempts: 1 }),
      parameterName: '/stickler/prod/ovh',
      clock,
      cacheMs: 1000,
    });
  beforeEach(() => {
    aws.reset();
    now = 0;
  });

  it('reads the SecureString decrypted, then serves it from cache until it expires', async () => {
    aws.on('AmazonSSM.GetParameter', () => ({ body: { Parameter: { Value: value, Type: 'SecureString' } } }));
    const load = loader();
    await expect(load()).resolves.toEqual({
      applicationKey: 'ak',
      applicationSecret: secret,
      consumerKey: 'ck',
    });
    await load();
    expect(aws.calls).toHaveLength(1);
    expect(aws.calls[0]!.input).toEqual({ Name: '/stickler/prod/ovh', WithDecryption: true });
    now = 1001;
    await load();
    expect(aws.calls).toHaveLength(2);
  });

  it('names the parameter but never its value when the value is not the expected JSON', async () => {
    aws.on('AmazonSSM.GetParameter', () => ({
      body: { Parameter: { Value: `{"applicationSecret":"${secret}"}` } },
    }));
    const error = (await loader()().catch((e: unknown) => e)) as Error;
    expect(error.message).toBe(
      'SSM parameter /stickler/prod/ovh must hold JSON with applicationKey, applicationSecret and consumerKey',
    );
    expect(JSON.stringify(error)).not.toContain(secret);
    expect(String(error.stack)).not.toContain(secret);
  });

  it('does not cache a failure: the next call asks SSM again', async () => {
    aws.on('AmazonSSM.GetParameter', (_input, call) =>
      call === 1
        ? {
            status: 400,
            body: { __type: 'AccessDeniedException', message: 'not authorized to perform ssm:GetParameter' },
          }
        : { body: { Parameter: { Value: value } } },
    );
    const load = loader();
    await expect(load()).rejects.toThrow(
      'cannot read OVH credentials from SSM parameter /stickler/prod/ovh: SSM GetParameter: AccessDeniedException: not authorized to perform ssm:GetParameter (HTTP 400, request id rid-1)',
    );
    await expect(load()).resolves.toMatchObject({ consumerKey: 'ck' });
  });
});

describe('OVH credentials from either of two SSM parameters (application key or service account)', () => {
  let aws: FakeAws;
  beforeAll(async () => {
    aws = await startFakeAws({ service: 'ssm' });
  });
  afterAll(() => aws.close());
  let now = 0;
  const clock = { now: () => new Date(now), sleep: async () => undefined };
  const KEY = '/stickler/prod/ovh-credentials';
  const ACCOUNT = '/stickler/prod/ovh-service-account';
  const accountSecret = 'very-secret-client-secret';
  const accountValue = JSON.stringify({ clientId: 'EU.sa-1', clientSecret: accountSecret });
  const notFound = { status: 400, body: { __type: 'ParameterNotFound', message: 'not found' } };
  /** SSM holding the given parameters only. */
  const holding = (values: Record<string, string>) =>
    aws.on('AmazonSSM.GetParameter', (input) => {
      const v = values[input.Name as string];
      return v === undefined ? notFound : { body: { Parameter: { Value: v, Type: 'SecureString' } } };
    });
  const loader = () =>
    makeSsmOvhCredentialsLoader({
      ssm: aws.client(SSM, { maxAttempts: 1 }),
      parameters: { applicationKey: KEY, serviceAccount: ACCOUNT },
      clock,
      cacheMs: 1000,
    });
  beforeEach(() => {
    aws.reset();
    now = 0;
  });

  it('reads the service account when only its parameter exists, naming it as the source, and caches what it found', async () => {
    holding({ [ACCOUNT]: accountValue });
    const load = loader();
    await expect(load()).resolves.toEqual({
      clientId: 'EU.sa-1',
      clientSecret: accountSecret,
      source: `SSM parameter ${ACCOUNT}`,
    });
    await load();
    expect(aws.calls).toHaveLength(2); // both parameters once, the missing one included
    now = 1001;
    await load();
    expect(aws.calls).toHaveLength(4);
  });

  it('reads the application key when only its parameter exists', async () => {
    holding({ [KEY]: value });
    await expect(loader()()).resolves.toEqual({
      applicationKey: 'ak',
      applicationSecret: secret,
      consumerKey: 'ck',
    });
  });

  it('refuses both parameters at once, naming them, never a value', async () => {
    holding({ [KEY]: value, [ACCOUNT]: accountValue });
    const error = (await loader()().catch((e: unknown) => e)) as Error;
    expect(error).toMatchObject({ code: 'credentials-ambiguous' });
    expect(error.message).toContain(`both SSM parameters ${ACCOUNT}`);
    expect(error.message).toContain(KEY);
    expect(JSON.stringify(error) + error.message).not.toContain(accountSecret);
    expect(error.message).not.toContain(secret);
  });

  it('names both parameters when neither exists', async () => {
    holding({});
    await expect(loader()()).rejects.toThrow(`no OVH credentials: create the SSM SecureString ${ACCOUNT}`);
  });

  it("names the service account's keys, never its value, when it is not the expected JSON", async () => {
    holding({ [ACCOUNT]: `{"clientSecret":"${accountSecret}"}` });
    const error = (await loader()().catch((e: unknown) => e)) as Error;
    expect(error.message).toBe(
      `SSM parameter ${ACCOUNT} must hold JSON with clientId and clientSecret (an OVH service account)`,
    );
    expect(String(error.stack)).not.toContain(accountSecret);
  });

  it('never caches a read that failed for another reason than a missing parameter', async () => {
    aws.on('AmazonSSM.GetParameter', (input, call) =>
      input.Name === ACCOUNT && call <= 2
        ? { status: 400, body: { __type: 'AccessDeniedException', message: 'denied' } }
        : input.Name === ACCOUNT
          ? { body: { Parameter: { Value: accountValue } } }
          : notFound,
    );
    const load = loader();
    await expect(load()).rejects.toThrow(
      /cannot read OVH credentials from SSM parameter .*AccessDeniedException/,
    );
    await expect(load()).resolves.toMatchObject({ clientId: 'EU.sa-1' });
  });
});
