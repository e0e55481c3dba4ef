/**
 * A secret from an SSM Parameter Store SecureString, decrypted on read and cached for a while,
 * so a warm function does not read it on every invocation. Used for the OVH credentials and any
 * other secret a function needs (webhook and Slack signing secrets). Errors name the parameter,
 * never its value; callers say what the secret was for ("cannot read X from " + message).
 */
import { SticklerError } from '../../domain/errors';
import type { Clock } from '../../ports/clock';
import { type AwsCall, AwsError } from '../aws/aws-json-client';

export class SecretUnavailableError extends SticklerError {}

export interface SsmSecretOptions {
  /** An SSM client (makeAwsJsonClient with SSM). */
  ssm: AwsCall;
  parameterName: string;
  clock: Clock;
  /** How long a value read is served from memory (default 5 minutes). */
  cacheMs?: number;
}

/** Returns a loader: the parameter's decrypted value, read at most once per `cacheMs`. */
export const makeSsmSecret = (options: SsmSecretOptions): (() => Promise<string>) => {
  let cached: { value: Promise<string>; until: number } | undefined;
  const load = async (): Promise<string> => {
    let value: string | undefined;
    try {
      const answer = await options.ssm<{ Parameter?: { Value?: string } }>('GetParameter', {
        Name: options.parameterName,
        WithDecryption: true,
      });
      value = answer.Parameter?.Value;
    } catch (cause) {
      throw new SecretUnavailableError(
        'secret-unavailable',
        `SSM parameter ${options.parameterName}: ${cause instanceof AwsError ? cause.message : (cause as Error).name}`,
        // SSM throttled or unreachable: the same read may go through later; a missing
        // parameter or a denied read will not.
        { cause, retryable: cause instanceof AwsError ? cause.retryable : true },
      );
    }
    if (!value)
      throw new SecretUnavailableError('secret-empty', `SSM parameter ${options.parameterName} has no value`);
    return value;
  };
  return () => {
    const now = options.clock.now().getTime();
    if (!cached || cached.until <= now) {
      const value = load();
      cached = { value, until: now + (options.cacheMs ?? 5 * 60_000) };
      value.catch(() => {
        cached = undefined; // never cache a failure
      });
    }
    return cached.value;
  };
};

/** True when the error says the parameter does not exist (a secret not configured, not an outage). */
export const isMissingParameter = (error: unknown): boolean =>
  error instanceof SecretUnavailableError &&
  error.cause instanceof AwsError &&
  error.cause.code === 'ParameterNotFound';
