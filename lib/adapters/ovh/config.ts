/** OVH settings from the environment, with the names OVH's SDKs and Terraform provider use. */
import { ConfigError } from '../../domain/errors';
import { resolveEndpoint } from './endpoint';
import { credentialProblem, type OvhCredentials } from './http-client';

export interface OvhConfig {
  baseUrl: string;
  credentials: OvhCredentials;
}

const VARIABLES = {
  applicationKey: 'OVH_APPLICATION_KEY',
  applicationSecret: 'OVH_APPLICATION_SECRET',
  consumerKey: 'OVH_CONSUMER_KEY',
} as const satisfies Record<keyof OvhCredentials, string>;

export const ovhConfigFromEnv = (env: NodeJS.ProcessEnv): OvhConfig => {
  const missing = Object.values(VARIABLES).filter((name) => !env[name]?.trim());
  if (missing.length > 0) {
    throw new ConfigError(
      `missing OVH credentials: set ${missing.join(', ')}, or write them in ovh.conf (./ovh.conf, ~/.ovh.conf or /etc/ovh.conf, as OVH's own clients read them), or run against the local simulator (see 'stickler simulate')`,
    );
  }
  const credentials: OvhCredentials = {
    applicationKey: env.OVH_APPLICATION_KEY!.trim(),
    applicationSecret: env.OVH_APPLICATION_SECRET!.trim(),
    consumerKey: env.OVH_CONSUMER_KEY!.trim(),
  };
  // Checked before any use: a line break in a key would go into a request header. Never quoted.
  for (const field of Object.keys(VARIABLES) as (keyof OvhCredentials)[]) {
    const problem = credentialProblem(credentials[field]);
    if (problem)
      throw new ConfigError(
        `${VARIABLES[field]} ${problem} (its value is not shown): set it again, as OVH gave it`,
      );
  }
  return { baseUrl: resolveEndpoint(env.OVH_ENDPOINT), credentials };
};
