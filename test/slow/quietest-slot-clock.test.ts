/**
 * "Applied at its slot, not before", end to end on the real clock (`npm run test:slow`, not part
 * of `npm test`: it waits up to about six minutes). Through the local pipeline, a request whose
 * window prefers its quietest 5 minutes is deferred by the worker to a slot a few minutes away
 * (the simulator's curve is quietest there: `quietestAtUtc`), the local scheduler puts it back on
 * the bus at that time, and the worker applies it then. The simulator is watched all along: no
 * write and no refresh before the slot, the farm at its target and its zone refreshed once after.
 */
import type { EventBridgeEnvelope } from '../../lib/adapters/eventbridge/envelope';
import type { ChangeAuditDetail, ZoneAppliedDetail } from '../../lib/domain/audit-events';
import type { ChangeRequestedDetail } from '../../lib/domain/events';
import type { Fleet } from '../../lib/simulator/fleet';
import { type PipelineHarness, startPipelineHarness } from '../helpers/pipeline';

const SLOT = 5 * 60_000;
const SERVICE = 'loadbalancer-c10c5107';
const FARM = 'http/501';
/** The slot is at least this far ahead when the fleet is made (the pipeline takes seconds to start). */
const LEAD_MS = 40_000;
/** How late after its slot the request may be applied: the scheduler, the queue's batching, a refresh. */
const LATE_MS = 30_000;

/** One load balancer whose curve is quietest in the 5 minutes from `slot` (peak 1,000 req/s). */
const fleetQuietestAt = (slot: number): Fleet => ({
  services: [
    {
      name: SERVICE,
      displayName: 'shop-slot',
      zones: ['gra', 'sbg'],
      traffic: { quietestAtUtc: new Date(slot).toISOString().slice(11, 16), peakRequestsPerSecond: 1_000 },
      farms: [
        { id: 501, type: 'http', zone: 'gra', displayName: 'web-gra', stickiness: null, port: 80 },
        { id: 502, type: 'http', zone: 'sbg', displayName: 'web-sbg', stickiness: 'sourceIp', port: 80 },
      ],
    },
  ],
});

/** What the simulator holds at one moment, read before the time is taken (so a change seen is not later than `at`). */
interface Sample {
  at: number;
  putFarm: number;
  refresh: number;
  stored: unknown;
  applied: unknown;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a request deferred to its quietest slot, on the real clock', () => {
  let h: PipelineHarness | undefined;
  let watcher: NodeJS.Timeout | undefined;
  afterAll(async () => {
    clearInterval(watcher);
    await h?.close();
  });

  it('is applied at its slot, not before: nothing written on OVH until then, its zone refreshed once after', async () => {
    const slot = Math.ceil((Date.now() + LEAD_MS) / SLOT) * SLOT;
    const seen = new Map<string, number>();
    h = await startPipelineHarness({
      simulator: { fleet: fleetQuietestAt(slot) },
      pipeline: {
        onEvent: (e: EventBridgeEnvelope) => {
          const id = (e.detail as { requestId?: string } | undefined)?.requestId;
          if (e.source === 'stickler' && id === 'slot-clock-1') seen.set(e['detail-type'], Date.now());
        },
      },
    });
    const { sim, pipeline } = h;
    const service = sim.state.services.get(SERVICE)!;
    const farm = service.farms.get(FARM)!;
    const samples: Sample[] = [];
    const sample = () => {
      const read = {
        putFarm: sim.stats.calls['put-farm'],
        refresh: sim.stats.calls.refresh,
        stored: farm.stored.stickiness,
        applied: farm.applied.get('gra')?.stickiness,
      };
      samples.push({ ...read, at: Date.now() });
    };
    sample();
    watcher = setInterval(sample, 250);

    const publishedAt = Date.now();
    expect(slot - publishedAt).toBeGreaterThanOrEqual(15_000); // the slot is still well ahead
    const request = {
      requestId: 'slot-clock-1',
      service: SERVICE,
      farmType: 'http',
      farmId: 501,
      stickiness: 'cookie',
      actor: { kind: 'system', id: 'deploy-bot' },
      reason: 'applied at its slot, on the real clock',
      requestedAt: new Date(publishedAt).toISOString(),
      // The slot is the window's quietest, and ahead of notAfter less the worker's margin (11 s here).
      window: {
        notBefore: new Date(publishedAt).toISOString(),
        notAfter: new Date(slot + 3 * 60_000).toISOString(),
        prefer: 'quietest',
      },
    } as ChangeRequestedDetail;
    await pipeline.publish([request], 'acme.deploys');
    await pipeline.queue.drained();

    const audit = () =>
      pipeline.bus.events
        .filter(
          (e) => e.source === 'stickler' && (e.detail as ChangeAuditDetail).requestId === 'slot-clock-1',
        )
        .map((e) => ({ type: e['detail-type'], ...(e.detail as ChangeAuditDetail) }));
    const [deferred] = audit();
    expect(deferred).toMatchObject({
      type: 'Stickiness Change Deferred',
      code: 'quietest-slot',
      deferredUntil: new Date(slot).toISOString(),
      // The curve's minimum, a tenth of the peak, in the middle of the slot: its 7-day median.
      quietest: { at: new Date(slot).toISOString(), typicalRequestsPerSecond: 100 },
    });
    expect(pipeline.scheduler.schedules.size).toBe(1);
    expect([...pipeline.scheduler.schedules.values()][0]!.at.getTime()).toBe(slot);

    // Until the slot: nothing stored, nothing refreshed; then the request comes back and is applied.
    while (!seen.has('Stickiness Change Applied') && Date.now() < slot + LATE_MS + 10_000) await sleep(250);
    sample();
    clearInterval(watcher);

    const before = samples.filter((s) => s.at < slot);
    expect(before.length).toBeGreaterThan(10); // watched through the wait, not just at its ends
    for (const s of before)
      expect(s).toEqual({ at: s.at, putFarm: 0, refresh: 0, stored: null, applied: null });

    const appliedAt = seen.get('Stickiness Change Applied');
    expect(appliedAt).toBeDefined();
    expect(appliedAt!).toBeGreaterThanOrEqual(slot);
    expect(appliedAt! - slot).toBeLessThan(LATE_MS);
    const events = audit();
    expect(events.map((e) => e.type)).toEqual(['Stickiness Change Deferred', 'Stickiness Change Applied']);
    const applied = events[1]!;
    expect(Date.parse(applied.decidedAt)).toBeGreaterThanOrEqual(slot);
    expect(applied).toMatchObject({ outcome: 'applied', before: 'none', after: 'cookie', zone: 'gra' });
    // The traffic the refresh cut: the 5 minutes before, just short of the curve's minimum.
    expect(applied.traffic).toMatchObject({ known: true });
    const measured = applied.traffic as { measuredAt: string; requestsPerSecond: number };
    expect(Date.parse(measured.measuredAt)).toBeGreaterThanOrEqual(slot);
    expect(measured.requestsPerSecond).toBeGreaterThanOrEqual(100);
    expect(measured.requestsPerSecond).toBeLessThan(101);

    // The farm at its target, stored and applied; its zone refreshed once, the other zone not at all.
    expect(farm.stored.stickiness).toBe('cookie');
    expect(farm.applied.get('gra')?.stickiness).toBe('cookie');
    expect(sim.stats.calls['put-farm']).toBe(1);
    expect(sim.stats.calls.refresh).toBe(1);
    expect(service.tasks.map((t) => ({ zones: t.zones, status: t.status }))).toEqual([
      { zones: ['gra'], status: 'done' },
    ]);
    expect(service.tasks[0]!.createdAt).toBeGreaterThanOrEqual(slot);
    const zoneApplied = pipeline.bus.events.filter((e) => e['detail-type'] === 'Zone Configuration Applied');
    expect(zoneApplied.map((e) => e.detail as ZoneAppliedDetail)).toMatchObject([
      { service: SERVICE, zone: 'gra', requestIds: ['slot-clock-1'] },
    ]);
    console.log(
      `slot ${new Date(slot).toISOString()}: published ${Math.round((slot - publishedAt) / 1000)} s before it, ` +
        `applied ${appliedAt! - slot} ms after it (audit decidedAt +${Date.parse(applied.decidedAt) - slot} ms)`,
    );
  }, 480_000);
});
