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
