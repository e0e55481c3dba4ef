/**
 * OVH credentials from an SSM Parameter Store SecureString holding
 * `{"applicationKey": "...", "applicationSecret": "...", "consumerKey": "..."}`, read and cached
 * as any other secret (ssm-secret.ts).
 */
import * as z from 'zod/mini';
import { SticklerError } from '../../domain/errors';
import type { OvhCredentials } from '../ovh/http-client';
import { makeSsmSecret, type SsmSecretOptions } from './ssm-secret';

const CredentialsSchema = z.object({
  applicationKey: z.string().check(z.minLength(1)),
  applicationSecret: z.string().check(z.minLength(1)),
  consumerKey: z.string().check(z.minLength(1)),
});

export class CredentialsError extends SticklerError {}

/** OVH credentials from a SecureString holding their JSON (see makeSsmSecret for reading and caching). */
export const makeSsmCredentialsLoader = (options: SsmSecretOptions): (() => Promise<OvhCredentials>) => {
  const secret = makeSsmSecret(options);
  return async () => {
    let text: string;
    try {
      text = await secret();
    } catch (cause) {
      const e = cause as SticklerError;
      throw new CredentialsError('credentials-unavailable', `cannot read OVH credentials from ${e.message}`, {
        cause,
        retryable: e.retryable,
      });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = CredentialsSchema.safeParse(json);
    // The parameter's value is a secret: the error names the parameter and the expected keys only.
    if (!parsed.success) {
      throw new CredentialsError(
        'credentials-invalid',
        `SSM parameter ${options.parameterName} must hold JSON with applicationKey, applicationSecret and consumerKey`,
      );
    }
    return parsed.data;
  };
};
