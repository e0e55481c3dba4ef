/**
 * OVH credentials from an SSM Parameter Store SecureString holding
 * `{"applicationKey": "...", "applicationSecret": "...", "consumerKey": "..."}`, decrypted on
 * read and cached for a while so a warm function does not read it on every batch.
 */
import * as z from 'zod/mini';
import { SticklerError } from '../../domain/errors';
import type { Clock } from '../../ports/clock';
import { type AwsCall, AwsError } from '../aws/aws-json-client';
import type { OvhCredentials } from '../ovh/http-client';

const CredentialsSchema = z.object({
  applicationKey: z.string().check(z.minLength(1)),
  applicationSecret: z.string().check(z.minLength(1)),
  consumerKey: z.string().check(z.minLength(1)),
});

export class CredentialsError extends SticklerError {}

export const makeSsmCredentialsLoader = (options: {
  /** An SSM client (makeAwsJsonClient with SSM). */
  ssm: AwsCall;
  parameterName: string;
  clock: Clock;
  cacheMs?: number;
}): (() => Promise<OvhCredentials>) => {
  let cached: { value: Promise<OvhCredentials>; until: number } | undefined;
  const load = async (): Promise<OvhCredentials> => {
    let text: string | undefined;
    try {
      const answer = await options.ssm<{ Parameter?: { Value?: string } }>('GetParameter', {
        Name: options.parameterName,
        WithDecryption: true,
      });
      text = answer.Parameter?.Value;
    } catch (cause) {
      throw new CredentialsError(
        'credentials-unavailable',
        `cannot read OVH credentials from SSM parameter ${options.parameterName}: ${cause instanceof AwsError ? cause.message : (cause as Error).name}`,
        // SSM throttled or unreachable: the same request may go through later; a missing
        // parameter or a denied read will not.
        { retryable: cause instanceof AwsError ? cause.retryable : true },
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text ?? '');
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
  return () => {
    const now = options.clock.now().getTime();
    if (!cached || cached.until <= now) {
      const value = load();
      cached = { value, until: now + (options.cacheMs ?? 5 * 60_000) };
      value.catch(() => {
        cached = undefined;
      });
    }
    return cached.value;
  };
};
