import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OvhMetricsTraffic } from '../../lib/adapters/ovh/ovh-metrics-traffic';
import { DAY_MS, SLOT_MS, summarizeTraffic } from '../../lib/domain/traffic';
import { parseFleet } from '../../lib/simulator/fleet';
import { simulatorMetricsToken } from '../../lib/simulator/server';
import {
  parsePromStep,
  parsePromTime,
  parseRateQuery,
  quietestSlotHour,
  requestsRateAt,
} from '../../lib/simulator/traffic-curve';
import { checkExchange } from '../helpers/ovh-openapi';
import { type SimulatorHarness, smallFleet, startHarness } from '../helpers/simulator';

const AT = new Date('2026-12-07T15:02:30Z');

/** The simulator with the small fleet: loadbalancer-aaa quietest at 04:00 UTC, loadbalancer-bbb without metrics. */
const start = (options: Parameters<typeof startHarness>[0] = {}) => {
  const fleet = smallFleet();
  fleet.services[0]!.traffic = { quietestHourUtc: 4, peakRequestsPerSecond: 1_000 };
  fleet.services[1]!.traffic = 'none';
  return startHarness({ fleet, ...options });
};

describe('the simulator’s metrics, read by the OVH metrics adapter over HTTP', () => {
  let h: SimulatorHarness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('gives a token whose answer fits OVH’s schema, and the curve’s rates now', async () => {
    h = await start();
    const body = await h.client.get('/ipLoadbalancing/loadbalancer-aaa/metricsToken');
    expect(
      checkExchange({
        method: 'GET',
        path: '/ipLoadbalancing/loadbalancer-aaa/metricsToken',
        query: new URLSearchParams(),
        status: 200,
        responseBody: body,
        requestBody: undefined,
      }),
    ).toEqual([]);
    const traffic = new OvhMetricsTraffic(h.client);
    const reading = await traffic.read('loadbalancer-aaa', AT, { history: false });
    const expected = requestsRateAt(
      { quietestHourUtc: 4, peakRequestsPerSecond: 1_000 },
      AT.getTime() - SLOT_MS / 2,
    );
    expect(reading).toMatchObject({
      known: true,
      now: { requestsPerSecond: expected, connectionsPerSecond: Math.round(expected * 250) / 1000 },
    });
    expect(h.sim.stats.calls['metrics-token']).toBe(2); // this test's own call, and the adapter's
  });

  it('finds the quietest slot at the curve’s documented minimum, within one slot, in any day-long window', async () => {
    h = await start();
    const traffic = new OvhMetricsTraffic(h.client);
    const reading = await traffic.read('loadbalancer-aaa', AT);
    expect(reading.known && reading.history.length).toBe(7 * 288 + 1);
    const day = summarizeTraffic(reading, { start: AT.getTime(), end: AT.getTime() + DAY_MS });
    const quietest = day.known ? day.quietest : undefined;
    // The documented quietest slot: the 5 minutes from 04:00 UTC.
    expect(quietest!.at).toBe(Date.parse('2026-12-08T04:00:00Z'));
    expect(quietest!.typicalRate).toBe(100);
    // A window that misses 04:00 gets its own quietest moment: its edge nearest to 04:00.
    const evening = summarizeTraffic(reading, {
      start: Date.parse('2026-12-07T18:00:00Z'),
      end: Date.parse('2026-12-07T23:00:00Z'),
    });
    expect(evening.known && evening.quietest?.at).toBe(Date.parse('2026-12-07T22:55:00Z'));
  });

  it('finds a quietest slot set to the 5 minutes (quietestAtUtc) exactly, the slots either side busier', async () => {
    const fleet = smallFleet();
    fleet.services[0]!.traffic = { quietestAtUtc: '13:35', peakRequestsPerSecond: 1_000 };
    h = await startHarness({ fleet });
    const reading = await new OvhMetricsTraffic(h.client).read('loadbalancer-aaa', AT);
    const day = summarizeTraffic(reading, { start: AT.getTime(), end: AT.getTime() + DAY_MS });
    expect(day.known && day.quietest).toMatchObject({
      at: Date.parse('2026-12-08T13:35:00Z'),
      until: Date.parse('2026-12-08T13:40:00Z'),
      typicalRate: 100,
    });
    // Windows that stop short of 13:35, or start after 13:40, find their edge nearest to it.
    const before = summarizeTraffic(reading, {
      start: Date.parse('2026-12-08T13:00:00Z'),
      end: Date.parse('2026-12-08T13:35:00Z'),
    });
    expect(before.known && before.quietest?.at).toBe(Date.parse('2026-12-08T13:30:00Z'));
    const after = summarizeTraffic(reading, {
      start: Date.parse('2026-12-08T13:40:00Z'),
      end: Date.parse('2026-12-08T15:00:00Z'),
    });
    expect(after.known && after.quietest?.at).toBe(Date.parse('2026-12-08T13:40:00Z'));
    expect(after.known && after.quietest!.typicalRate).toBeGreaterThan(100);
  });

  it('has no metrics for a service told so (traffic: none): a 404, said as unknown', async () => {
    h = await start();
    const reading = await new OvhMetricsTraffic(h.client).read('loadbalancer-bbb', AT);
    expect(reading).toEqual({
      known: false,
      service: 'loadbalancer-bbb',
      reason: 'OVH offers no metrics for this load balancer (metricsToken: HTTP 404)',
    });
  });

  it('has no metrics at all when told so, and answers empty, refuses tokens or hangs on demand', async () => {
    h = await start({ metrics: 'off' });
    const traffic = new OvhMetricsTraffic(h.client, { timeoutMs: 300 });
    expect(await traffic.read('loadbalancer-aaa', AT)).toMatchObject({ known: false, reason: /HTTP 404/ });
    h.sim.metrics.mode = 'empty';
    expect(await traffic.read('loadbalancer-aaa', AT)).toMatchObject({ known: false, reason: /no data/ });
    h.sim.metrics.mode = 'refused';
    expect(await traffic.read('loadbalancer-aaa', AT)).toMatchObject({
      known: false,
      reason: /token was refused/,
    });
    h.sim.metrics.mode = 'hang';
    expect(await traffic.read('loadbalancer-aaa', AT)).toMatchObject({
      known: false,
      reason: /no answer within 300 ms/,
    });
    h.sim.metrics.mode = 'on';
    expect(await traffic.read('loadbalancer-aaa', AT)).toMatchObject({ known: true });
  });

  describe('the Prometheus HTTP API, as the simulator answers it', () => {
    const call = async (path: string, token?: string) => {
      const origin = new URL(h!.sim.baseUrl).origin;
      const response = await fetch(`${origin}/metrics/prometheus/api/v1/${path}`, {
        headers: token ? { Authorization: `Bearer ${token}` } : {},
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const token = simulatorMetricsToken('loadbalancer-aaa');
    const q = encodeURIComponent(
      'sum(rate(haproxy_process_requests_total{servicename="loadbalancer-aaa"}[5m]))',
    );

    it('refuses a missing or unknown token, and answers another service’s series as empty', async () => {
      h = await start();
      expect(await call(`query?query=${q}`)).toMatchObject({ status: 401, body: { status: 'error' } });
      expect((await call(`query?query=${q}`, 'nope')).status).toBe(401);
      const other = encodeURIComponent(
        'sum(rate(haproxy_process_requests_total{servicename="loadbalancer-bbb"}[5m]))',
      );
      expect(await call(`query?query=${other}`, token)).toMatchObject({
        status: 200,
        body: { status: 'success', data: { resultType: 'vector', result: [] } },
      });
      expect((await call(`labels`, token)).status).toBe(404);
    });

    it('refuses ranges past 11,000 points and malformed parameters, with Prometheus’ error shape', async () => {
      h = await start();
      expect(await call(`query_range?query=${q}&start=0&end=11000&step=1`, token)).toMatchObject({
        status: 400,
        body: { errorType: 'bad_data', error: expect.stringMatching(/11,000 points/) },
      });
      expect((await call(`query_range?query=${q}&start=0&end=10999&step=1`, token)).status).toBe(200);
      for (const bad of [
        `query_range?query=${q}&end=1&step=1`,
        `query_range?query=${q}&start=0&step=1`,
        `query_range?query=${q}&start=0&end=1`,
        `query_range?query=${q}&start=5&end=1&step=1`,
        `query_range?query=${q}&start=0&end=1&step=0`,
        `query?query=${q}&time=soon`,
        `query?query=up`,
      ])
        expect([bad, (await call(bad, token)).body.errorType]).toEqual([bad, 'bad_data']);
      const rfc = await call(`query?query=${q}&time=2026-12-07T04:00:00Z`, token);
      expect(rfc.body).toMatchObject({
        data: { result: [{ value: [Date.parse('2026-12-07T04:00:00Z') / 1000, expect.any(String)] }] },
      });
    });
  });
});

describe('the simulator’s traffic curve', () => {
  it('is lowest in the middle of the 5 minutes from the quietest hour (a tenth of the peak), highest twelve hours later', () => {
    const traffic = { quietestHourUtc: 2, peakRequestsPerSecond: 350 };
    expect(requestsRateAt(traffic, Date.parse('2026-12-07T02:02:30Z'))).toBe(35);
    expect(requestsRateAt(traffic, Date.parse('2026-12-07T14:02:30Z'))).toBe(350);
    expect(requestsRateAt({}, Date.parse('2026-12-07T03:02:30Z'))).toBe(20);
  });

  it('places the minimum in the middle of the slot quietestAtUtc names, to the 5 minutes', () => {
    const traffic = { quietestAtUtc: '21:05', peakRequestsPerSecond: 350 };
    expect(requestsRateAt(traffic, Date.parse('2026-12-07T21:07:30Z'))).toBe(35);
    expect(requestsRateAt(traffic, Date.parse('2026-12-08T09:07:30Z'))).toBe(350);
    // Symmetric about the minimum: the slots either side are equally busier.
    const slotBefore = requestsRateAt(traffic, Date.parse('2026-12-07T21:02:30Z'));
    expect(slotBefore).toBeGreaterThan(35);
    expect(requestsRateAt(traffic, Date.parse('2026-12-07T21:12:30Z'))).toBe(slotBefore);
    // A whole hour either way is the same curve.
    for (const at of [0, 3_600_000 * 7.3, Date.parse('2026-12-07T04:02:30Z')])
      expect(requestsRateAt({ quietestAtUtc: '04:00' }, at)).toBe(requestsRateAt({ quietestHourUtc: 4 }, at));
    expect(quietestSlotHour({ quietestAtUtc: '23:55' })).toBeCloseTo(23 + 55 / 60, 10);
    expect(quietestSlotHour({})).toBe(3);
  });

  it('takes quietestAtUtc as a 5-minute boundary in HH:MM, and not with quietestHourUtc, said on the line', () => {
    const fleetWith = (traffic: string) =>
      `services:\n  - name: a\n    zones: [gra]\n    traffic: ${traffic}\n`;
    expect(parseFleet(fleetWith('{ quietestAtUtc: "00:00" }')).services[0]!.traffic).toEqual({
      quietestAtUtc: '00:00',
    });
    expect(parseFleet(fleetWith('{ quietestAtUtc: 23:55 }')).services[0]!.traffic).toEqual({
      quietestAtUtc: '23:55',
    });
    const slotRule =
      /fleet:4:\d+: services\[0\]\.traffic\.quietestAtUtc: the start of a 5-minute slot of the day in UTC: "HH:MM", minutes a multiple of 5 \(00:00 … 23:55\)/;
    for (const bad of ['"03:33"', '"3:35"', '"24:00"', '"12:60"', '"03:35:00"', '335'])
      expect(() => parseFleet(fleetWith(`{ quietestAtUtc: ${bad} }`))).toThrow(
        bad === '335' ? /services\[0\]\.traffic: / : slotRule,
      );
    expect(() => parseFleet(fleetWith('{ quietestHourUtc: 4, quietestAtUtc: "04:05" }'))).toThrow(
      /fleet:4:\d+: services\[0\]\.traffic\.quietestAtUtc: set quietestHourUtc or quietestAtUtc, not both/,
    );
  });

  it('reads the query, time and step shapes Prometheus takes', () => {
    expect(parseRateQuery('sum(rate(haproxy_process_connections_total{servicename="a\\"b"}[1h]))')).toEqual({
      metric: 'connections',
      service: 'a"b',
      windowMs: 3_600_000,
    });
    expect(parsePromTime('1.5')).toBe(1_500);
    expect(parsePromTime(null)).toBeUndefined();
    expect(parsePromStep('5m')).toBe(300_000);
    expect(parsePromStep('30s')).toBe(30_000);
    expect(parsePromStep('x')).toBeUndefined();
  });

  it('is documented in the example fleet, which the fleet schema reads', () => {
    const fleet = parseFleet(readFileSync(join(__dirname, '../../examples/fleet.yaml'), 'utf8'));
    expect(fleet.services.map((s) => s.traffic)).toEqual([
      { quietestHourUtc: 4, peakRequestsPerSecond: 1800 },
      { quietestHourUtc: 2, peakRequestsPerSecond: 350 },
      'none',
    ]);
    expect(() =>
      parseFleet('services:\n  - name: a\n    zones: [gra]\n    traffic: { quietestHourUtc: 24 }\n'),
    ).toThrow();
  });
});
