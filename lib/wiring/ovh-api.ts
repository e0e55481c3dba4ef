/**
 * The OVH API as every function reaches it: credentials from an SSM SecureString in deployed
 * stages (cached), from OVH_* variables in the `local` stage only; one concurrency limit and a
 * timeout per call.
 */
import { awsJsonClientFromEnv, SSM } from '../adapters/aws/aws-json-client';
import { ovhConfigFromEnv } from '../adapters/ovh/config';
import { OvhHttpClient } from '../adapters/ovh/http-client';
import { OvhLoadBalancerApi } from '../adapters/ovh/ovh-load-balancer-api';
import { makeSsmCredentialsLoader } from '../adapters/ssm/ovh-credentials';
import { systemClock } from '../ports/clock';
import type { LoadBalancerApi } from '../ports/load-balancer-api';

export interface OvhApiSettings {
  baseUrl: string;
  /** SSM SecureString with the credentials; undefined in the `local` stage only. */
  credentialsParameter: string | undefined;
  concurrency: number;
  timeoutMs: number;
}

export const ovhApiFromEnv = (env: NodeJS.ProcessEnv, settings: OvhApiSettings): LoadBalancerApi =>
  new OvhLoadBalancerApi(ovhClientFromEnv(env, settings));

/** The signed OVH client itself, for a function that reads more than farms through it (traffic). */
export const ovhClientFromEnv = (env: NodeJS.ProcessEnv, settings: OvhApiSettings): OvhHttpClient => {
  const credentials = settings.credentialsParameter
    ? makeSsmCredentialsLoader({
        ssm: awsJsonClientFromEnv(SSM, env, { timeoutMs: 10_000 }),
        parameterName: settings.credentialsParameter,
        clock: systemClock,
      })
    : ovhConfigFromEnv(env).credentials;
  return new OvhHttpClient({
    baseUrl: settings.baseUrl,
    credentials,
    concurrency: settings.concurrency,
    // Fewer calls in flight when OVH throttles or fails, back up to the setting when it recovers.
    adaptive: { initial: settings.concurrency },
    timeoutMs: settings.timeoutMs,
  });
};
