import type { ChangeAuditDetail, ZoneAppliedDetail } from '../../lib/domain/audit-events';
import type { ChangeRequestedDetail } from '../../lib/domain/events';
import { type PipelineHarness, startPipelineHarness } from '../helpers/pipeline';

const HOUR = 3_600_000;
const SLOT = 5 * 60_000;

const quietestRequest = (requestId: string, service: string, farmId: number): ChangeRequestedDetail =>
  ({
    requestId,
    service,
    farmType: 'http',
    farmId,
    stickiness: 'cookie',
    actor: { kind: 'system', id: 'deploy-bot' },
    requestedAt: new Date().toISOString(),
    window: { notAfter: new Date(Date.now() + 24 * HOUR).toISOString(), prefer: 'quietest' },
  }) as ChangeRequestedDetail;

/** The example fleet on the simulator: loadbalancer-7f3a9c21 quietest at 04:00 UTC, ip-203.0.113.7 without metrics. */
describe('the local pipeline and a window that prefers its quietest slot', () => {
  let h: PipelineHarness;
  beforeAll(async () => {
    h = await startPipelineHarness();
  });
  afterAll(() => h.close());
  // Each test counts its own calls, in whatever order the tests run.
  beforeEach(() => h.sim.resetStats());

  const auditOf = (requestId: string) =>
    h.pipeline.bus.events
      .filter((e) => e.source === 'stickler' && (e.detail as ChangeAuditDetail).requestId === requestId)
      .map((e) => ({ type: e['detail-type'], ...(e.detail as ChangeAuditDetail) }));

  it('defers the request to the curve’s quietest slot in its window, with the rate expected, writing nothing', async () => {
    await h.pipeline.publish([quietestRequest('quiet-1', 'loadbalancer-7f3a9c21', 101)], 'acme.deploys');
    await h.pipeline.queue.drained();
    const [deferred] = auditOf('quiet-1');
    expect(deferred).toMatchObject({ type: 'Stickiness Change Deferred', code: 'quietest-slot' });
    // The next 04:00 UTC, the curve's documented minimum, within one slot.
    const next = new Date();
    next.setUTCHours(4, 0, 0, 0);
    if (next.getTime() <= Date.now()) next.setUTCDate(next.getUTCDate() + 1);
    expect(Math.abs(Date.parse(deferred!.deferredUntil!) - next.getTime())).toBeLessThanOrEqual(SLOT);
    expect(deferred!.quietest?.typicalRequestsPerSecond).toBeCloseTo(180, -1);
    expect(h.sim.stats.calls['put-farm']).toBe(0);
  });

  it('applies at once, with the traffic unknown in its audit, where there are no metrics', async () => {
    await h.pipeline.publish([quietestRequest('quiet-2', 'ip-203.0.113.7', 122)], 'acme.deploys');
    await h.pipeline.queue.drained();
    const applied = auditOf('quiet-2').find((a) => a.type === 'Stickiness Change Applied');
    expect(applied?.traffic).toEqual({
      known: false,
      reason: 'OVH offers no metrics for this load balancer (metricsToken: HTTP 404)',
    });
    const zone = h.pipeline.bus.events.find(
      (e) =>
        e['detail-type'] === 'Zone Configuration Applied' &&
        (e.detail as ZoneAppliedDetail).requestIds.includes('quiet-2'),
    );
    expect((zone!.detail as ZoneAppliedDetail).traffic).toMatchObject({ known: false });
  });
});
