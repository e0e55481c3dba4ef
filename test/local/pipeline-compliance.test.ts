import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { type CliIo, runCli } from '../../lib/cli/main';
import type { LocalPipeline } from '../../lib/local/pipeline';
import type { RunningSimulator } from '../../lib/simulator/server';
import { type PipelineHarness, startPipelineHarness } from '../helpers/pipeline';

const examples = join(__dirname, '../../examples');

describe('stickler compliance on the local pipeline (the same handler as the scheduled function)', () => {
  let sim: RunningSimulator;
  let pipeline: LocalPipeline;
  let harness: PipelineHarness;
  beforeEach(async () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    harness = await startPipelineHarness();
    ({ sim, pipeline } = harness);
  });
  afterEach(() => harness.close());

  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const stdin = new PassThrough();
    stdin.end();
    const io: CliIo = {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => err.push(t) },
      stdin,
      env: { ...process.env, ...pipeline.env },
      interactive: false,
      cwd: examples,
    };
    const code = await runCli(['compliance', ...args], io);
    return { code, out: out.join(''), err: err.join('') };
  };
  const runEvents = (type: string) => pipeline.bus.events.filter((e) => e['detail-type'] === type);
  const plan = async () => {
    const { code } = await run(['--policy', 'policy.yaml', '--mode', 'report', '--json']);
    return code;
  };

  it('report lists the drift and changes nothing', async () => {
    const { code, out } = await run(['--policy', 'policy.yaml', '--mode', 'report', '--json']);
    expect(code).toBe(0);
    const result = JSON.parse(out);
    expect(result).toMatchObject({ mode: 'report', requested: 0, blocked: false });
    expect(result.drifted).toBeGreaterThan(0);
    expect(runEvents('Compliance Drift Detected')).toHaveLength(1);
    expect(runEvents('Compliance Run Completed')).toHaveLength(1);
    expect(sim.stats.calls['put-farm'] ?? 0).toBe(0);
    expect(sim.stats.calls.refresh ?? 0).toBe(0);
  });

  it('enforce leaves every farm the policy can reach compliant and applied, each touched zone refreshed once', async () => {
    const { code, out } = await run(['--policy', 'policy.yaml', '--mode', 'enforce', '--json']);
    expect(code).toBe(0);
    const { requested, drifted } = JSON.parse(out);
    expect(requested).toBe(drifted);
    await pipeline.queue.drained();
    const applied = pipeline.bus.events.filter(
      (e) => e.source === 'stickler' && e['detail-type'] === 'Stickiness Change Applied',
    );
    expect(applied).toHaveLength(requested);
    const zones = runEvents('Zone Configuration Applied').map(
      (e) => `${(e.detail as { service: string }).service}/${(e.detail as { zone: string }).zone}`,
    );
    expect(new Set(zones).size).toBe(zones.length);
    pipeline.bus.events.length = 0;
    await plan();
    expect((runEvents('Compliance Run Completed')[0]!.detail as { drifted: number }).drifted).toBe(0);
  });

  it("enforce applies zones a failed worker refresh left holding stickler's own writes, whose farms look compliant", async () => {
    sim.faults.taskErrorRate = 1; // every refresh task ends in error: the worker's writes stay unapplied
    const first = JSON.parse((await run(['--policy', 'policy.yaml', '--mode', 'enforce', '--json'])).out);
    expect(first.requested).toBeGreaterThan(0);
    await pipeline.queue.drained();
    const failed = pipeline.bus.events.filter(
      (e) => e.source === 'stickler' && e['detail-type'] === 'Stickiness Change Failed',
    );
    expect(failed).toHaveLength(first.requested);
    const notLive = () =>
      [...sim.state.services.values()].flatMap((svc) =>
        [...svc.farms.values()]
          .filter((f) => f.type !== 'udp')
          .filter((f) =>
            [...f.applied.values()].some((a) => (a.stickiness ?? null) !== (f.stored.stickiness ?? null)),
          )
          .map((f) => `${svc.name}/${f.type}/${f.farmId}`),
      );
    expect(notLive().length).toBeGreaterThan(0);

    // OVH's tasks work again. On paper the fleet complies (every farm stores its target), so only
    // the zones holding stickler's own unapplied writes are asked for, one request each.
    sim.faults.taskErrorRate = 0;
    pipeline.bus.events.length = 0;
    const second = JSON.parse((await run(['--policy', 'policy.yaml', '--mode', 'enforce', '--json'])).out);
    expect(second).toMatchObject({ drifted: 0 });
    expect(second.unappliedZones).toBeGreaterThan(0);
    expect(second.requested).toBe(second.unappliedZones);
    await pipeline.queue.drained();
    expect(
      pipeline.bus.events.filter(
        (e) => e.source === 'stickler' && e['detail-type'] === 'Stickiness Change Applied',
      ),
    ).toHaveLength(second.requested);
    expect(notLive()).toEqual([]);
  }, 60_000);

  it('over its cap, enforce requests nothing and reports the block', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stickler-compliance-'));
    const capped = join(dir, 'capped.yaml');
    const text = readFileSync(join(examples, 'policy.yaml'), 'utf8');
    expect(text).toMatch(/maxChangesPerRun: \d+/);
    writeFileSync(capped, text.replace(/maxChangesPerRun: \d+/, 'maxChangesPerRun: 1'));
    const { code, out, err } = await run(['--policy', capped, '--mode', 'enforce']);
    expect([code, err]).toEqual([2, '']);
    expect(out).toContain('BLOCKED');
    expect(runEvents('Compliance Run Blocked')).toHaveLength(1);
    expect(runEvents('Stickiness Change Requested')).toEqual([]);
  });

  const zoneByZone = () => {
    const dir = mkdtempSync(join(tmpdir(), 'stickler-rollout-'));
    const file = join(dir, 'rollout.yaml');
    const text = readFileSync(join(examples, 'policy.yaml'), 'utf8');
    writeFileSync(
      file,
      text.replace(/maxChangesPerRun: \d+/, 'maxChangesPerRun: 25\n  rollout: zone-by-zone'),
    );
    return file;
  };
  const until = async (found: () => unknown, ms: number) => {
    for (const end = Date.now() + ms; !found() && Date.now() < end; )
      await new Promise((r) => setTimeout(r, 50));
    return found();
  };

  it('zone-by-zone: applies one zone at a time, each only after the previous one was applied, to the end', async () => {
    const { code, out } = await run(['--policy', zoneByZone(), '--mode', 'enforce', '--json']);
    expect(code).toBe(0);
    const { rolloutZones, drifted } = JSON.parse(out);
    expect(rolloutZones).toBeGreaterThan(1);
    expect(await until(() => runEvents('Compliance Rollout Finished').length > 0, 20_000)).toBe(true);
    const zones = runEvents('Zone Configuration Applied').map(
      (e) => e.detail as { service: string; zone: string; taskId: number },
    );
    expect(zones).toHaveLength(rolloutZones);
    // One zone at a time: a zone's requests first reach the bus after the previous zone was applied.
    const events = pipeline.bus.events;
    const zoneAt = events.flatMap((e, i) => (e['detail-type'] === 'Zone Configuration Applied' ? [i] : []));
    for (let k = 1; k < zoneAt.length; k++) {
      const ids = new Set((events[zoneAt[k]!]!.detail as { requestIds: string[] }).requestIds);
      const firstAsked = events.findIndex(
        (e) =>
          e['detail-type'] === 'Stickiness Change Requested' &&
          ids.has((e.detail as { requestId: string }).requestId),
      );
      expect(firstAsked).toBeGreaterThan(zoneAt[k - 1]!);
    }
    const requested = runEvents('Stickiness Change Requested');
    expect(new Set(requested.map((e) => (e.detail as { requestId: string }).requestId)).size).toBe(drifted);
    await plan();
    expect((runEvents('Compliance Run Completed').at(-1)!.detail as { drifted: number }).drifted).toBe(0);
  }, 40_000);

  it('zone-by-zone: a zone that fails stops the rollout, and the remaining zones are reported, not applied', async () => {
    sim.faults.taskErrorRate = 1; // every refresh task ends in error
    const { out } = await run(['--policy', zoneByZone(), '--mode', 'enforce', '--json']);
    const { rolloutZones } = JSON.parse(out);
    expect(await until(() => runEvents('Compliance Rollout Stopped').length > 0, 20_000)).toBe(true);
    const stopped = runEvents('Compliance Rollout Stopped')[0]!.detail as {
      remaining: unknown[];
      failures: unknown[];
    };
    expect(stopped.remaining).toHaveLength(rolloutZones - 1);
    expect(stopped.failures.length).toBeGreaterThan(0);
    // Only the first zone was ever requested.
    const services = new Set(
      runEvents('Stickiness Change Requested').map((e) => `${(e.detail as { service: string }).service}`),
    );
    expect(services.size).toBe(1);
  }, 40_000);

  it('an unreadable policy fails the run and publishes nothing but the failure', async () => {
    const { code, err } = await run(['--policy', 'no-such.yaml', '--mode', 'enforce']);
    expect(code).toBe(1);
    expect(err).toMatch(/cannot read policy .*no-such\.yaml: ENOENT/);
    expect(pipeline.bus.events.map((e) => e['detail-type'])).toEqual(['Compliance Run Failed']);
  });
});
