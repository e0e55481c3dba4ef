import { resolveOAuth2TokenUrl } from '../../lib/adapters/ovh/endpoint';
import { OvhApiError } from '../../lib/adapters/ovh/errors';
import { OvhHttpClient } from '../../lib/adapters/ovh/http-client';
import { OvhLoadBalancerApi } from '../../lib/adapters/ovh/ovh-load-balancer-api';
import { SIMULATOR_SERVICE_ACCOUNT, type SimulatorOptions } from '../../lib/simulator/server';
import { type SimulatorHarness, startHarness } from '../helpers/simulator';

/** The simulator with two clients over HTTP: a service account's (client, api) and the application key's (signed). */
const startWithAccount = async (
  options: Partial<SimulatorOptions> = {},
  account = SIMULATOR_SERVICE_ACCOUNT,
) => {
  const signed = await startHarness(options);
  // OVH_ENDPOINT's origin serves the token URL, as resolveOAuth2TokenUrl defaults for a base URL.
  const client = new OvhHttpClient({
    baseUrl: signed.sim.baseUrl,
    credentials: account,
    oauth2TokenUrl: resolveOAuth2TokenUrl(signed.sim.baseUrl, undefined),
    timeoutMs: 2_000,
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
  });
  return { ...signed, client, api: new OvhLoadBalancerApi(client), signed: signed.api };
};

describe('the simulator serves OVH service accounts (OAuth2 client credentials)', () => {
  let h: (SimulatorHarness & { signed: OvhLoadBalancerApi }) | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('issues a token at <origin>/auth/oauth2/token and accepts it as Authorization: Bearer', async () => {
    h = await startWithAccount();
    await expect(h.api.listServices()).resolves.toEqual(['loadbalancer-aaa', 'loadbalancer-bbb']);
    await h.api.setStickiness({ service: 'loadbalancer-aaa', type: 'http', farmId: 2 }, 'cookie');
    expect(h.sim.stats.calls['oauth2-token']).toBe(1);
    expect(h.sim.stats.calls['auth-time']).toBe(0);
    expect(h.sim.tokens.issued).toBe(1);
  });

  it('answers a token with an expiry, settable short', async () => {
    h = await startWithAccount({ tokenLifetimeSeconds: 2 });
    const origin = new URL(h.sim.baseUrl).origin;
    const basic = Buffer.from(
      `${SIMULATOR_SERVICE_ACCOUNT.clientId}:${SIMULATOR_SERVICE_ACCOUNT.clientSecret}`,
    ).toString('base64');
    const answer = await fetch(`${origin}/auth/oauth2/token`, {
      method: 'POST',
      headers: { Authorization: `Basic ${basic}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=all',
    });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ token_type: 'Bearer', expires_in: 2, scope: 'all' });
  });

  it('refuses an expired token with a 401, and the client fetches a new one once and goes on', async () => {
    h = await startWithAccount();
    await h.api.listServices();
    h.sim.tokens.expireAll();
    await expect(h.api.listZones('loadbalancer-aaa')).resolves.toEqual(['gra', 'sbg']);
    expect(h.sim.stats.calls['oauth2-token']).toBe(2);
    expect(h.sim.stats.rejected.auth).toBe(1);
  });

  it('refuses an unknown client with OAuth2 invalid_client, and the client says what to check', async () => {
    h = await startWithAccount({}, { clientId: 'nobody', clientSecret: 'wrong-sa-secret' });
    const error = await h.api.listServices().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OvhApiError);
    expect(error).toMatchObject({ code: 'credentials-refused', status: 401, retryable: false });
    expect((error as Error).message).toContain('invalid_client');
    expect((error as Error).message).not.toContain('wrong-sa-secret');
    expect(h.sim.stats.calls['list-services']).toBe(0);
  });

  it("refuses an unknown bearer token with OVH's auth error body, and still accepts signed requests", async () => {
    h = await startWithAccount();
    const answer = await fetch(`${h.sim.baseUrl}/ipLoadbalancing`, {
      headers: { Authorization: 'Bearer forged' },
    });
    expect(answer.status).toBe(401);
    expect(await answer.json()).toEqual({
      errorCode: 'INVALID_CREDENTIAL',
      httpCode: '401 Unauthorized',
      message: 'This credential is not valid',
    });
    await expect(h.signed.listServices()).resolves.toHaveLength(2);
  });

  it("holds a service account's calls to the same access rules", async () => {
    h = await startWithAccount();
    const error = await h.client
      .request('DELETE', '/ipLoadbalancing/loadbalancer-aaa/http/farm/1')
      .catch((e) => e);
    expect(error).toMatchObject({ status: 403, errorCode: 'NOT_GRANTED_CALL' });
  });
});
