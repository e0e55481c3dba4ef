/** OVH settings from the environment, with the names OVH's SDKs and Terraform provider use. */
import { ConfigError } from '../../domain/errors';
import { resolveEndpoint } from './endpoint';
import type { OvhCredentials } from './http-client';

export interface OvhConfig {
  baseUrl: string;
  credentials: OvhCredentials;
}

export const ovhConfigFromEnv = (env: NodeJS.ProcessEnv): OvhConfig => {
  const missing = ['OVH_APPLICATION_KEY', 'OVH_APPLICATION_SECRET', 'OVH_CONSUMER_KEY'].filter(
    (name) => !env[name]?.trim(),
  );
  if (missing.length > 0) {
    throw new ConfigError(
      `missing OVH credentials: set ${missing.join(', ')} (or run against the local simulator, see 'stickler simulate')`,
    );
  }
  return {
    baseUrl: resolveEndpoint(env.OVH_ENDPOINT),
    credentials: {
      applicationKey: env.OVH_APPLICATION_KEY!.trim(),
      applicationSecret: env.OVH_APPLICATION_SECRET!.trim(),
      consumerKey: env.OVH_CONSUMER_KEY!.trim(),
    },
  };
};
