import { join } from 'node:path';
import { renderTraffic } from '../../lib/cli/render';
import { trafficJson } from '../../lib/cli/report-json';
import { formatRate } from '../../lib/domain/traffic';
import { simulatorEnv, simulatorMetricsToken } from '../../lib/simulator/server';
import { captureCli } from '../helpers/cli';
import { type SimulatorHarness, smallFleet, startHarness } from '../helpers/simulator';

const policyFile = join(__dirname, '../fixtures/policy.small.yaml');
const SLOT_MS = 5 * 60_000;

/** The small fleet: loadbalancer-aaa quietest at 04:00 UTC (1,000 req/s at its peak), loadbalancer-bbb without metrics. */
const start = async () => {
  const fleet = smallFleet();
  fleet.services[0]!.traffic = { quietestHourUtc: 4, peakRequestsPerSecond: 1_000 };
  fleet.services[1]!.traffic = 'none';
  return startHarness({ fleet });
};

describe('traffic in plan and show', () => {
  let h: SimulatorHarness;
  let env: NodeJS.ProcessEnv;
  beforeEach(async () => {
    h = await start();
    env = simulatorEnv(h.sim.baseUrl);
  });
  afterEach(() => h.close());

  it('plan --json carries the rates now and the quietest slot of --window, at the curve’s minimum within one slot', async () => {
    const { code, out } = await captureCli(
      ['plan', '--policy', policyFile, '--json', '--window', '2099-01-01T01:00Z/PT6H'],
      env,
      __dirname,
    );
    expect(code).toBe(2);
    const { traffic } = JSON.parse(out);
    expect(traffic.window).toEqual({ start: '2099-01-01T01:00:00.000Z', end: '2099-01-01T07:00:00.000Z' });
    expect(traffic.services).toEqual([
      {
        service: 'loadbalancer-aaa',
        known: true,
        measuredAt: expect.stringMatching(/Z$/),
        requestsPerSecond: expect.any(Number),
        connectionsPerSecond: expect.any(Number),
        quietest: {
          at: expect.any(String),
          until: expect.any(String),
          typicalRequestsPerSecond: expect.closeTo(100, 0),
        },
      },
    ]);
    const at = Date.parse(traffic.services[0].quietest.at);
    expect(Math.abs(at - Date.parse('2099-01-01T04:00:00Z'))).toBeLessThanOrEqual(SLOT_MS);
    expect(out).not.toContain(simulatorMetricsToken('loadbalancer-aaa'));
  });

  it("plan searches the quietest as the pipeline's worker does, not in the 30 s it keeps before the window's end, and says the window asked", async () => {
    // loadbalancer-aaa is quietest from 04:00; this window ends 11 s into that slot.
    const { out } = await captureCli(
      ['plan', '--policy', policyFile, '--json', '--window', '2099-01-01T03:00Z/2099-01-01T04:00:11Z'],
      env,
      __dirname,
    );
    const { traffic } = JSON.parse(out);
    expect(traffic.window).toEqual({ start: '2099-01-01T03:00:00.000Z', end: '2099-01-01T04:00:11.000Z' });
    expect(traffic.services[0].quietest).toEqual({
      at: '2099-01-01T03:55:00.000Z',
      until: '2099-01-01T03:59:41.000Z',
      typicalRequestsPerSecond: expect.any(Number),
    });
  });

  it('show says plainly which load balancer has no metrics, and the others’ traffic and quietest slot', async () => {
    const { code, out, err } = await captureCli(['show'], env, __dirname);
    expect(code).toBe(0);
    expect(out).toMatch(
      /loadbalancer-aaa {2}now [\d,.]+ req\/s, [\d,.]+ conn\/s; quietest in the window: \d{4}-\d{2}-\d{2} 04:00 UTC \(≈ 100 req\/s typical\)/,
    );
    expect(out).toContain(
      'loadbalancer-bbb  traffic unknown: OVH offers no metrics for this load balancer (metricsToken: HTTP 404)',
    );
    expect(out).toContain('each load balancer as a whole, every zone and farm together');
    expect(`${out}${err}`).not.toContain('simulator-metrics-token');
  });

  it('plans and shows as before when the metrics endpoint fails: unknown, same exit code', async () => {
    h.sim.metrics.mode = 'refused';
    const plan = await captureCli(['plan', '--policy', policyFile, '--json'], env, __dirname);
    expect(plan.code).toBe(2);
    expect(JSON.parse(plan.out).traffic.services).toEqual([
      {
        service: 'loadbalancer-aaa',
        known: false,
        reason: expect.stringMatching(/HTTP 401 \(the token was refused\)/),
      },
    ]);
    h.sim.metrics.mode = 'empty';
    const show = await captureCli(['show', '--json', 'loadbalancer-aaa'], env, __dirname);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.out).traffic.services[0]).toMatchObject({ known: false, reason: /no data/ });
  });

  it('refuses a --window that does not read, before any call', async () => {
    h.sim.resetStats();
    for (const window of [
      'tomorrow',
      '2099-01-01T00:00/PT1H',
      '2099-01-01T00:00Z/P8D',
      '2000-01-01T00:00Z/PT1H',
    ]) {
      const { code, err } = await captureCli(
        ['plan', '--policy', policyFile, '--window', window],
        env,
        __dirname,
      );
      expect([window, code]).toEqual([window, 1]);
      expect(err).toMatch(/--window must be START\/END or START\/DURATION/);
    }
    expect(Object.values(h.sim.stats.calls).reduce((a, b) => a + b, 0)).toBe(0);
  });
});

describe('the traffic lines', () => {
  const report = {
    window: { start: Date.parse('2026-12-07T15:00:00Z'), end: Date.parse('2026-12-08T15:00:00Z') },
    services: [
      {
        known: true as const,
        service: 'lb-a',
        measuredAt: '2026-12-07T15:00:00.000Z',
        now: { requestsPerSecond: 1234.4, connectionsPerSecond: 0.25 },
        quietest: undefined,
        quietestUnknown: 'the last 7 days could not be read: timeout',
      },
    ],
  };

  it('say when the quietest slot is unknown, and why', () => {
    expect(renderTraffic(report, 'x')).toContain(
      'lb-a  now 1,234 req/s, 0.3 conn/s; quietest in the window: unknown (the last 7 days could not be read: timeout)',
    );
    expect(trafficJson(report).services[0]).toMatchObject({
      quietest: null,
      quietestUnknown: 'the last 7 days could not be read: timeout',
    });
    expect(renderTraffic({ ...report, services: [] }, 'x')).toBe('');
  });

  it('write rates as people read them', () => {
    expect([formatRate(0), formatRate(35), formatRate(85.75), formatRate(1780.4)]).toEqual([
      '0',
      '35',
      '85.8',
      '1,780',
    ]);
  });
});
