import { makeS3GetObject } from '../../../lib/adapters/s3/s3-object';
import { TEST_AWS_CREDENTIALS } from '../../helpers/aws-signature';
import { type FakeAws, startFakeAws } from '../../helpers/fake-aws';

describe('S3 GetObject (fetch + SigV4, checked by the AWS SDK signer for S3)', () => {
  let s3: FakeAws;
  beforeAll(async () => {
    s3 = await startFakeAws({ service: 's3' });
  });
  afterAll(() => s3.close());
  beforeEach(() => s3.reset());
  const get = (maxBytes?: number) =>
    makeS3GetObject({
      region: 'eu-west-3',
      endpoint: s3.url,
      credentials: () => TEST_AWS_CREDENTIALS,
      maxAttempts: 2,
      clock: { now: () => new Date(), sleep: async () => undefined },
      ...(maxBytes ? { maxBytes } : {}),
    });

  it('reads the object and its version, with a signature S3 would accept (keys encoded once)', async () => {
    const object = () => ({
      body: 'version: 1\nrules: []\n',
      headers: { 'content-type': 'application/yaml', 'x-amz-version-id': 'v-3' },
    });
    s3.on('GET /stickler-policies/*', object);
    s3.on('GET /stickler-policies/prod/*', object);
    for (const key of ['policy.yaml', 'prod/policy (v2) é.yaml']) {
      const object = await get()('stickler-policies', key);
      expect(object).toMatchObject({ text: 'version: 1\nrules: []\n', versionId: 'v-3' });
    }
    expect(s3.calls.map((c) => c.target)).toEqual([
      'GET /stickler-policies/policy.yaml',
      'GET /stickler-policies/prod/policy%20%28v2%29%20%C3%A9.yaml',
    ]);
    expect(s3.calls[0]!.headers['x-amz-content-sha256']).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('says what is missing, without retrying what cannot succeed', async () => {
    s3.on('GET /stickler-policies/*', () => ({
      status: 404,
      body: '<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>',
    }));
    await expect(get()('stickler-policies', 'missing.yaml')).rejects.toMatchObject({
      code: 'NoSuchKey',
      retryable: false,
      message: expect.stringContaining('s3://stickler-policies/missing.yaml'),
    });
    expect(s3.calls).toHaveLength(1);
  });

  it('refuses an object over the size cap', async () => {
    s3.on('GET /stickler-policies/*', () => ({ body: 'x'.repeat(2048) }));
    await expect(get(1024)('stickler-policies', 'big.yaml')).rejects.toMatchObject({
      code: 'ObjectTooLarge',
    });
  });
});
