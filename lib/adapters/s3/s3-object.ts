/**
 * S3 GetObject with fetch and SigV4 (the deployed functions load no AWS SDK client): the object's
 * text and the version it is, a timeout per attempt, retries on 5xx, throttling and network
 * errors, and a size cap. Virtual-hosted URLs on AWS; path-style at an endpoint override
 * (AWS_ENDPOINT_URL_S3), as the SDK does for local stand-ins.
 */
import { ConfigError } from '../../domain/errors';
import { type Clock, systemClock } from '../../ports/clock';
import { retry } from '../../shared/retry';
import { AwsError, credentialsFromEnv } from '../aws/aws-json-client';
import { type AwsCredentials, signRequest } from '../aws/sigv4';

export interface S3Object {
  text: string;
  /** The object version (x-amz-version-id), when the bucket is versioned. */
  versionId: string | undefined;
  etag: string | undefined;
}

export interface S3GetOptions {
  region: string;
  credentials: () => AwsCredentials;
  endpoint?: string;
  timeoutMs?: number;
  maxAttempts?: number;
  maxBytes?: number;
  clock?: Clock;
}

/** RFC 3986 escaping of each key segment, as the AWS SDK sends S3 keys (and as they are signed). */
const encodeKey = (key: string) =>
  key
    .split('/')
    .map((segment) =>
      encodeURIComponent(segment).replace(
        /[!'()*]/g,
        (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
      ),
    )
    .join('/');

export const makeS3GetObject = (options: S3GetOptions) => {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxAttempts = options.maxAttempts ?? 3;
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const clock = options.clock ?? systemClock;
  return async function getObject(bucket: string, key: string): Promise<S3Object> {
    const url = options.endpoint
      ? new URL(`${options.endpoint.replace(/\/$/, '')}/${bucket}/${encodeKey(key)}`)
      : new URL(`https://${bucket}.s3.${options.region}.amazonaws.com/${encodeKey(key)}`);
    const what = `S3 GetObject s3://${bucket}/${key}`;
    const attempt = async (): Promise<S3Object> => {
      const headers = signRequest({
        method: 'GET',
        url,
        headers: {},
        body: '',
        service: 's3',
        region: options.region,
        credentials: options.credentials(),
        now: clock.now(),
      });
      let response: Response;
      let text: string;
      try {
        response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
        const length = Number(response.headers.get('content-length') ?? 0);
        if (response.ok && length > maxBytes) {
          await response.body?.cancel();
          throw new AwsError(
            'ObjectTooLarge',
            `${what}: the object is ${length} bytes, over ${maxBytes}`,
            false,
            response.status,
          );
        }
        text = await response.text();
      } catch (cause) {
        if (cause instanceof AwsError) throw cause;
        const timedOut = (cause as Error).name === 'TimeoutError';
        throw new AwsError(
          timedOut ? 'TimeoutError' : 'NetworkError',
          `${what}: ${timedOut ? `no answer within ${timeoutMs} ms` : 'network error'}`,
          true,
          undefined,
          undefined,
          cause,
        );
      }
      if (response.ok) {
        if (Buffer.byteLength(text) > maxBytes)
          throw new AwsError(
            'ObjectTooLarge',
            `${what}: the object is over ${maxBytes} bytes`,
            false,
            response.status,
          );
        return {
          text,
          versionId: response.headers.get('x-amz-version-id') ?? undefined,
          etag: response.headers.get('etag') ?? undefined,
        };
      }
      const code = /<Code>([^<]{1,64})<\/Code>/.exec(text)?.[1] ?? `HTTP${response.status}`;
      const requestId = response.headers.get('x-amz-request-id') ?? undefined;
      throw new AwsError(
        code,
        `${what}: ${code} (HTTP ${response.status}${requestId ? `, request id ${requestId}` : ''})`,
        response.status >= 500 || response.status === 429 || code === 'SlowDown',
        response.status,
        requestId,
      );
    };
    return retry(attempt, {
      maxAttempts,
      baseDelayMs: 100,
      sleep: clock.sleep,
      now: () => clock.now().getTime(),
    });
  };
};

/** GetObject configured from the environment (region, credentials, AWS_ENDPOINT_URL_S3). */
export const s3GetObjectFromEnv = (env: NodeJS.ProcessEnv) => {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!region) throw new ConfigError('AWS_REGION is not set');
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
  return makeS3GetObject({ region, credentials: credentialsFromEnv(env), ...(endpoint ? { endpoint } : {}) });
};
