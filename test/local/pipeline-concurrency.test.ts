import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import type { ChangeAuditDetail } from '../../lib/domain/audit-events';
import type { ChangeRequestedDetail } from '../../lib/domain/events';
import type { LocalPipeline } from '../../lib/local/pipeline';
import type { RunningSimulator } from '../../lib/simulator/server';
import { type PipelineHarness, startPipelineHarness } from '../helpers/pipeline';

const LB1 = 'loadbalancer-7f3a9c21';
const LB2 = 'loadbalancer-b81e0d44';

const request = (
  requestId: string,
  service: string,
  farmType: 'http' | 'tcp',
  farmId: number,
  stickiness: string,
): ChangeRequestedDetail =>
  ({
    requestId,
    service,
    farmType,
    farmId,
    stickiness,
    actor: { kind: 'system', id: 'deploy-bot' },
    requestedAt: new Date().toISOString(),
  }) as ChangeRequestedDetail;

describe.each([
  { leaseWaitMs: 0, how: 'hands its records back' },
  { leaseWaitMs: undefined, how: 'waits for the lease (the default)' },
])(
  'the local pipeline with two pollers (the event source maximum concurrency as deployed): a batch whose load balancers are all held $how',
  ({ leaseWaitMs }) => {
    let sim: RunningSimulator;
    let pipeline: LocalPipeline;
    const batches: { records: SQSRecord[]; result: SQSBatchResponse | undefined }[] = [];
    let harness: PipelineHarness;
    beforeAll(async () => {
      harness = await startPipelineHarness({
        simulator: { task: { todoMs: 20, doingMs: 60 }, faults: { latencyMs: 20 } },
        pipeline: {
          batchSize: 3,
          pollers: 2,
          onBatch: (records, result) => batches.push({ records, result }),
          ...(leaseWaitMs !== undefined ? { leaseWaitMs } : {}),
        },
      });
      ({ sim, pipeline } = harness);
    });
    afterAll(() => harness.close());

    it('applies a burst split across concurrent batches with one service never refreshed by two batches at once', async () => {
      const burst = [
        request('c-1', LB1, 'http', 101, 'cookie'),
        request('c-2', LB2, 'http', 111, 'none'),
        request('c-3', LB1, 'http', 102, 'cookie'),
        request('c-4', LB2, 'http', 112, 'sourceIp'),
        request('c-5', LB1, 'tcp', 202, 'none'),
        request('c-6', LB2, 'tcp', 211, 'none'),
        request('c-7', LB1, 'http', 104, 'sourceIp'),
        request('c-8', LB2, 'tcp', 212, 'sourceIp'),
      ];
      await pipeline.publish(burst, 'acme.deploys');
      await pipeline.queue.drained();

      // Every request applied once, audited once; nothing lost.
      const audits = pipeline.bus.events
        .filter((e) => e.source === 'stickler' && e['detail-type'].startsWith('Stickiness Change'))
        .map((e) => e.detail as ChangeAuditDetail);
      expect(audits.map((a) => [a.requestId, a.outcome]).sort()).toEqual(
        burst.map((r) => [r.requestId, 'applied']).sort(),
      );
      expect(pipeline.queue.deadLetters).toEqual([]);
      for (const r of burst) {
        const farm = sim.state.services.get(r.service)!.farms.get(`${r.farmType}/${r.farmId}`)!;
        const zone = [...farm.applied.keys()][0]!;
        expect([r.requestId, farm.applied.get(zone)?.stickiness ?? 'none']).toEqual([
          r.requestId,
          r.stickiness,
        ]);
      }

      // The burst really was split into concurrent batches. Without a wait, a service held by one
      // batch was handed back by the other; with it, nothing was handed back (each hand-back costs a receive).
      expect(batches.length).toBeGreaterThan(2);
      const handedBack = batches.reduce((n, b) => n + (b.result?.batchItemFailures.length ?? 0), 0);
      if (leaseWaitMs === 0) expect(handedBack).toBeGreaterThan(0);
      else expect(handedBack).toBe(0);

      // One service's refresh tasks never overlap, whichever batch asked for them.
      for (const service of [LB1, LB2]) {
        const tasks = [...sim.state.services.get(service)!.tasks].sort((a, b) => a.createdAt - b.createdAt);
        for (let i = 1; i < tasks.length; i++) {
          expect(tasks[i]!.createdAt).toBeGreaterThanOrEqual(tasks[i - 1]!.doneAt!);
        }
      }
    }, 60_000);
  },
);
