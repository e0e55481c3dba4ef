/** The policy as an object in the stack's versioned bucket: changing it is an upload, not a deploy. */
import type { PolicyDocument, PolicySource } from '../../ports/policy-source';
import type { makeS3GetObject } from './s3-object';

export class S3PolicySource implements PolicySource {
  constructor(
    private readonly options: { getObject: ReturnType<typeof makeS3GetObject>; bucket: string; key: string },
  ) {}

  async load(): Promise<PolicyDocument> {
    const { bucket, key } = this.options;
    const object = await this.options.getObject(bucket, key);
    return {
      text: object.text,
      source: `s3://${bucket}/${key}`,
      version: object.versionId ?? object.etag ?? null,
    };
  }
}
