/**
 * AWS Signature Version 4 for the calls stickler makes (JSON and REST-JSON protocols, with or
 * without a query string, and S3 GetObject), with node:crypto. The tests check it against the AWS SDK's own
 * signer.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 */
import { createHash, createHmac } from 'node:crypto';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignInput {
  method: string;
  url: URL;
  /** Headers to sign besides host and x-amz-date (and x-amz-security-token when there is one). */
  headers: Record<string, string>;
  body: string;
  service: string;
  region: string;
  credentials: AwsCredentials;
  now: Date;
}

const sha256Hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** `20261125T103000Z`: the ISO 8601 basic format SigV4 uses. */
export const amzDate = (now: Date) => now.toISOString().replace(/[:-]|\.\d{3}/g, '');

const signingKey = (secret: string, day: string, region: string, service: string) =>
  hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request');

/** RFC 3986 escaping, as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
const uriEscape = (text: string) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

// For every service but S3, each segment of the path as sent (already encoded once, as URL keeps
// it) is encoded once more; S3 wants it encoded once.
const canonicalPath = (url: URL, service: string) =>
  service === 's3'
    ? url.pathname
        .split('/')
        .map((segment) => uriEscape(decodeURIComponent(segment)))
        .join('/') || '/'
    : url.pathname.split('/').map(uriEscape).join('/') || '/';

/** The query string as SigV4 wants it: every name and value escaped, pairs sorted. */
const canonicalQuery = (url: URL) =>
  [...url.searchParams]
    .map(([k, v]) => [uriEscape(k), uriEscape(v)] as const)
    .sort(([ka, va], [kb, vb]) => (ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');

/** Returns the headers to send: the given ones plus host, x-amz-date, the token and Authorization. */
export const signRequest = (input: SignInput): Record<string, string> => {
  const date = amzDate(input.now);
  const day = date.slice(0, 8);
  const payloadHash = sha256Hex(input.body);
  const headers: Record<string, string> = {
    ...input.headers,
    host: input.url.host,
    'x-amz-date': date,
    // S3 refuses a request without the payload's hash in a header of its own.
    ...(input.service === 's3' ? { 'x-amz-content-sha256': payloadHash } : {}),
  };
  if (input.credentials.sessionToken) headers['x-amz-security-token'] = input.credentials.sessionToken;
  const names = Object.keys(headers)
    .map((name) => name.toLowerCase())
    .sort();
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const canonicalHeaders = names
    .map((name) => `${name}:${lower[name]!.trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    input.method,
    canonicalPath(input.url, input.service),
    canonicalQuery(input.url),
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = `${day}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', date, scope, sha256Hex(canonicalRequest)].join('\n');
  const signature = createHmac(
    'sha256',
    signingKey(input.credentials.secretAccessKey, day, input.region, input.service),
  )
    .update(stringToSign, 'utf8')
    .digest('hex');
  const { host: _host, ...toSend } = headers; // fetch sets Host itself, from the URL
  return {
    ...toSend,
    authorization: `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
};
