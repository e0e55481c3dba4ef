import type { ChangeAuditDetail } from '../../lib/domain/audit-events';
import type { ChangeRequestedDetail } from '../../lib/domain/events';
import type { LocalPipeline } from '../../lib/local/pipeline';
import type { RunningSimulator } from '../../lib/simulator/server';
import { type PipelineHarness, startPipelineHarness } from '../helpers/pipeline';

const request = (
  requestId: string,
  farmType: 'http' | 'tcp',
  farmId: number,
  stickiness: string,
): ChangeRequestedDetail =>
  ({
    requestId,
    service: 'loadbalancer-7f3a9c21',
    farmType,
    farmId,
    stickiness,
    actor: { kind: 'system', id: 'deploy-bot' },
    requestedAt: new Date().toISOString(),
  }) as ChangeRequestedDetail;

describe('the local pipeline: bus → queue → apply-worker → audit events', () => {
  let sim: RunningSimulator;
  let pipeline: LocalPipeline;
  let harness: PipelineHarness;
  beforeAll(async () => {
    harness = await startPipelineHarness();
    ({ sim, pipeline } = harness);
  });
  afterAll(() => harness.close());
  // Each test starts from the example fleet, with its own call counts, whatever ran before it.
  beforeEach(() => {
    sim.resetState();
    sim.resetStats();
  });

  it('takes a burst in one batch, applies each touched zone once and audits every request', async () => {
    await pipeline.publish(
      [
        request('p-1', 'http', 101, 'cookie'),
        request('p-2', 'http', 104, 'none'),
        request('p-3', 'http', 102, 'cookie'),
        request('p-4', 'tcp', 202, 'none'),
        request('p-5', 'tcp', 201, 'cookie'),
      ],
      'acme.deploys',
    );
    await pipeline.queue.drained();
    expect(sim.stats.calls.refresh).toBe(2);
    const audits = pipeline.bus.events
      .filter((e) => e.source === 'stickler' && e['detail-type'].startsWith('Stickiness Change'))
      .map((e) => [(e.detail as ChangeAuditDetail).requestId, e['detail-type']])
      .filter(([id]) => id?.startsWith('p-')); // this test's requests (the bus keeps the others')
    expect(audits.sort()).toEqual([
      ['p-1', 'Stickiness Change Applied'],
      ['p-2', 'Stickiness Change Applied'],
      ['p-3', 'Stickiness Change Applied'],
      ['p-4', 'Stickiness Change Applied'],
      ['p-5', 'Stickiness Change Refused'],
    ]);
    const farm = sim.state.services.get('loadbalancer-7f3a9c21')!.farms.get('http/102')!;
    expect(farm.applied.get('sbg')?.stickiness).toBe('cookie');
    expect(pipeline.queue.deadLetters).toEqual([]);
  });

  it('defers a request whose change window opens 8 s later through the scheduler, and applies it then, not before', async () => {
    const notBefore = new Date(Date.now() + 8_000);
    const farm = () => sim.state.services.get('loadbalancer-7f3a9c21')!.farms.get('http/103')!;
    const before = farm().stored.stickiness;
    const target = before === 'sourceIp' ? 'cookie' : 'sourceIp';
    await pipeline.publish(
      [{ ...request('d-1', 'http', 103, target), window: { notBefore: notBefore.toISOString() } }],
      'acme.tickets',
    );
    const auditOf = (type: string) =>
      pipeline.bus.events.find(
        (e) => e['detail-type'] === type && (e.detail as ChangeAuditDetail).requestId === 'd-1',
      );
    const until = async (found: () => unknown, ms: number) => {
      for (const end = Date.now() + ms; !found() && Date.now() < end; )
        await new Promise((r) => setTimeout(r, 50));
      return found();
    };
    expect(await until(() => auditOf('Stickiness Change Deferred'), 5_000)).toBeTruthy();
    expect(pipeline.scheduler.schedules.size).toBe(1);
    // Not before its window.
    await new Promise((r) => setTimeout(r, Math.max(0, notBefore.getTime() - Date.now() - 1_000)));
    expect(farm().stored.stickiness).toBe(before);
    expect(auditOf('Stickiness Change Applied')).toBeUndefined();
    // Then, once it opens.
    const applied = (await until(() => auditOf('Stickiness Change Applied'), 15_000)) as
      | { detail: ChangeAuditDetail }
      | undefined;
    expect(applied?.detail).toMatchObject({
      requestId: 'd-1',
      outcome: 'applied',
      origin: { source: 'acme.tickets' },
    });
    expect(Date.parse(applied!.detail.decidedAt)).toBeGreaterThanOrEqual(notBefore.getTime());
    expect(farm().stored.stickiness).toBe(target);
  }, 30_000);

  it('refuses what hostile publishers send, audits each once, writes nothing for them, and loses nothing', async () => {
    const farm = (id: number) => sim.state.services.get('loadbalancer-7f3a9c21')!.farms.get(`http/${id}`)!;
    const before = farm(105).stored.stickiness;
    const puts = sim.stats.calls['put-farm'];
    const future = { ...request('h-2099', 'http', 105, 'cookie'), requestedAt: '2099-01-01T00:00:00Z' };
    const huge = { ...request('x', 'http', 105, 'cookie'), requestId: 'x'.repeat(10_000) };
    const blank = { ...request('x', 'http', 105, 'cookie'), requestId: '   ' };
    const typo = {
      ...request('h-typo', 'http', 105, 'cookie'),
      changeWindow: { notBefore: '2099-01-01T00:00:00Z' },
    };
    await pipeline.publish([future, huge, blank, typo as ChangeRequestedDetail], 'acme.hostile');
    await pipeline.queue.drained();
    const audits = pipeline.bus.events
      .filter(
        (e) => e.source === 'stickler' && (e.detail as ChangeAuditDetail).origin?.source === 'acme.hostile',
      )
      .map((e) => e.detail as ChangeAuditDetail);
    expect(audits.map((a) => [a.outcome, a.code]).sort()).toEqual([
      ['refused', 'implausible-time'],
      ['refused', 'invalid-request'],
      ['refused', 'invalid-request'],
      ['refused', 'invalid-request'],
    ]);
    for (const a of audits) expect(a.requestId.length).toBeLessThanOrEqual(128);
    expect(audits.find((a) => a.message?.includes("unknown key 'changeWindow'"))).toBeDefined();
    expect(sim.stats.calls['put-farm']).toBe(puts);
    expect(farm(105).stored.stickiness).toBe(before);
    expect(pipeline.queue.deadLetters).toEqual([]);

    // An id spelled like a farm ledger key is just an id: applied, and ordering still works after it.
    await pipeline.publish(
      [{ ...request('x', 'http', 105, 'cookie'), requestId: 'farm:loadbalancer-7f3a9c21/http/105' }],
      'acme.hostile',
    );
    await pipeline.queue.drained();
    expect(farm(105).stored.stickiness).toBe('cookie');
    expect(pipeline.queue.deadLetters).toEqual([]);
  });

  it('acknowledges a redelivery without writing or emitting anything', async () => {
    await pipeline.publish([request('r-1', 'http', 104, 'sourceIp')], 'acme.deploys');
    await pipeline.queue.drained();
    const before = { events: pipeline.bus.events.length, puts: sim.stats.calls['put-farm'] };
    pipeline.redeliver(
      pipeline.bus.events.find(
        (e) =>
          e['detail-type'] === 'Stickiness Change Requested' &&
          (e.detail as ChangeRequestedDetail).requestId === 'r-1',
      )!,
    );
    await pipeline.queue.drained();
    expect(pipeline.bus.events.length).toBe(before.events);
    expect(sim.stats.calls['put-farm']).toBe(before.puts);
  });
});
