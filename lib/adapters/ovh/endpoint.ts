/** OVH API endpoints by name, or any base URL (plain http is allowed for the local simulator). */
import { ConfigError } from '../../domain/errors';

export const OVH_ENDPOINTS = {
  'ovh-eu': 'https://eu.api.ovh.com/1.0',
  'ovh-ca': 'https://ca.api.ovh.com/1.0',
  'ovh-us': 'https://api.us.ovhcloud.com/1.0',
} as const;

export const resolveEndpoint = (value: string | undefined): string => {
  const name = (value ?? 'ovh-eu').trim();
  if (name in OVH_ENDPOINTS) return OVH_ENDPOINTS[name as keyof typeof OVH_ENDPOINTS];
  let url: URL;
  try {
    url = new URL(name);
  } catch {
    // Not quoted: a mistyped value may hold a secret.
    throw new ConfigError(
      `OVH_ENDPOINT must be one of ${Object.keys(OVH_ENDPOINTS).join(', ')} or an http(s) base URL`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(`OVH_ENDPOINT must use http or https, got '${url.protocol}'`);
  }
  if (url.username || url.password) {
    // Never echoed: the password is a secret, and OVH authenticates by signature, not by URL.
    throw new ConfigError(
      'OVH_ENDPOINT must not carry a user name or password (OVH signs each request instead)',
    );
  }
  if (url.search || url.hash || /[?#]/.test(name)) {
    // Not quoted either: a query string is where a token would be pasted. A base URL has none:
    // each call appends its path, and OVH signs the whole URL.
    throw new ConfigError(
      'OVH_ENDPOINT must not carry a query string or a fragment (a ? or a #): give the base URL only, ending with /1.0',
    );
  }
  if (!/\/1\.0\/?$/.test(url.pathname)) {
    throw new ConfigError(
      `OVH_ENDPOINT must end with the API version, /1.0 (for example https://eu.api.ovh.com/1.0), got '${url.origin}${url.pathname}'`,
    );
  }
  return url.toString().replace(/\/+$/, '');
};

/**
 * The OAuth2 token URL of each named endpoint, as OVH's official clients define them (go-ovh's
 * `tokensURLs`, python-ovh's `OAUTH2_TOKEN_URLS`), keyed by base URL.
 */
export const OVH_OAUTH2_TOKEN_URLS: Readonly<Record<string, string>> = {
  [OVH_ENDPOINTS['ovh-eu']]: 'https://www.ovh.com/auth/oauth2/token',
  [OVH_ENDPOINTS['ovh-ca']]: 'https://ca.ovh.com/auth/oauth2/token',
  [OVH_ENDPOINTS['ovh-us']]: 'https://us.ovhcloud.com/auth/oauth2/token',
};

/** OVH APIs that offer no service accounts (OVH's clients refuse OAuth2 there too). */
const WITHOUT_OAUTH2 = /(^|\.)(kimsufi|soyoustart)\.com$/i;

/**
 * Where a service account gets its access tokens for the API at `baseUrl`: the named endpoints'
 * own token URL; for any other base URL `OVH_OAUTH2_TOKEN_URL`, or `<origin>/auth/oauth2/token`.
 * `OVH_OAUTH2_TOKEN_URL` replaces a named endpoint's URL too (OVH may move it), but only with
 * another of OVH's own hosts: the client secret never goes elsewhere for OVH's API.
 */
export const resolveOAuth2TokenUrl = (baseUrl: string, override: string | undefined): string => {
  const api = new URL(baseUrl);
  if (WITHOUT_OAUTH2.test(api.hostname))
    throw new ConfigError(
      `${api.hostname} offers no OVH service accounts (OAuth2): use an application key and a consumer key there`,
    );
  const given = override?.trim();
  if (!given) return cleartextRefused(OVH_OAUTH2_TOKEN_URLS[baseUrl] ?? `${api.origin}/auth/oauth2/token`);
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new ConfigError(
      'OVH_OAUTH2_TOKEN_URL must be an http(s) URL, such as https://www.ovh.com/auth/oauth2/token',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new ConfigError(`OVH_OAUTH2_TOKEN_URL must use http or https, got '${url.protocol}'`);
  // Not quoted: user info, a query string or a fragment is where a secret would be pasted.
  if (url.username || url.password || url.search || url.hash || /[?#]/.test(given))
    throw new ConfigError(
      'OVH_OAUTH2_TOKEN_URL must not carry a user name, a password, a query string or a fragment: the client id and secret are sent apart',
    );
  const named = OVH_OAUTH2_TOKEN_URLS[baseUrl];
  if (named && !OVH_HOSTS.test(url.hostname))
    throw new ConfigError(
      `OVH_OAUTH2_TOKEN_URL must be one of OVH's hosts (ovh.com, ovhcloud.com, ovh.ca, ovh.us) for ${api.hostname}, whose token URL is ${named}: ${url.hostname} would receive the client secret; set it only for a base-URL endpoint`,
    );
  return cleartextRefused(url.toString());
};

/** OVH's own hosts, where a named endpoint's token URL may move. */
const OVH_HOSTS = /(^|\.)(ovh\.com|ovhcloud\.com|ovh\.ca|ovh\.us)$/i;

/**
 * The client secret goes to the token URL: over https, or over http to this machine only (the
 * simulator). Anything else would send it in clear text.
 */
const cleartextRefused = (tokenUrl: string): string => {
  const url = new URL(tokenUrl);
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  if (url.protocol === 'http:' && !loopback)
    throw new ConfigError(
      `a service account's token URL must use https (http only to this machine): ${url.origin} would receive the client secret in clear text; set OVH_OAUTH2_TOKEN_URL to an https URL`,
    );
  return tokenUrl;
};
