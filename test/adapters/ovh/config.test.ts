import { ovhConfigFromEnv } from '../../../lib/adapters/ovh/config';
import { OvhHttpClient } from '../../../lib/adapters/ovh/http-client';
import { ConfigError } from '../../../lib/domain/errors';

const env = {
  OVH_ENDPOINT: 'ovh-eu',
  OVH_APPLICATION_KEY: 'AK-1234',
  OVH_APPLICATION_SECRET: 'AS-5678',
  OVH_CONSUMER_KEY: 'CK-9abc',
};

const refusal = (run: () => unknown): Error => {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a refusal');
};

describe('ovhConfigFromEnv', () => {
  it('reads the credentials, trimmed, and the endpoint', () => {
    expect(ovhConfigFromEnv({ ...env, OVH_CONSUMER_KEY: ' CK-9abc\n' })).toEqual({
      baseUrl: 'https://eu.api.ovh.com/1.0',
      credentials: { applicationKey: 'AK-1234', applicationSecret: 'AS-5678', consumerKey: 'CK-9abc' },
    });
  });

  it.each([
    'https://eu.api.ovh.com/1.0?x=SECRET',
    'https://eu.api.ovh.com/1.0#SECRET',
    'https://eu.api.ovh.com/1.0?',
  ])('refuses an endpoint with a query string or a fragment, without quoting it: %s', (endpoint) => {
    const error = refusal(() => ovhConfigFromEnv({ ...env, OVH_ENDPOINT: endpoint }));
    expect(error.message).toContain('OVH_ENDPOINT must not carry a query string or a fragment');
    expect(error.message).not.toContain('SECRET');
  });

  it.each([
    ['OVH_CONSUMER_KEY', 'CK-9abc\r\nX-Evil: 1'],
    ['OVH_APPLICATION_KEY', 'AK-\u001b[2J'],
    ['OVH_APPLICATION_SECRET', 'AS-clé'],
    ['OVH_CONSUMER_KEY', 'CK-\u202eabc'],
  ])(
    'refuses %s with a character that cannot go into a header, naming it but never its value',
    (name, value) => {
      const error = refusal(() => ovhConfigFromEnv({ ...env, [name]: value }));
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toContain(`${name} holds a character that is not printable ASCII`);
      expect(error.message).not.toContain(value.trim());
      expect(error.message).not.toContain(value.slice(0, 5));
    },
  );
});

describe('OvhHttpClient credentials', () => {
  it('refuses loaded credentials with a line break before sending anything, without quoting them', async () => {
    let sent = 0;
    const client = new OvhHttpClient({
      baseUrl: 'https://eu.api.ovh.com/1.0',
      credentials: async () => ({
        applicationKey: 'AK-1234',
        applicationSecret: 'AS-5678',
        consumerKey: 'CK-SECRET-9abc\nX-Evil: 1',
      }),
      fetch: async (input) => {
        sent++;
        // /auth/time is unauthenticated: answered, so that only the signed call is refused.
        if (String(input).endsWith('/auth/time')) return new Response('1800000000');
        return new Response('[]');
      },
    });
    const error = await client.get('/ipLoadbalancing').catch((e: Error) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(
      'the OVH consumer key holds a character that is not printable ASCII',
    );
    expect((error as Error).message).not.toContain('CK-SECRET');
    expect(sent).toBe(0); // checked before anything, the clock offset included
  });

  it('never repeats the message of a request fetch refuses to build (it quotes the header value)', async () => {
    const client = new OvhHttpClient({
      baseUrl: 'https://eu.api.ovh.com/1.0',
      credentials: { applicationKey: 'AK', applicationSecret: 'AS', consumerKey: 'CK' },
      fetch: async () => {
        throw new TypeError('Headers.append: "SECRET-VALUE\nX" is an invalid header value.');
      },
    });
    const error = await client.request('GET', '/auth/time', { unauthenticated: true }).catch((e: Error) => e);
    expect(error).toMatchObject({ code: 'bad-request', retryable: false });
    expect((error as Error).message).not.toContain('SECRET-VALUE');
  });
});

describe('OvhHttpClient settings', () => {
  it.each([3_000_000_000, -1, 0, 2.5])('refuses a timeout per call of %p ms when built', (timeoutMs) => {
    expect(
      () =>
        new OvhHttpClient({
          baseUrl: 'https://eu.api.ovh.com/1.0',
          credentials: { applicationKey: 'AK', applicationSecret: 'AS', consumerKey: 'CK' },
          timeoutMs,
        }),
    ).toThrow(/timeout per call must be a whole number of ms from 1 to 2147483647/);
  });
});

describe('ovhConfigFromEnv with a service account', () => {
  const account = { OVH_ENDPOINT: 'ovh-ca', OVH_CLIENT_ID: 'CA.client-1', OVH_CLIENT_SECRET: 'SA-SECRET-42' };

  it("reads OVH_CLIENT_ID and OVH_CLIENT_SECRET, with the endpoint's token URL", () => {
    expect(ovhConfigFromEnv(account)).toEqual({
      baseUrl: 'https://ca.api.ovh.com/1.0',
      credentials: {
        clientId: 'CA.client-1',
        clientSecret: 'SA-SECRET-42',
        source: 'OVH_CLIENT_ID and OVH_CLIENT_SECRET, or client_id and client_secret in ovh.conf',
      },
      oauth2TokenUrl: 'https://ca.ovh.com/auth/oauth2/token',
    });
  });

  it('takes OVH_OAUTH2_TOKEN_URL for a base-URL endpoint, and the origin by default', () => {
    const base = { ...account, OVH_ENDPOINT: 'http://127.0.0.1:8080/1.0' };
    expect(ovhConfigFromEnv(base).oauth2TokenUrl).toBe('http://127.0.0.1:8080/auth/oauth2/token');
    expect(
      ovhConfigFromEnv({ ...base, OVH_OAUTH2_TOKEN_URL: 'https://auth.example/oauth2/token' }).oauth2TokenUrl,
    ).toBe('https://auth.example/oauth2/token');
  });

  it('refuses both kinds of credentials at once, naming the variables, never a value', () => {
    const error = refusal(() => ovhConfigFromEnv({ ...env, ...account }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('both kinds of OVH credentials are set');
    expect(error.message).toContain('OVH_CLIENT_ID');
    expect(error.message).toContain('OVH_APPLICATION_KEY');
    expect(error.message).not.toContain('SA-SECRET-42');
    expect(error.message).not.toContain('AS-5678');
  });

  it('refuses half a service account', () => {
    expect(() => ovhConfigFromEnv({ OVH_CLIENT_ID: 'id' })).toThrow(
      /incomplete OVH service account: set OVH_CLIENT_SECRET too/,
    );
  });

  it('names both kinds when no credentials are set', () => {
    expect(() => ovhConfigFromEnv({})).toThrow(
      /set OVH_CLIENT_ID and OVH_CLIENT_SECRET \(a service account\)/,
    );
  });

  it('refuses a service account on an endpoint without OAuth2', () => {
    expect(() => ovhConfigFromEnv({ ...account, OVH_ENDPOINT: 'https://eu.api.kimsufi.com/1.0' })).toThrow(
      /eu\.api\.kimsufi\.com offers no OVH service accounts/,
    );
  });
});
