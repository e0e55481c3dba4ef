import { resolveOAuth2TokenUrl } from '../../../lib/adapters/ovh/endpoint';
import { OvhApiError } from '../../../lib/adapters/ovh/errors';
import { OvhHttpClient } from '../../../lib/adapters/ovh/http-client';
import { OAuth2TokenSource, usableForMs } from '../../../lib/adapters/ovh/oauth2';
import { ConfigError } from '../../../lib/domain/errors';

const SECRET = 'sa-secret-7f3a9c21-do-not-print';
const account = { clientId: 'EU.sa-client-1', clientSecret: SECRET };
const TOKEN_URL = 'https://www.ovh.com/auth/oauth2/token';

/** A clock the test moves by hand. */
const manualClock = () => {
  let now = 1_800_000_000_000;
  return {
    now: () => new Date(now),
    sleep: async (ms: number) => {
      now += ms;
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
};

interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * A fetch standing for OVH: the token URL answers `token(n)` for its nth call, the API answers
 * `api(n, authorization)` for its nth call. Every request is kept.
 */
const fakeOvh = (options: {
  token?: (n: number) => Response | Promise<Response>;
  api?: (n: number, authorization: string | undefined) => Response;
}) => {
  const seen: Seen[] = [];
  let tokens = 0;
  let calls = 0;
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    const url = String(input);
    seen.push({ url, method: init?.method ?? 'GET', headers, body: String(init?.body ?? '') });
    if (url === TOKEN_URL) {
      tokens++;
      return (
        options.token?.(tokens) ??
        Response.json({ access_token: `tok-${tokens}`, token_type: 'Bearer', expires_in: 3600, scope: 'all' })
      );
    }
    calls++;
    return options.api?.(calls, headers.authorization) ?? Response.json(['loadbalancer-aaa']);
  }) as typeof fetch;
  return {
    fetch: fetchImpl,
    seen,
    get tokenCalls() {
      return tokens;
    },
    get apiCalls() {
      return calls;
    },
  };
};

const unauthorized = () =>
  Response.json(
    {
      errorCode: 'INVALID_CREDENTIAL',
      httpCode: '401 Unauthorized',
      message: 'This credential is not valid',
    },
    { status: 401 },
  );

const clientWith = (ovh: ReturnType<typeof fakeOvh>, clock = manualClock()) =>
  new OvhHttpClient({
    baseUrl: 'https://eu.api.ovh.com/1.0',
    credentials: account,
    oauth2TokenUrl: TOKEN_URL,
    fetch: ovh.fetch,
    clock,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
  });

/** Everything an error carries, as a log or a caller could print it. */
const everything = (error: unknown) =>
  [
    String(error),
    (error as Error).stack,
    JSON.stringify(error),
    JSON.stringify((error as Error).cause ?? null),
  ].join('\n');

describe('OAuth2 token URLs', () => {
  it.each([
    ['https://eu.api.ovh.com/1.0', 'https://www.ovh.com/auth/oauth2/token'],
    ['https://ca.api.ovh.com/1.0', 'https://ca.ovh.com/auth/oauth2/token'],
    ['https://api.us.ovhcloud.com/1.0', 'https://us.ovhcloud.com/auth/oauth2/token'],
    ['http://127.0.0.1:4321/1.0', 'http://127.0.0.1:4321/auth/oauth2/token'],
  ])('uses the token URL OVH defines for %s', (baseUrl, tokenUrl) => {
    expect(resolveOAuth2TokenUrl(baseUrl, undefined)).toBe(tokenUrl);
  });

  it('takes OVH_OAUTH2_TOKEN_URL for a base-URL endpoint', () => {
    expect(resolveOAuth2TokenUrl('https://proxy.example/1.0', 'https://auth.example/oauth2/token')).toBe(
      'https://auth.example/oauth2/token',
    );
  });

  it.each(['https://eu.api.kimsufi.com/1.0', 'https://ca.api.soyoustart.com/1.0'])(
    'refuses %s, which offers no service accounts',
    (baseUrl) => {
      expect(() => resolveOAuth2TokenUrl(baseUrl, undefined)).toThrow(/offers no OVH service accounts/);
    },
  );

  it('refuses a token URL that would carry the client secret in clear text (http to another machine)', () => {
    expect(() =>
      resolveOAuth2TokenUrl('https://proxy.example/1.0', 'http://192.0.2.2:8080/auth/oauth2/token'),
    ).toThrow(
      /must use https \(http only to this machine\): http:\/\/192\.0\.2\.2:8080 would receive the client secret in clear text/,
    );
    expect(() => resolveOAuth2TokenUrl('http://ovh-proxy.example/1.0', undefined)).toThrow(/must use https/);
    expect(resolveOAuth2TokenUrl('https://proxy.example/1.0', 'http://localhost:9/t')).toBe(
      'http://localhost:9/t',
    );
  });

  it('refuses a token URL carrying a query string, without quoting it', () => {
    const run = () =>
      resolveOAuth2TokenUrl('https://eu.api.ovh.com/1.0', 'https://auth.example/t?secret=S3CR3T');
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(/must not carry/);
    expect(run).not.toThrow(/S3CR3T/);
  });
});

describe('OAuth2TokenSource', () => {
  it('asks as OVH clients do: POST, Basic client credentials, grant_type=client_credentials and scope=all', async () => {
    const ovh = fakeOvh({});
    const tokens = new OAuth2TokenSource({ tokenUrl: TOKEN_URL, fetch: ovh.fetch, clock: manualClock() });
    await expect(tokens.token(account, 1_000)).resolves.toBe('tok-1');
    const [request] = ovh.seen;
    expect(request).toMatchObject({
      url: TOKEN_URL,
      method: 'POST',
      body: 'grant_type=client_credentials&scope=all',
    });
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const basic = request!.headers.authorization!.replace(/^Basic /, '');
    expect(Buffer.from(basic, 'base64').toString()).toBe(`${account.clientId}:${SECRET}`);
  });

  it('keeps a token until shortly before it expires, then fetches another', async () => {
    const clock = manualClock();
    const ovh = fakeOvh({});
    const tokens = new OAuth2TokenSource({ tokenUrl: TOKEN_URL, fetch: ovh.fetch, clock });
    await tokens.token(account, 1_000);
    clock.advance(3_600_000 - 60_001); // a minute before its hour is over: still used
    await expect(tokens.token(account, 1_000)).resolves.toBe('tok-1');
    clock.advance(1);
    await expect(tokens.token(account, 1_000)).resolves.toBe('tok-2');
    expect(ovh.tokenCalls).toBe(2);
  });

  it('keeps a short-lived token for nine tenths of its life', () => {
    expect(usableForMs(10)).toBe(9_000);
    expect(usableForMs(3600)).toBe(3_540_000);
    expect(usableForMs(0)).toBe(0);
    expect(usableForMs(undefined)).toBeUndefined();
  });

  it('fetches one token for calls that need one at the same time', async () => {
    const ovh = fakeOvh({});
    const tokens = new OAuth2TokenSource({ tokenUrl: TOKEN_URL, fetch: ovh.fetch, clock: manualClock() });
    const got = await Promise.all([1, 2, 3, 4].map(() => tokens.token(account, 1_000)));
    expect(got).toEqual(['tok-1', 'tok-1', 'tok-1', 'tok-1']);
    expect(ovh.tokenCalls).toBe(1);
  });

  it('never gives a token to other credentials (a rotated secret)', async () => {
    const ovh = fakeOvh({});
    const tokens = new OAuth2TokenSource({ tokenUrl: TOKEN_URL, fetch: ovh.fetch, clock: manualClock() });
    await tokens.token(account, 1_000);
    await expect(tokens.token({ ...account, clientSecret: 'rotated' }, 1_000)).resolves.toBe('tok-2');
  });

  it('never shows the Basic credentials a server echoes back, in either encoding', async () => {
    const basic = (id: string, secret: string) => Buffer.from(`${id}:${secret}`).toString('base64');
    const ovh = fakeOvh({
      token: () =>
        Response.json(
          {
            error: 'invalid_client',
            error_description: `got ${ovh.seen.at(-1)!.headers.authorization} and ${basic(account.clientId, SECRET)}`,
          },
          { status: 401 },
        ),
    });
    const tokens = new OAuth2TokenSource({ tokenUrl: TOKEN_URL, fetch: ovh.fetch, clock: manualClock() });
    const error = await tokens.token(account, 1_000).catch((e: unknown) => e);
    expect((error as Error).message).toContain('got Basic [credentials] and [credentials]');
    expect(everything(error)).not.toContain(basic(account.clientId, SECRET));
  });

  it('says what to check when OVH refuses the credentials, never the secret, even echoed back', async () => {
    const ovh = fakeOvh({
      token: () =>
        Response.json(
          {
            error: 'invalid_client',
            error_description: `client ${account.clientId} with secret ${SECRET} unknown`,
          },
          { status: 401 },
        ),
    });
    const tokens = new OAuth2TokenSource({ tokenUrl: TOKEN_URL, fetch: ovh.fetch, clock: manualClock() });
    const error = await tokens
      .token({ ...account, source: 'SSM parameter /stickler/prod/ovh-service-account' }, 1_000)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OvhApiError);
    expect(error).toMatchObject({ code: 'credentials-refused', status: 401, retryable: false });
    expect((error as Error).message).toContain('invalid_client');
    expect((error as Error).message).toContain('SSM parameter /stickler/prod/ovh-service-account');
    expect((error as Error).message).toContain(TOKEN_URL);
    expect(everything(error)).not.toContain(SECRET);
    // A failure is not kept: the next call asks again.
    await tokens.token(account, 1_000).catch(() => undefined);
    expect(ovh.tokenCalls).toBe(2);
  });

  it('gives up on a token URL that does not answer within the timeout, retryable', async () => {
    const ovh = fakeOvh({});
    const hanging = (async (_input: unknown, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal!.reason));
      })) as typeof fetch;
    const tokens = new OAuth2TokenSource({ tokenUrl: TOKEN_URL, fetch: hanging, clock: manualClock() });
    const started = Date.now();
    const error = await tokens.token(account, 50).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toMatchObject({ code: 'timeout', retryable: true });
    expect((error as Error).message).toContain('no answer from the OAuth2 token URL within 50 ms');
    expect(ovh.tokenCalls).toBe(0);
  });

  it('refuses an answer without a bearer token, without quoting it', async () => {
    const ovh = fakeOvh({ token: () => Response.json({ access_token: 'mac-token', token_type: 'mac' }) });
    const tokens = new OAuth2TokenSource({ tokenUrl: TOKEN_URL, fetch: ovh.fetch, clock: manualClock() });
    const error = await tokens.token(account, 1_000).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'bad-response', retryable: false });
    expect((error as Error).message).not.toContain('mac-token');
  });
});

describe('OvhHttpClient with a service account', () => {
  it('sends the token as Authorization: Bearer, with no signature and no /auth/time', async () => {
    const ovh = fakeOvh({});
    await clientWith(ovh).get('/ipLoadbalancing');
    const apiCall = ovh.seen.find((r) => r.url.startsWith('https://eu.api.ovh.com'))!;
    expect(apiCall.headers.authorization).toBe('Bearer tok-1');
    expect(Object.keys(apiCall.headers).filter((h) => h.startsWith('x-ovh-'))).toEqual([]);
    expect(ovh.seen.map((r) => r.url)).not.toContain('https://eu.api.ovh.com/1.0/auth/time');
  });

  it('on a 401 fetches a new token once and repeats the call once, a POST included', async () => {
    const ovh = fakeOvh({ api: (n) => (n === 1 ? unauthorized() : Response.json({ id: 1 })) });
    await expect(clientWith(ovh).post('/ipLoadbalancing/lb/refresh', { zone: 'gra' })).resolves.toEqual({
      id: 1,
    });
    expect(ovh.tokenCalls).toBe(2);
    expect(ovh.apiCalls).toBe(2);
    const auths = ovh.seen.filter((r) => r.url.includes('/refresh')).map((r) => r.headers.authorization);
    expect(auths).toEqual(['Bearer tok-1', 'Bearer tok-2']);
  });

  it('does not loop when every token is refused: two tokens, two attempts, then an error saying what to check', async () => {
    const ovh = fakeOvh({ api: () => unauthorized() });
    const error = await clientWith(ovh)
      .get('/ipLoadbalancing')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 401, errorCode: 'INVALID_CREDENTIAL', retryable: false });
    expect((error as Error).message).toContain('a new access token was refused too');
    expect(ovh.tokenCalls).toBe(2);
    expect(ovh.apiCalls).toBe(2);
    expect(everything(error)).not.toContain(SECRET);
  });

  it('renews once per call: a later call may renew again', async () => {
    const ovh = fakeOvh({ api: (n) => (n === 1 || n === 3 ? unauthorized() : Response.json([])) });
    const client = clientWith(ovh);
    await client.get('/ipLoadbalancing');
    await client.get('/ipLoadbalancing');
    expect(ovh.tokenCalls).toBe(3);
    expect(ovh.apiCalls).toBe(4);
  });

  it('retries a token URL failing with a 503 as it retries the API, then goes on', async () => {
    const ovh = fakeOvh({
      token: (n) =>
        n === 1
          ? new Response('<html>maintenance</html>', { status: 503 })
          : Response.json({ access_token: 'tok-ok', token_type: 'Bearer', expires_in: 60 }),
    });
    await expect(clientWith(ovh).get('/ipLoadbalancing')).resolves.toEqual(['loadbalancer-aaa']);
    expect(ovh.tokenCalls).toBe(2);
  });

  it('gives each call that waited on one failing token fetch its own error', async () => {
    const ovh = fakeOvh({ token: () => new Response('down', { status: 503 }) });
    const client = clientWith(ovh);
    const errors = await Promise.all(
      [1, 2, 3].map(() => client.get('/ipLoadbalancing').catch((e: unknown) => e as OvhApiError)),
    );
    for (const error of errors) {
      expect(error).toBeInstanceOf(OvhApiError);
      expect(error).toMatchObject({ code: 'server-error', status: 503, retryable: true });
      expect((error as Error).message.match(/gave up after/g)).toHaveLength(1);
    }
    expect(new Set(errors).size).toBe(3);
    expect(ovh.apiCalls).toBe(0);
  });

  it('fails at once, without calling the API, when the credentials are refused', async () => {
    const ovh = fakeOvh({
      token: () =>
        Response.json({ error: 'invalid_client', error_description: 'no such client' }, { status: 400 }),
    });
    const error = await clientWith(ovh)
      .get('/ipLoadbalancing')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'credentials-refused' });
    expect(ovh.tokenCalls).toBe(1);
    expect(ovh.apiCalls).toBe(0);
    expect(everything(error)).not.toContain(SECRET);
  });

  it('refuses a service account without a token URL (an endpoint that offers none), sending nothing', async () => {
    const ovh = fakeOvh({});
    const client = new OvhHttpClient({
      baseUrl: 'https://eu.api.kimsufi.com/1.0',
      credentials: account,
      fetch: ovh.fetch,
    });
    await expect(client.get('/ipLoadbalancing')).rejects.toThrow(/has no OAuth2 token URL/);
    expect(ovh.seen).toEqual([]);
  });

  it('refuses a client secret with a line break before sending anything, never quoting it', async () => {
    const ovh = fakeOvh({});
    const client = new OvhHttpClient({
      baseUrl: 'https://eu.api.ovh.com/1.0',
      credentials: async () => ({ clientId: 'id', clientSecret: `${SECRET}\n` }),
      oauth2TokenUrl: TOKEN_URL,
      fetch: ovh.fetch,
    });
    const error = await client.get('/ipLoadbalancing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('the OVH service account client secret holds a character');
    expect(everything(error)).not.toContain(SECRET);
    expect(ovh.seen).toEqual([]);
  });
});
