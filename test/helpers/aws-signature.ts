/**
 * Checks a SigV4 signature with the AWS SDK's own signer (@smithy/signature-v4): the request is
 * signed again from what arrived, with the same date and signed headers, and must match.
 */
import { createHash, createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';

const bytes = (data: string | ArrayBuffer | ArrayBufferView): string | Buffer =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView) {
    this.hash.update(bytes(data));
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}

export const TEST_AWS_CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The reason the signature is wrong, or undefined when the AWS SDK's signer agrees with it. */
export const checkSignature = async (
  request: ReceivedRequest,
  expected: {
    service: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  },
): Promise<string | undefined> => {
  const authorization = String(request.headers.authorization ?? '');
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      authorization,
    );
  if (!match) return `malformed Authorization header '${authorization}'`;
  const [, keyId, , region, service, signedHeaders] = match;
  if (keyId !== expected.credentials.accessKeyId) return `unknown access key ${keyId}`;
  if (region !== expected.region || service !== expected.service)
    return `scoped to ${region}/${service}, expected ${expected.region}/${expected.service}`;
  const date = String(request.headers['x-amz-date']);
  const signingDate = new Date(
    `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
  );
  const names = signedHeaders!.split(';');
  const headers = Object.fromEntries(names.map((n) => [n, String(request.headers[n])]));
  const signer = new SignatureV4({
    service: service!,
    region: region!,
    credentials: {
      ...expected.credentials,
      ...(headers['x-amz-security-token'] ? { sessionToken: headers['x-amz-security-token'] } : {}),
    },
    sha256: Sha256,
    // S3 paths are escaped once (the request's own x-amz-content-sha256 is a signed header).
    uriEscapePath: service !== 's3',
    applyChecksum: false,
  });
  const [hostname, port] = String(request.headers.host).split(':');
  const [path, search = ''] = request.path.split('?', 2);
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(search)) {
    const seen = query[k];
    query[k] = seen === undefined ? v : Array.isArray(seen) ? [...seen, v] : [seen, v];
  }
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: hostname!,
      ...(port ? { port: Number(port) } : {}),
      path: path!,
      query,
      headers,
      body: request.body,
    },
    { signingDate, signableHeaders: new Set(names) },
  );
  const theirs = String(signed.headers.authorization ?? signed.headers.Authorization);
  return theirs === authorization
    ? undefined
    : `signature mismatch: expected '${theirs}', got '${authorization}'`;
};
