/**
 * The AWS calls of every function (DynamoDB, EventBridge PutEvents, SQS visibility, Scheduler,
 * Lambda's asynchronous invoke, SSM GetParameter) and of `stickler doctor`, made with fetch and
 * SigV4 and nothing else: AWS's JSON protocol (a signed POST with an `X-Amz-Target` header) and
 * its REST-JSON one (Scheduler, Lambda); S3's GetObject has its own (adapters/s3) on the same
 * signer. Loading it costs almost
 * nothing, where the AWS SDK clients for the same services take longer to load than the rest of
 * a function (see bench/cold-start.bench.ts and the README). The CLI's EventBridge, STS and
 * CloudFormation calls use the AWS SDK (its credential chain: profiles, SSO).
 *
 * As the SDK does: credentials and region from the environment (what Lambda provides), endpoint
 * overrides from AWS_ENDPOINT_URL_<SERVICE> or AWS_ENDPOINT_URL, a timeout on every attempt,
 * and up to `maxAttempts` attempts with full-jitter backoff on throttling, 5xx, timeouts and
 * network errors. Errors carry AWS's error code, the HTTP status and the request id, never the
 * credentials.
 */
import { ConfigError, SticklerError } from '../../domain/errors';
import { type Clock, systemClock } from '../../ports/clock';
import { retry } from '../../shared/retry';
import { type AwsCredentials, signRequest } from './sigv4';

export interface AwsService {
  /** How the SDK and error messages name it. */
  name: string;
  signingName: string;
  endpointPrefix: string;
  /** The suffix of its AWS_ENDPOINT_URL_<...> variable. */
  envId: string;
  targetPrefix: string;
  jsonVersion: '1.0' | '1.1';
}

export const DYNAMODB: AwsService = {
  name: 'DynamoDB',
  signingName: 'dynamodb',
  endpointPrefix: 'dynamodb',
  envId: 'DYNAMODB',
  targetPrefix: 'DynamoDB_20120810',
  jsonVersion: '1.0',
};
export const EVENTBRIDGE: AwsService = {
  name: 'EventBridge',
  signingName: 'events',
  endpointPrefix: 'events',
  envId: 'EVENTBRIDGE',
  targetPrefix: 'AWSEvents',
  jsonVersion: '1.1',
};
/** SQS speaks the AWS JSON protocol too (AmazonSQS.ChangeMessageVisibilityBatch and the like). */
export const SQS: AwsService = {
  name: 'SQS',
  signingName: 'sqs',
  endpointPrefix: 'sqs',
  envId: 'SQS',
  targetPrefix: 'AmazonSQS',
  jsonVersion: '1.0',
};
/** EventBridge Scheduler speaks REST-JSON: see makeAwsRestJsonClient. */
export const SCHEDULER: AwsService = {
  name: 'Scheduler',
  signingName: 'scheduler',
  endpointPrefix: 'scheduler',
  envId: 'SCHEDULER',
  targetPrefix: '',
  jsonVersion: '1.1',
};
/** Lambda's Invoke is REST-JSON too (POST /2015-03-31/functions/{name}/invocations). */
export const LAMBDA: AwsService = {
  name: 'Lambda',
  signingName: 'lambda',
  endpointPrefix: 'lambda',
  envId: 'LAMBDA',
  targetPrefix: '',
  jsonVersion: '1.1',
};
export const SSM: AwsService = {
  name: 'SSM',
  signingName: 'ssm',
  endpointPrefix: 'ssm',
  envId: 'SSM',
  targetPrefix: 'AmazonSSM',
  jsonVersion: '1.1',
};

/** An AWS error answer, or a call that got no answer (code `TimeoutError` / `NetworkError`). */
export class AwsError extends SticklerError {
  constructor(
    code: string,
    message: string,
    retryable: boolean,
    readonly status?: number,
    readonly requestId?: string,
    cause?: unknown,
  ) {
    super(code, message, {
      retryable,
      outcomeUnknown: code === 'TimeoutError' || code === 'NetworkError' || (status ?? 0) >= 500,
      ...(requestId ? { reference: requestId } : {}),
      ...(cause !== undefined ? { cause } : {}),
    });
  }
}

// The error codes AWS SDKs retry (besides 429 and 5xx): throttling and transient ones.
const RETRYABLE_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'TransactionInProgressException',
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
]);

export interface AwsJsonClientOptions {
  service: AwsService;
  region: string;
  /** Read at every call: Lambda's credentials come from its environment. */
  credentials: () => AwsCredentials;
  /** Overrides https://<prefix>.<region>.amazonaws.com (a local stand-in, a VPC endpoint). */
  endpoint?: string;
  timeoutMs?: number;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
  clock?: Clock;
}

export type AwsCall = <T = Record<string, unknown>>(operation: string, input: object) => Promise<T>;

/** A REST-JSON call: method and path name the operation. */
export type AwsRestCall = <T = Record<string, unknown>>(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  input?: object,
  /** Extra headers, signed with the rest (Lambda's X-Amz-Invocation-Type). */
  headers?: Record<string, string>,
) => Promise<T>;

const defaultEndpoint = (service: AwsService, region: string, fips: boolean) =>
  `https://${service.endpointPrefix}${fips ? '-fips' : ''}.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;

/** `com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException` -> `ConditionalCheckFailedException`. */
const errorCode = (header: string | null, body: Record<string, unknown>): string => {
  const raw =
    header ||
    (typeof body.__type === 'string' ? body.__type : '') ||
    (typeof body.code === 'string' ? body.code : '');
  return raw.split(':')[0]!.split('#').pop()!.trim() || 'UnknownError';
};

interface SignedRequest {
  what: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Sends signed requests with a timeout per attempt and retries on what AWS SDKs retry. */
const makeSender = (options: AwsJsonClientOptions) => {
  const { service, region } = options;
  const base = new URL(options.endpoint ?? defaultEndpoint(service, region, false));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxAttempts = options.maxAttempts ?? 3;
  const baseDelayMs = options.baseDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 5_000;
  const random = options.random ?? Math.random;
  const clock = options.clock ?? systemClock;

  const attempt = async <T>(request: SignedRequest): Promise<T> => {
    const { what, method, body } = request;
    const url = new URL(base);
    const [path = '', query] = request.path.split('?', 2);
    url.pathname = `${base.pathname.replace(/\/$/, '')}${path}`;
    if (query) url.search = query;
    const headers = signRequest({
      method,
      url,
      headers: request.headers,
      body,
      service: service.signingName,
      region,
      credentials: options.credentials(),
      now: clock.now(),
    });
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(method === 'GET' || method === 'DELETE' ? {} : { body }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new AwsError(
        timedOut ? 'TimeoutError' : 'NetworkError',
        timedOut ? `${what}: no answer within ${timeoutMs} ms` : `${what}: ${cause}`,
        true,
        undefined,
        undefined,
        error,
      );
    }
    const requestId = response.headers.get('x-amzn-requestid') ?? undefined;
    let json: Record<string, unknown> = {};
    if (text) {
      try {
        json = JSON.parse(text) as Record<string, unknown>;
      } catch {
        if (response.ok)
          throw new AwsError(
            'InvalidResponse',
            `${what}: the answer is not JSON`,
            false,
            response.status,
            requestId,
          );
      }
    }
    if (response.ok) return json as T;
    const code = errorCode(response.headers.get('x-amzn-errortype'), json);
    const message = String(json.message ?? json.Message ?? response.statusText ?? '').trim();
    throw new AwsError(
      code,
      `${what}: ${code}${message ? `: ${message.slice(0, 500)}` : ''} (HTTP ${response.status}${requestId ? `, request id ${requestId}` : ''})`,
      response.status >= 500 || response.status === 429 || RETRYABLE_CODES.has(code),
      response.status,
      requestId,
    );
  };

  return <T>(request: SignedRequest): Promise<T> =>
    retry(() => attempt<T>(request), {
      maxAttempts,
      baseDelayMs,
      maxDelayMs,
      random,
      sleep: clock.sleep,
      now: () => clock.now().getTime(),
    });
};

export const makeAwsJsonClient = (options: AwsJsonClientOptions): AwsCall => {
  const { service } = options;
  const send = makeSender(options);
  return <T>(operation: string, input: object): Promise<T> =>
    send<T>({
      what: `${service.name} ${operation}`,
      method: 'POST',
      path: '',
      headers: {
        'content-type': `application/x-amz-json-${service.jsonVersion}`,
        'x-amz-target': `${service.targetPrefix}.${operation}`,
      },
      body: JSON.stringify(input),
    });
};

/** A client for a REST-JSON service (EventBridge Scheduler): the same signing, timeouts and retries. */
export const makeAwsRestJsonClient = (options: AwsJsonClientOptions): AwsRestCall => {
  const { service } = options;
  const send = makeSender(options);
  return <T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    input?: object,
    headers: Record<string, string> = {},
  ): Promise<T> =>
    send<T>({
      what: `${service.name} ${method} ${path.split('?')[0]}`,
      method,
      path,
      headers: { 'content-type': 'application/json', ...headers },
      body: input === undefined ? '' : JSON.stringify(input),
    });
};

/** Credentials as Lambda provides them, in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. */
export const credentialsFromEnv =
  (env: NodeJS.ProcessEnv): (() => AwsCredentials) =>
  () => {
    const accessKeyId = env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey)
      throw new ConfigError(
        'AWS credentials are not set: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required (Lambda sets them; elsewhere, for a profile: eval "$(aws configure export-credentials --format env)")',
      );
    return {
      accessKeyId,
      secretAccessKey,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    };
  };

/** Client options for `service` from the environment, as an AWS SDK client reads them. */
const optionsFromEnv = (
  service: AwsService,
  env: NodeJS.ProcessEnv,
  overrides: Partial<AwsJsonClientOptions>,
): AwsJsonClientOptions => {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!region) throw new ConfigError('AWS_REGION is not set');
  const endpoint =
    env[`AWS_ENDPOINT_URL_${service.envId}`] ||
    env.AWS_ENDPOINT_URL ||
    defaultEndpoint(service, region, env.AWS_USE_FIPS_ENDPOINT === 'true');
  try {
    new URL(endpoint);
  } catch {
    throw new ConfigError(`the ${service.name} endpoint '${endpoint}' is not a URL`);
  }
  return { service, region, endpoint, credentials: credentialsFromEnv(env), ...overrides };
};

/** A client for `service` configured from the environment, as an AWS SDK client would be. */
export const awsJsonClientFromEnv = (
  service: AwsService,
  env: NodeJS.ProcessEnv,
  overrides: Partial<AwsJsonClientOptions> = {},
): AwsCall => makeAwsJsonClient(optionsFromEnv(service, env, overrides));

/** A REST-JSON client for `service` configured from the environment. */
export const awsRestJsonClientFromEnv = (
  service: AwsService,
  env: NodeJS.ProcessEnv,
  overrides: Partial<AwsJsonClientOptions> = {},
): AwsRestCall => makeAwsRestJsonClient(optionsFromEnv(service, env, overrides));
