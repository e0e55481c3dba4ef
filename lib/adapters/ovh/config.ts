/**
 * OVH settings from the environment, with the names OVH's SDKs and Terraform provider use: an
 * application key (`OVH_APPLICATION_KEY`, `OVH_APPLICATION_SECRET`, `OVH_CONSUMER_KEY`) or a
 * service account (`OVH_CLIENT_ID`, `OVH_CLIENT_SECRET`), never both, as go-ovh and python-ovh
 * refuse both.
 */
import { ConfigError } from '../../domain/errors';
import { resolveEndpoint, resolveOAuth2TokenUrl } from './endpoint';
import { type ApplicationKeyCredentials, credentialProblem, type OvhCredentials } from './http-client';

export interface OvhConfig {
  baseUrl: string;
  credentials: OvhCredentials;
  /** The service account's token URL (with a service account only). */
  oauth2TokenUrl?: string;
}

const APPLICATION_KEY = {
  applicationKey: 'OVH_APPLICATION_KEY',
  applicationSecret: 'OVH_APPLICATION_SECRET',
  consumerKey: 'OVH_CONSUMER_KEY',
} as const satisfies Record<keyof ApplicationKeyCredentials, string>;

const SERVICE_ACCOUNT = { clientId: 'OVH_CLIENT_ID', clientSecret: 'OVH_CLIENT_SECRET' } as const;

const WHERE =
  "or write them in ovh.conf (./ovh.conf, ~/.ovh.conf or /etc/ovh.conf, as OVH's own clients read them), or run against the local simulator (see 'stickler simulate')";

/** A variable's value, trimmed, checked before any use: a line break would go into a header. Never quoted. */
const read = (env: NodeJS.ProcessEnv, name: string): string => {
  const value = env[name]!.trim();
  const problem = credentialProblem(value);
  if (problem)
    throw new ConfigError(`${name} ${problem} (its value is not shown): set it again, as OVH gave it`);
  return value;
};

export const ovhConfigFromEnv = (env: NodeJS.ProcessEnv): OvhConfig => {
  const set = (name: string) => Boolean(env[name]?.trim());
  const keyNames = Object.values(APPLICATION_KEY).filter(set);
  const accountNames = Object.values(SERVICE_ACCOUNT).filter(set);
  if (keyNames.length > 0 && accountNames.length > 0)
    throw new ConfigError(
      `both kinds of OVH credentials are set (${[...accountNames, ...keyNames].join(', ')}, from the environment or ovh.conf): use a service account (OVH_CLIENT_ID and OVH_CLIENT_SECRET) or an application key (OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET, OVH_CONSUMER_KEY), and unset the other, as OVH's own clients require`,
    );
  const baseUrl = resolveEndpoint(env.OVH_ENDPOINT);
  if (accountNames.length > 0) {
    const missing = Object.values(SERVICE_ACCOUNT).filter((name) => !set(name));
    if (missing.length > 0)
      throw new ConfigError(`incomplete OVH service account: set ${missing.join(' and ')} too, ${WHERE}`);
    return {
      baseUrl,
      credentials: {
        clientId: read(env, SERVICE_ACCOUNT.clientId),
        clientSecret: read(env, SERVICE_ACCOUNT.clientSecret),
        source: 'OVH_CLIENT_ID and OVH_CLIENT_SECRET, or client_id and client_secret in ovh.conf',
      },
      oauth2TokenUrl: resolveOAuth2TokenUrl(baseUrl, env.OVH_OAUTH2_TOKEN_URL),
    };
  }
  const missing = Object.values(APPLICATION_KEY).filter((name) => !set(name));
  if (missing.length > 0) {
    throw new ConfigError(
      keyNames.length === 0
        ? `missing OVH credentials: set OVH_CLIENT_ID and OVH_CLIENT_SECRET (a service account), or ${Object.values(APPLICATION_KEY).join(', ')} (an application key), ${WHERE}`
        : `missing OVH credentials: set ${missing.join(', ')}, ${WHERE}`,
    );
  }
  return {
    baseUrl,
    credentials: {
      applicationKey: read(env, APPLICATION_KEY.applicationKey),
      applicationSecret: read(env, APPLICATION_KEY.applicationSecret),
      consumerKey: read(env, APPLICATION_KEY.consumerKey),
    },
  };
};
