import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { type CliIo, runCli } from '../../lib/cli/main';
import type { LocalPipeline } from '../../lib/local/pipeline';
import type { RunningSimulator } from '../../lib/simulator/server';
import { type PipelineHarness, startPipelineHarness } from '../helpers/pipeline';

const examples = join(__dirname, '../../examples');
const SERVICE = 'loadbalancer-7f3a9c21';

/**
 * `stickler refresh SERVICE ZONE --pipeline` on the local pipeline, as an operator runs it after
 * pasting the exports of `stickler simulate --pipeline`: the CLI reads the zone's count and asks;
 * the worker applies the zone, only if it still holds what was approved, and audits the outcome.
 */
describe('stickler refresh --pipeline on the local pipeline', () => {
  let sim: RunningSimulator;
  let pipeline: LocalPipeline;
  let harness: PipelineHarness;
  beforeEach(async () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    harness = await startPipelineHarness();
    ({ sim, pipeline } = harness);
  });
  afterEach(() => harness.close());

  /** Runs the CLI; `onPrompt`, when given, is called at the question and its answer typed. */
  const run = async (args: string[], onPrompt?: () => string) => {
    const out: string[] = [];
    const err: string[] = [];
    const stdin = new PassThrough();
    if (!onPrompt) stdin.end();
    const io: CliIo = {
      stdout: { write: (t: string) => out.push(t) },
      stderr: {
        write: (t: string) => {
          err.push(t);
          if (onPrompt && t.includes("Type 'yes'")) stdin.end(`${onPrompt()}\n`);
        },
      },
      stdin,
      env: { ...process.env, ...pipeline.env },
      interactive: onPrompt !== undefined,
      cwd: examples,
    };
    const code = await runCli(args, io);
    return { code, out: out.join(''), err: err.join('') };
  };
  const events = (type: string) => pipeline.bus.events.filter((e) => e['detail-type'] === type);
  const audit = () =>
    pipeline.bus.events.filter(
      (e) => e['detail-type'].startsWith('Zone Refresh ') && e.source === 'stickler',
    );
  /** Stores an edit of a farm of zone gra without applying it (a control panel, a refresh cut short). */
  const editWithoutApplying = (farmKey: string) => {
    const service = sim.state.services.get(SERVICE)!;
    const farm = service.farms.get(farmKey)!;
    sim.state.updateFarm(service, farm, {
      stickiness: farm.stored.stickiness === 'cookie' ? 'sourceIp' : 'cookie',
    });
  };

  it('applies a zone left holding an unapplied change: one audit event, the zone applied, and status knows the refresh', async () => {
    editWithoutApplying('http/101');
    const refreshesBefore = sim.stats.calls.refresh ?? 0;
    const { code, out } = await run(['refresh', SERVICE, 'gra', '--pipeline', '--yes', '--json']);
    expect(code).toBe(0);
    const doc = JSON.parse(out);
    expect(doc).toMatchObject({
      mode: 'pipeline',
      where: 'the local pipeline',
      service: SERVICE,
      zone: 'gra',
      pendingChanges: 1,
      outcome: 'applied',
      refreshId: expect.stringMatching(/^refresh-/),
      taskId: expect.any(Number),
    });
    const requested = events('Zone Refresh Requested');
    expect(requested).toHaveLength(1);
    expect(requested[0]).toMatchObject({
      source: 'stickler.cli',
      detail: { refreshId: doc.refreshId, ifPending: 1, actor: { kind: 'cli', id: 'local' } },
    });
    expect(audit().map((e) => e['detail-type'])).toEqual(['Zone Refresh Applied']);
    expect(audit()[0]!.detail).toMatchObject({ refreshId: doc.refreshId, outcome: 'applied', pending: 1 });
    expect((sim.stats.calls.refresh ?? 0) - refreshesBefore).toBe(1);
    // Nothing left to apply: the CLI says so and publishes nothing.
    const again = await run(['refresh', SERVICE, 'gra', '--pipeline', '--yes']);
    expect(again.code).toBe(0);
    expect(again.out).toContain('has no unapplied changes: nothing to apply');
    expect(events('Zone Refresh Requested')).toHaveLength(1);
    const status = await run(['status', doc.refreshId, '--pipeline', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.out).requests[0]).toMatchObject({
      requestId: doc.refreshId,
      state: 'ended',
      outcome: 'applied',
      service: SERVICE,
      zone: 'gra',
    });
  });

  it('refuses changed-since when a second operator writes in the zone between the look and the worker: nothing applied', async () => {
    editWithoutApplying('http/101');
    const refreshesBefore = sim.stats.calls.refresh ?? 0;
    const { code, out } = await run(['refresh', SERVICE, 'gra', '--pipeline'], () => {
      // The operator looked (1 change) and is about to say yes; someone else stores one more meanwhile.
      editWithoutApplying('http/104');
      return 'yes';
    });
    expect(out).toContain('holds 1 unapplied change(s)');
    expect(code).toBe(2);
    expect(out).toMatch(
      /NOT applied: refused \(changed-since\): .*holds 2 unapplied change\(s\), not the 1 approved/,
    );
    expect(audit().map((e) => [e['detail-type'], (e.detail as { code: string }).code])).toEqual([
      ['Zone Refresh Refused', 'changed-since'],
    ]);
    expect((sim.stats.calls.refresh ?? 0) - refreshesBefore).toBe(0);
  });

  it('checks its input before anything is published: an unknown zone, --reason or --wait without --pipeline, no answer off a terminal', async () => {
    editWithoutApplying('http/101');
    const zone = await run(['refresh', SERVICE, 'nowhere', '--pipeline', '--yes']);
    expect(zone.code).toBe(1);
    expect(zone.err).toMatch(/has no zone 'nowhere'/);
    const reason = await run(['refresh', SERVICE, 'gra', '--reason', 'x', '--yes']);
    expect(reason.err).toMatch(/--wait and --reason go with --pipeline/);
    const asked = await run(['refresh', SERVICE, 'gra', '--pipeline']);
    expect(asked.code).toBe(1);
    expect(asked.err).toMatch(/refusing to apply without confirmation/);
    expect(events('Zone Refresh Requested')).toEqual([]);
  });
});
