import { OvhHttpClient } from '../../../lib/adapters/ovh/http-client';
import { OvhMetricsTraffic, trafficQueries } from '../../../lib/adapters/ovh/ovh-metrics-traffic';
import {
  MAX_POINTS_PER_SERIES,
  makePrometheusClient,
  metricsBaseUrl,
  rangeStepSeconds,
} from '../../../lib/adapters/prometheus/prometheus-client';

const TOKEN = 'secret-metrics-token-123';
const AT = new Date('2026-12-07T15:02:30Z');
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const vector = (value: string) => ({
  status: 'success',
  data: { resultType: 'vector', result: [{ metric: {}, value: [AT.getTime() / 1000, value] }] },
});

interface Seen {
  url: URL;
  headers: Record<string, string>;
}

/** OVH and its metrics endpoint in one fetch: `prometheus` answers the Prometheus calls. */
const world = (
  prometheus: (url: URL) => Response | Promise<Response>,
  token: (n: number) => Response = () => json(200, { endpoint: 'https://metrics.example.net', token: TOKEN }),
) => {
  const seen: Seen[] = [];
  let tokens = 0;
  const fetchImpl = (async (input: string | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    seen.push({ url, headers: { ...(init?.headers as Record<string, string>) } });
    if (url.pathname === '/1.0/auth/time') return json(200, Math.floor(Date.now() / 1000));
    if (url.pathname.endsWith('/metricsToken')) return token(++tokens);
    return prometheus(url);
  }) as typeof fetch;
  const ovh = new OvhHttpClient({
    baseUrl: 'https://eu.api.ovh.com/1.0',
    credentials: { applicationKey: 'ak', applicationSecret: 'as', consumerKey: 'ck' },
    fetch: fetchImpl,
    retry: { maxAttempts: 1 },
  });
  return {
    traffic: new OvhMetricsTraffic(ovh, { fetch: fetchImpl, timeoutMs: 200 }),
    seen,
    tokens: () => tokens,
  };
};

const healthy = (url: URL) => {
  const query = url.searchParams.get('query') ?? '';
  if (url.pathname.endsWith('/query_range'))
    return json(200, {
      status: 'success',
      data: {
        resultType: 'matrix',
        result: [
          {
            metric: {},
            values: [
              [1_765_000_000, '12.5'],
              [1_765_000_300, 'NaN'],
            ],
          },
        ],
      },
    });
  return json(200, vector(query.includes('requests') ? '120.5' : '30'));
};

describe('OvhMetricsTraffic', () => {
  it('reads the rates now and a week of 5-minute history, with the token as a bearer, read once per service', async () => {
    const w = world(healthy);
    const reading = await w.traffic.read('loadbalancer-aaa', AT);
    expect(reading).toEqual({
      known: true,
      service: 'loadbalancer-aaa',
      measuredAt: AT.toISOString(),
      now: { requestsPerSecond: 120.5, connectionsPerSecond: 30 },
      history: [{ at: 1_765_000_000_000, value: 12.5 }],
    });
    await w.traffic.read('loadbalancer-aaa', AT);
    expect(w.tokens()).toBe(1);
    const prometheus = w.seen.filter((s) => s.url.hostname === 'metrics.example.net');
    expect(prometheus).toHaveLength(6);
    for (const call of prometheus) expect(call.headers.Authorization).toBe(`Bearer ${TOKEN}`);
    const range = prometheus.find((s) => s.url.pathname === '/prometheus/api/v1/query_range')!.url;
    expect(range.searchParams.get('query')).toBe(trafficQueries('loadbalancer-aaa').requests);
    expect(range.searchParams.get('step')).toBe('300');
    const start = Number(range.searchParams.get('start'));
    const end = Number(range.searchParams.get('end'));
    expect(end).toBe(Date.parse('2026-12-07T15:00:00Z') / 1000);
    expect(end - start).toBe(7 * 86_400);
    // The token goes in a header only: never in a URL.
    expect(w.seen.some((s) => s.url.href.includes(TOKEN))).toBe(false);
  });

  it('skips the history when told to', async () => {
    const w = world(healthy);
    const reading = await w.traffic.read('loadbalancer-aaa', AT, { history: false });
    expect(reading).toMatchObject({ known: true, history: [] });
    expect(w.seen.some((s) => s.url.pathname.endsWith('/query_range'))).toBe(false);
  });

  it('says unknown, never throwing, when OVH offers no metrics token (404), and asks again next time', async () => {
    const w = world(healthy, () => json(404, { class: 'Client::NotFound', message: 'no metrics' }));
    expect(await w.traffic.read('loadbalancer-aaa', AT)).toEqual({
      known: false,
      service: 'loadbalancer-aaa',
      reason: 'OVH offers no metrics for this load balancer (metricsToken: HTTP 404)',
    });
    await w.traffic.read('loadbalancer-aaa', AT);
    expect(w.tokens()).toBe(2);
  });

  it('says unknown when the key may not read the token, or the answer is not a token', async () => {
    const refused = world(healthy, () =>
      json(403, { errorCode: 'NOT_GRANTED_CALL', message: 'not granted' }),
    );
    expect(await refused.traffic.read('loadbalancer-aaa', AT)).toMatchObject({
      known: false,
      reason: expect.stringMatching(/may not read this load balancer's metrics token/),
    });
    const odd = world(healthy, () => json(200, { endpoint: 'x' }));
    expect(await odd.traffic.read('loadbalancer-aaa', AT)).toMatchObject({
      known: false,
      reason: 'no metrics token: the metricsToken answer has no endpoint and token',
    });
    const plain = world(healthy, () => json(200, { endpoint: 'http://metrics.example.net', token: TOKEN }));
    expect(await plain.traffic.read('loadbalancer-aaa', AT)).toMatchObject({
      known: false,
      reason: expect.stringMatching(/not https/),
    });
  });

  it('says unknown when the endpoint refuses the token, and reads a new token next time', async () => {
    const w = world(() => json(401, { status: 'error', errorType: 'unauthorized', error: 'bad token' }));
    const reading = await w.traffic.read('loadbalancer-aaa', AT);
    expect(reading).toMatchObject({
      known: false,
      reason: expect.stringMatching(/HTTP 401 \(the token was refused\)/),
    });
    expect(JSON.stringify(reading)).not.toContain(TOKEN);
    await w.traffic.read('loadbalancer-aaa', AT);
    expect(w.tokens()).toBe(2);
  });

  it('says unknown on an empty answer and on a timeout, and keeps the rates when only the history fails', async () => {
    const empty = world(() => json(200, { status: 'success', data: { resultType: 'vector', result: [] } }));
    expect(await empty.traffic.read('loadbalancer-aaa', AT)).toMatchObject({
      known: false,
      reason: expect.stringMatching(/no data/),
    });
    const hanging = world(
      (url) =>
        new Promise<Response>((_, reject) => {
          // The caller's timeout signal ends the call, as with a real fetch.
          void url;
          setTimeout(() => reject(Object.assign(new Error('aborted'), { name: 'TimeoutError' })), 5);
        }),
    );
    expect(await hanging.traffic.read('loadbalancer-aaa', AT)).toMatchObject({
      known: false,
      reason: expect.stringMatching(/no answer within 200 ms/),
    });
    const noHistory = world((url) =>
      url.pathname.endsWith('/query_range')
        ? json(400, { status: 'error', errorType: 'bad_data', error: 'exceeded maximum resolution' })
        : healthy(url),
    );
    expect(await noHistory.traffic.read('loadbalancer-aaa', AT)).toMatchObject({
      known: true,
      history: [],
      historyUnknown: expect.stringMatching(/HTTP 400 bad_data: exceeded maximum resolution/),
    });
  });

  it('says unknown on answers that are not Prometheus results, and on a name that is not a service', async () => {
    const garbled = world(() => new Response('<html>', { status: 200 }));
    expect(await garbled.traffic.read('loadbalancer-aaa', AT)).toMatchObject({
      known: false,
      reason: expect.stringMatching(/not a Prometheus query result/),
    });
    const two = world(() =>
      json(200, {
        status: 'success',
        data: { resultType: 'vector', result: [{ value: [1, '1'] }, { value: [1, '2'] }] },
      }),
    );
    expect(await two.traffic.read('loadbalancer-aaa', AT)).toMatchObject({
      known: false,
      reason: expect.stringMatching(/2 series/),
    });
    expect(await world(healthy).traffic.read('../x', AT)).toMatchObject({ known: false });
  });
});

describe('the Prometheus client', () => {
  it('chooses a step that keeps a range under 11,000 points', () => {
    expect(rangeStepSeconds(0, 7 * 86_400_000, 300)).toBe(300);
    const year = 365 * 86_400_000;
    const step = rangeStepSeconds(0, year, 1);
    expect(Math.floor(year / 1000 / step) + 1).toBeLessThanOrEqual(MAX_POINTS_PER_SERIES);
    expect(rangeStepSeconds(0, 0, 0)).toBe(1);
  });

  it('takes https endpoints, with or without a scheme, and plain http to this machine only', () => {
    expect(metricsBaseUrl('metrics.gra.example.net/').href).toBe('https://metrics.gra.example.net/');
    expect(metricsBaseUrl('http://127.0.0.1:8080/m/').href).toBe('http://127.0.0.1:8080/m');
    expect(() => metricsBaseUrl('http://metrics.example.net')).toThrow(/not https/);
    expect(() => metricsBaseUrl('https://u:p@metrics.example.net')).toThrow(/credentials/);
    expect(() => metricsBaseUrl('https://')).toThrow(/not a URL/);
  });

  it('refuses a token that cannot go into a header, without quoting it', () => {
    const make = () =>
      makePrometheusClient({ baseUrl: new URL('https://m.example.net'), token: 'tok\nen', timeoutMs: 100 });
    expect(make).toThrow('the metrics token OVH gave is empty or not printable ASCII: not used');
  });

  it('says a network error by its code, and an oversized answer is not read', async () => {
    const failing = makePrometheusClient({
      baseUrl: new URL('https://m.example.net'),
      token: TOKEN,
      timeoutMs: 100,
      fetch: (async () => {
        throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
      }) as typeof fetch,
    });
    await expect(failing.instant('up', AT)).rejects.toThrow(/network error ECONNREFUSED/);
    const huge = makePrometheusClient({
      baseUrl: new URL('https://m.example.net'),
      token: TOKEN,
      timeoutMs: 100,
      fetch: (async () =>
        new Response('{}', { headers: { 'content-length': String(64 * 1024 * 1024) } })) as typeof fetch,
    });
    await expect(huge.range('up', AT, AT, 60)).rejects.toMatchObject({ code: 'too-large' });
    // No length said, and more than the bound streamed: reading stops at the bound.
    const streamed = makePrometheusClient({
      baseUrl: new URL('https://m.example.net'),
      token: TOKEN,
      timeoutMs: 100,
      fetch: (async () => {
        let sent = 0;
        const chunk = new Uint8Array(1024 * 1024);
        return new Response(
          new ReadableStream({
            pull(controller) {
              sent++;
              controller.enqueue(chunk);
              if (sent > 64) controller.close();
            },
          }),
        );
      }) as typeof fetch,
    });
    await expect(streamed.instant('up', AT)).rejects.toMatchObject({ code: 'too-large' });
  });
});
