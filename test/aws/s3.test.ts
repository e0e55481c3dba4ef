import {
  CreateBucketCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { s3GetObjectFromEnv } from '../../lib/adapters/s3/s3-object';
import { S3PolicySource } from '../../lib/adapters/s3/s3-policy-source';
import { awsEnv, REGION, sdk, unique } from './moto';

describe('S3 GetObject on moto: the compliance policy from a versioned bucket', () => {
  const s3 = new S3Client(sdk());
  let bucket: string;
  beforeAll(async () => {
    // Like the stack's PolicyBucket (versioned); its generated name is moto's, so the test makes its own.
    bucket = unique('policies');
    await s3.send(
      new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }),
    );
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
    );
  });

  it('reads the policy and names the object version it read', async () => {
    const text = 'version: 1\nrules: []\n';
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'policy.yaml', Body: text }));
    const source = new S3PolicySource({
      getObject: s3GetObjectFromEnv(awsEnv()),
      bucket,
      key: 'policy.yaml',
    });
    await expect(source.load()).resolves.toEqual({
      text,
      source: `s3://${bucket}/policy.yaml`,
      version: put.VersionId,
    });
  });

  it('signs keys that need escaping as S3 expects them (path-style at an endpoint override)', async () => {
    const key = "teams/ops & web/policy (v2)+'draft'*.yaml";
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' }));
    await expect(s3GetObjectFromEnv(awsEnv())(bucket, key)).resolves.toMatchObject({ text: 'x' });
  });

  it('fails with S3 code on a missing object, not retried', async () => {
    await expect(s3GetObjectFromEnv(awsEnv())(bucket, 'nope.yaml')).rejects.toMatchObject({
      code: 'NoSuchKey',
      retryable: false,
    });
  });
});
