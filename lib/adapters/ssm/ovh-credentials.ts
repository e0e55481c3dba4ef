/**
 * OVH credentials from SSM Parameter Store SecureStrings, read and cached as any other secret
 * (ssm-secret.ts): an application key in one parameter,
 * `{"applicationKey": "...", "applicationSecret": "...", "consumerKey": "..."}`, or a service
 * account in another, `{"clientId": "...", "clientSecret": "..."}`. Exactly one of the two may
 * exist: both is refused, as OVH's clients refuse both kinds at once.
 */
import * as z from 'zod/mini';
import { SticklerError } from '../../domain/errors';
import type { Clock } from '../../ports/clock';
import type { AwsCall } from '../aws/aws-json-client';
import type { OvhCredentials } from '../ovh/http-client';
import { isMissingParameter, makeSsmSecret, type SsmSecretOptions } from './ssm-secret';

const ApplicationKeySchema = z.object({
  applicationKey: z.string().check(z.minLength(1)),
  applicationSecret: z.string().check(z.minLength(1)),
  consumerKey: z.string().check(z.minLength(1)),
});

const ServiceAccountSchema = z.object({
  clientId: z.string().check(z.minLength(1)),
  clientSecret: z.string().check(z.minLength(1)),
});

export class CredentialsError extends SticklerError {}

const unavailable = (cause: unknown) => {
  const e = cause as SticklerError;
  return new CredentialsError('credentials-unavailable', `cannot read OVH credentials from ${e.message}`, {
    cause,
    retryable: e.retryable,
  });
};

/** The parameter's JSON as credentials; the error names the parameter and the keys expected, never the value. */
const parseCredentials = (
  text: string,
  parameterName: string,
  kind: 'application-key' | 'service-account',
) => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (kind === 'service-account') {
    const parsed = ServiceAccountSchema.safeParse(json);
    if (!parsed.success)
      throw new CredentialsError(
        'credentials-invalid',
        `SSM parameter ${parameterName} must hold JSON with clientId and clientSecret (an OVH service account)`,
      );
    return { ...parsed.data, source: `SSM parameter ${parameterName}` };
  }
  const parsed = ApplicationKeySchema.safeParse(json);
  if (!parsed.success)
    throw new CredentialsError(
      'credentials-invalid',
      `SSM parameter ${parameterName} must hold JSON with applicationKey, applicationSecret and consumerKey`,
    );
  return parsed.data;
};

/** OVH credentials from a SecureString holding their JSON (see makeSsmSecret for reading and caching). */
export const makeSsmCredentialsLoader = (options: SsmSecretOptions): (() => Promise<OvhCredentials>) => {
  const secret = makeSsmSecret(options);
  return async () => {
    let text: string;
    try {
      text = await secret();
    } catch (cause) {
      throw unavailable(cause);
    }
    return parseCredentials(text, options.parameterName, 'application-key');
  };
};

export interface OvhCredentialParameters {
  /** The application key's parameter (`/stickler/<stage>/ovh-credentials`). */
  applicationKey: string;
  /** The service account's parameter (`/stickler/<stage>/ovh-service-account`), when the stack names one. */
  serviceAccount?: string;
}

/**
 * OVH credentials from whichever of the two parameters exists. Both are read (in parallel) and
 * what was found, present or missing, is kept for `cacheMs` (5 minutes): a warm function reads
 * SSM at most twice per period. A read that fails otherwise (throttled, denied) is never kept.
 */
export const makeSsmOvhCredentialsLoader = (options: {
  ssm: AwsCall;
  parameters: OvhCredentialParameters;
  clock: Clock;
  cacheMs?: number;
}): (() => Promise<OvhCredentials>) => {
  const { parameters } = options;
  if (!parameters.serviceAccount)
    return makeSsmCredentialsLoader({ ...options, parameterName: parameters.applicationKey });
  const accountName = parameters.serviceAccount;
  // Each read fresh: the cache is the pair's, below, so that a missing parameter is cached too.
  const read = (parameterName: string) => {
    const secret = makeSsmSecret({ ssm: options.ssm, parameterName, clock: options.clock, cacheMs: 0 });
    return secret().then(
      (value): string | undefined => value,
      (error: unknown) => {
        if (isMissingParameter(error)) return undefined;
        throw unavailable(error);
      },
    );
  };
  const load = async (): Promise<OvhCredentials> => {
    const [key, account] = await Promise.all([read(parameters.applicationKey), read(accountName)]);
    if (key !== undefined && account !== undefined)
      throw new CredentialsError(
        'credentials-ambiguous',
        `both SSM parameters ${accountName} (a service account) and ${parameters.applicationKey} (an application key) exist: stickler uses one kind of OVH credentials, as OVH's own clients do; delete the one you no longer use`,
      );
    if (account !== undefined) return parseCredentials(account, accountName, 'service-account');
    if (key !== undefined) return parseCredentials(key, parameters.applicationKey, 'application-key');
    throw new CredentialsError(
      'credentials-missing',
      `no OVH credentials: create the SSM SecureString ${accountName} (a service account, {"clientId": …, "clientSecret": …}) or ${parameters.applicationKey} (an application key, {"applicationKey": …, "applicationSecret": …, "consumerKey": …}) in this stack's region`,
    );
  };
  let cached: { value: Promise<OvhCredentials>; until: number } | undefined;
  return () => {
    const now = options.clock.now().getTime();
    if (!cached || cached.until <= now) {
      const value = load();
      const entry = { value, until: now + (options.cacheMs ?? 5 * 60_000) };
      cached = entry;
      value.catch(() => {
        if (cached === entry) cached = undefined; // never cache a failure
      });
    }
    return cached.value;
  };
};
