/**
 * The OVH API as every function reaches it: credentials from SSM SecureStrings in deployed
 * stages (cached; an application key or a service account, whichever parameter exists), from
 * OVH_* variables in the `local` stage only; one concurrency limit and a timeout per call.
 */
import { awsJsonClientFromEnv, SSM } from '../adapters/aws/aws-json-client';
import { ovhConfigFromEnv } from '../adapters/ovh/config';
import { resolveOAuth2TokenUrl } from '../adapters/ovh/endpoint';
import { OvhHttpClient } from '../adapters/ovh/http-client';
import { OvhLoadBalancerApi } from '../adapters/ovh/ovh-load-balancer-api';
import { makeSsmOvhCredentialsLoader, type OvhCredentialParameters } from '../adapters/ssm/ovh-credentials';
import { ConfigError } from '../domain/errors';
import { systemClock } from '../ports/clock';
import type { LoadBalancerApi } from '../ports/load-balancer-api';

export interface OvhApiSettings {
  baseUrl: string;
  /** SSM SecureStrings with the credentials; undefined in the `local` stage only. */
  credentialsParameters: OvhCredentialParameters | undefined;
  concurrency: number;
  timeoutMs: number;
}

/** The SSM parameters named by OVH_CREDENTIALS_PARAMETER and OVH_SERVICE_ACCOUNT_PARAMETER (the latter optional). */
export const ovhCredentialParametersFromEnv = (env: NodeJS.ProcessEnv): OvhCredentialParameters => {
  const applicationKey = env.OVH_CREDENTIALS_PARAMETER?.trim();
  if (!applicationKey)
    throw new ConfigError(
      'OVH_CREDENTIALS_PARAMETER is not set: deployed stages read OVH credentials from SSM only',
    );
  const serviceAccount = env.OVH_SERVICE_ACCOUNT_PARAMETER?.trim();
  return { applicationKey, ...(serviceAccount ? { serviceAccount } : {}) };
};

/** The token URL a service account would use here, or undefined where OVH offers none (the error says so when one is used). */
const tokenUrlOrNone = (baseUrl: string, env: NodeJS.ProcessEnv): string | undefined => {
  try {
    return resolveOAuth2TokenUrl(baseUrl, env.OVH_OAUTH2_TOKEN_URL);
  } catch (error) {
    if (env.OVH_OAUTH2_TOKEN_URL?.trim()) throw error; // a malformed setting is refused at once
    return undefined;
  }
};

export const ovhApiFromEnv = (env: NodeJS.ProcessEnv, settings: OvhApiSettings): LoadBalancerApi =>
  new OvhLoadBalancerApi(ovhClientFromEnv(env, settings));

/** The OVH client itself, for a function that reads more than farms through it (traffic). */
export const ovhClientFromEnv = (env: NodeJS.ProcessEnv, settings: OvhApiSettings): OvhHttpClient => {
  const local = settings.credentialsParameters ? undefined : ovhConfigFromEnv(env);
  const credentials = settings.credentialsParameters
    ? makeSsmOvhCredentialsLoader({
        ssm: awsJsonClientFromEnv(SSM, env, { timeoutMs: 10_000 }),
        parameters: settings.credentialsParameters,
        clock: systemClock,
      })
    : local!.credentials;
  const oauth2TokenUrl = local ? local.oauth2TokenUrl : tokenUrlOrNone(settings.baseUrl, env);
  return new OvhHttpClient({
    baseUrl: settings.baseUrl,
    credentials,
    ...(oauth2TokenUrl ? { oauth2TokenUrl } : {}),
    concurrency: settings.concurrency,
    // Fewer calls in flight when OVH throttles or fails, back up to the setting when it recovers.
    adaptive: { initial: settings.concurrency },
    timeoutMs: settings.timeoutMs,
  });
};
