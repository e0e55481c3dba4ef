import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChangeAuditDetail } from '../../lib/domain/audit-events';
import type { ChangeRequestedDetail } from '../../lib/domain/events';
import { type LocalPipeline, startLocalPipeline } from '../../lib/local/pipeline';
import { parseFleet } from '../../lib/simulator/fleet';
import { type RunningSimulator, SIMULATOR_CREDENTIALS, startSimulator } from '../../lib/simulator/server';

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
  const saved = { ...process.env };
  beforeAll(async () => {
    sim = await startSimulator({
      fleet: parseFleet(readFileSync(join(__dirname, '../../examples/fleet.yaml'), 'utf8')),
      task: { todoMs: 10, doingMs: 30 },
    });
    pipeline = await startLocalPipeline({
      ovhBaseUrl: sim.baseUrl,
      ovhCredentials: SIMULATOR_CREDENTIALS,
      batchWindowMs: 100,
      pollIntervalMs: 10,
    });
  });
  afterAll(async () => {
    await pipeline.close();
    await sim.close();
    process.env = saved;
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
      .map((e) => [(e.detail as ChangeAuditDetail).requestId, e['detail-type']]);
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

  it('acknowledges a redelivery without writing or emitting anything', async () => {
    const before = { events: pipeline.bus.events.length, puts: sim.stats.calls['put-farm'] };
    pipeline.redeliver(pipeline.bus.events.find((e) => e['detail-type'] === 'Stickiness Change Requested')!);
    await pipeline.queue.drained();
    expect(pipeline.bus.events.length).toBe(before.events);
    expect(sim.stats.calls['put-farm']).toBe(before.puts);
  });
});
