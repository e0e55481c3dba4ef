/** Where the compliance run reads its policy: an S3 object in AWS, a file locally. */
export interface PolicyDocument {
  text: string;
  /** How errors and events name it: `s3://bucket/key`, a path. */
  source: string;
  /** The object version read (null when the store keeps none). */
  version: string | null;
}

export interface PolicySource {
  load(): Promise<PolicyDocument>;
}
