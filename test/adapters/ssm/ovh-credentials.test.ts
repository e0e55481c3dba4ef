import { SSM } from '../../../lib/adapters/aws/aws-json-client';
import { makeSsmCredentialsLoader } from '../../../lib/adapters/ssm/ovh-credentials';
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
