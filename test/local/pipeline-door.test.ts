import type { Target } from '../../lib/app/pipeline-door';
import { connectPipeline } from '../../lib/cli/pipeline';
import { toWord } from '../../lib/domain/stickiness';
import type { RunningSimulator } from '../../lib/simulator/server';
import { type PipelineHarness, startPipelineHarness } from '../helpers/pipeline';

/**
 * The CLI's door on the local pipeline (bus, queue, worker, dynalite, simulator): operators'
 * changes go through the worker, and two operators asking for the same drift at once are
 * serialised by it.
 */
describe('the pipeline door on the local pipeline', () => {
  let harness: PipelineHarness;
  let sim: RunningSimulator;
  beforeEach(async () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    harness = await startPipelineHarness();
    sim = harness.sim;
  });
  afterEach(() => harness.close());

  /** Up to `n` HTTP farms of one load balancer, each asked to go to the other value than it stores. */
  const drift = (n: number): { targets: Target[]; zones: Set<string>; service: string } => {
    const service = [...sim.state.services.values()].find(
      (s) => [...s.farms.values()].filter((f) => f.type === 'http' && f.zone !== 'all').length >= 3,
    )!;
    const farms = [...service.farms.values()]
      .filter((f) => f.type === 'http' && f.zone !== 'all')
      .slice(0, n);
    return {
      service: service.name,
      zones: new Set(farms.map((f) => f.zone)),
      targets: farms.map((f) => ({
        farm: { service: service.name, type: 'http', farmId: f.farmId },
        stickiness: toWord((f.stored.stickiness ?? null) as never) === 'cookie' ? 'sourceIp' : 'cookie',
      })),
    };
  };
  const asker = (who: string) => ({ actor: { id: who }, reason: 'test' });
  const follow = { timeoutMs: 30_000, pollMs: 50 };

  it("applies an operator's changes through the worker, with an audit event per change, the operator as actor", async () => {
    const connection = await connectPipeline(process.env, { pipeline: true });
    expect(connection).toMatchObject({ local: true, where: 'the local pipeline', actor: { id: 'local' } });
    const { targets, zones } = drift(3);
    const result = await connection.door.request('run-a', targets, asker('local'), follow);
    expect(
      [...result.outcomes.values()].map((o) => (o.kind === 'ended' ? o.terminal.outcome : o.kind)),
    ).toEqual(targets.map(() => 'applied'));
    const audits = harness.pipeline.bus.events.filter(
      (e) => e['detail-type'] === 'Stickiness Change Applied',
    );
    expect(audits.map((e) => (e.detail as { requestId: string }).requestId).sort()).toEqual(
      result.requested.map((r) => r.requestId).sort(),
    );
    expect(audits.every((e) => (e.detail as { actor: { kind: string } }).actor.kind === 'cli')).toBe(true);
    expect(
      harness.pipeline.bus.events
        .filter((e) => e['detail-type'] === 'Stickiness Change Requested')
        .every((e) => e.source === 'stickler.cli'),
    ).toBe(true);
    expect(sim.stats.calls.refresh).toBe(zones.size);
  });

  it('serialises two operators asking for the same drift at once: at most one refresh per zone, one outcome per request', async () => {
    const [alice, bob] = await Promise.all([
      connectPipeline(process.env, { pipeline: true }),
      connectPipeline(process.env, { pipeline: true }),
    ]);
    const { targets, zones } = drift(4);
    const [a, b] = await Promise.all([
      alice.door.request('run-alice', targets, asker('alice'), follow),
      bob.door.request('run-bob', targets, asker('bob'), follow),
    ]);
    const outcomes = [...a.outcomes.values(), ...b.outcomes.values()].map((o) =>
      o.kind === 'ended' ? o.terminal.outcome : o.kind,
    );
    // Each farm changed once: one of the two requests applied it, the other found it done.
    expect(outcomes.filter((o) => o === 'applied')).toHaveLength(targets.length);
    expect(outcomes.filter((o) => o === 'applied' || o === 'unchanged' || o === 'refused')).toHaveLength(
      2 * targets.length,
    );
    expect(sim.stats.calls.refresh).toBeLessThanOrEqual(zones.size);
    const terminal = harness.pipeline.bus.events.filter((e) =>
      /^Stickiness Change (Applied|Unchanged|Refused|Failed)$/.test(e['detail-type']),
    );
    expect(terminal).toHaveLength(2 * targets.length);
  });

  it('undoes an applied request: the farm goes back to its before, through the worker, audited', async () => {
    const connection = await connectPipeline(process.env, { pipeline: true });
    const { targets } = drift(1);
    const before = targets[0]!.stickiness === 'cookie' ? 'sourceIp' : 'cookie';
    const first = await connection.door.request('run-1', targets, asker('local'), follow);
    const id = first.requested[0]!.requestId;
    const plan = await connection.door.planUndo([id], false);
    expect(plan.refused).toEqual([]);
    expect(plan.reverse).toEqual([
      { requestId: id, farm: targets[0]!.farm, from: targets[0]!.stickiness, to: expect.any(String) },
    ]);
    const undo = await connection.door.request(
      'run-2',
      plan.reverse.map((r) => ({ farm: r.farm, stickiness: r.to })),
      { ...asker('local'), reason: `undo of ${id}` },
      follow,
    );
    const outcome = [...undo.outcomes.values()][0]!;
    expect(outcome).toMatchObject({
      kind: 'ended',
      terminal: { outcome: 'applied', after: plan.reverse[0]!.to },
    });
    // The farm is back where it was (the example fleet's value, whatever it was).
    const farm = sim.state.services
      .get(targets[0]!.farm.service)!
      .farms.get(`http/${targets[0]!.farm.farmId}`);
    expect(toWord((farm?.stored.stickiness ?? null) as never)).toBe(plan.reverse[0]!.to);
    expect(plan.reverse[0]!.to === before || plan.reverse[0]!.to === 'none').toBe(true);
    // The original request cannot be undone twice blindly: the farm's live request is now the undo.
    const again = await connection.door.planUndo([id], false);
    expect(again.refused[0]).toMatchObject({ requestId: id, newer: undo.requested[0]!.requestId });
  });
});
