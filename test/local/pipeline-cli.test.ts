import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { type CliIo, runCli } from '../../lib/cli/main';
import type { ChangeRequestedDetail } from '../../lib/domain/events';
import { toWord } from '../../lib/domain/stickiness';
import type { LocalPipeline } from '../../lib/local/pipeline';
import type { RunningSimulator } from '../../lib/simulator/server';
import { type PipelineHarness, startPipelineHarness } from '../helpers/pipeline';

const examples = join(__dirname, '../../examples');
const TERMINAL = /^Stickiness Change (Applied|Unchanged|Refused|Failed|Cancelled)$/;

/**
 * The CLI through the local pipeline, as an operator runs it after pasting the exports of
 * `stickler simulate --pipeline`: apply, set, status, undo and cancel go through the bus, the
 * queue and the worker; nothing is written to OVH by the CLI itself.
 */
describe('stickler apply|set|status|undo|cancel --pipeline on the local pipeline', () => {
  let sim: RunningSimulator;
  let pipeline: LocalPipeline;
  let harness: PipelineHarness;
  beforeEach(async () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    harness = await startPipelineHarness();
    ({ sim, pipeline } = harness);
  });
  afterEach(() => harness.close());

  const run = async (args: string[], env: Record<string, string> = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const stdin = new PassThrough();
    stdin.end();
    const io: CliIo = {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => err.push(t) },
      stdin,
      env: { ...process.env, ...pipeline.env, ...env },
      interactive: false,
      cwd: examples,
    };
    const code = await runCli(args, io);
    return { code, out: out.join(''), err: err.join('') };
  };
  const events = (type: RegExp | string) =>
    pipeline.bus.events.filter((e) =>
      typeof type === 'string' ? e['detail-type'] === type : type.test(e['detail-type']),
    );
  const stored = (service: string, farm: string) =>
    toWord((sim.state.services.get(service)!.farms.get(farm)!.stored.stickiness ?? null) as never);
  /** The CLI's own writes to OVH: none, through the pipeline (the worker writes). */
  const writes = () => (sim.stats.calls['put-farm'] ?? 0) + (sim.stats.calls.refresh ?? 0);

  it('apply --pipeline plans, publishes one request per change as the operator, and prints each outcome with its request id', async () => {
    const { code, out } = await run(['apply', '--policy', 'policy.yaml', '--pipeline', '--yes', '--json']);
    const doc = JSON.parse(out);
    // The example policy holds one change it can never make (cookie on a TCP farm): refused, exit 2.
    expect(code).toBe(2);
    expect(doc).toMatchObject({
      mode: 'pipeline',
      where: 'the local pipeline',
      actor: { id: 'local' },
      invalid: 1,
    });
    expect(doc.changes.length).toBeGreaterThan(0);
    expect(doc.changes.every((c: { outcome: string }) => c.outcome === 'applied')).toBe(true);
    const requested = events('Stickiness Change Requested');
    expect(requested.map((e) => (e.detail as ChangeRequestedDetail).requestId).sort()).toEqual(
      doc.changes.map((c: { requestId: string }) => c.requestId).sort(),
    );
    expect(requested.every((e) => e.source === 'stickler.cli')).toBe(true);
    expect(requested[0]!.detail).toMatchObject({
      actor: { kind: 'cli', id: 'local' },
      reason: 'stickler apply --policy policy.yaml',
    });
    expect(events('Stickiness Change Applied')).toHaveLength(doc.changes.length);
    // A second apply finds nothing to do.
    const again = await run(['apply', '--policy', 'policy.yaml', '--pipeline', '--yes', '--json']);
    expect(JSON.parse(again.out).changes).toEqual([]);
  });

  it('two operators applying the same policy at once: at most one refresh per zone, one audit event per change', async () => {
    const plan = JSON.parse((await run(['plan', '--policy', 'policy.yaml', '--json'])).out);
    const zones = new Set(
      (plan.changes as { service: string; zone: string }[]).map((c) => `${c.service}/${c.zone}`),
    );
    expect(zones.size).toBeGreaterThan(1);
    const [a, b] = await Promise.all([
      run(['apply', '--policy', 'policy.yaml', '--pipeline', '--yes', '--json']),
      run(['apply', '--policy', 'policy.yaml', '--pipeline', '--yes', '--json']),
    ]);
    const changes = [...JSON.parse(a.out).changes, ...JSON.parse(b.out).changes];
    expect(sim.stats.calls.refresh).toBeLessThanOrEqual(zones.size);
    expect(events(TERMINAL)).toHaveLength(changes.length);
    expect(new Set(changes.map((c: { requestId: string }) => c.requestId)).size).toBe(changes.length);
    expect(
      changes.every((c: { outcome: string }) => ['applied', 'unchanged', 'refused'].includes(c.outcome)),
    ).toBe(true);
  });

  it('set --pipeline, then status and undo: the farm goes back to its before, audited, and a second undo names the newer request', async () => {
    const service = 'loadbalancer-7f3a9c21';
    const before = stored(service, 'http/101');
    const target = before === 'cookie' ? 'sourceIp' : 'cookie';
    const set = await run(['set', service, 'http/101', target, '--pipeline', '--yes', '--json']);
    expect(set.code).toBe(0);
    const [change] = JSON.parse(set.out).changes;
    expect(change).toMatchObject({ outcome: 'applied', before, after: target });
    expect(stored(service, 'http/101')).toBe(target);

    const status = await run(['status', change.requestId, '--pipeline', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.out).requests[0]).toMatchObject({
      state: 'ended',
      outcome: 'applied',
      after: target,
    });

    const undo = await run(['undo', change.requestId, '--pipeline', '--yes', '--json']);
    expect(undo.code).toBe(0);
    const undoDoc = JSON.parse(undo.out);
    expect(undoDoc.undoOf).toEqual([change.requestId]);
    expect(undoDoc.changes[0]).toMatchObject({ outcome: 'applied', before: target, after: before });
    expect(stored(service, 'http/101')).toBe(before);
    const undoRequest = events('Stickiness Change Requested').at(-1)!.detail as ChangeRequestedDetail;
    expect(undoRequest.reason).toBe(`undo of ${change.requestId}`);

    const again = await run(['undo', change.requestId, '--pipeline', '--yes']);
    expect(again.code).toBe(2);
    expect(again.out).toContain(`has been changed since by request ${undoDoc.changes[0].requestId}`);
  });

  it('undo --run puts a whole run back from the records, and undo --ticket then names the newer undo; an unknown run is said', async () => {
    const applied = await run([
      'apply',
      '--policy',
      'policy.yaml',
      '--pipeline',
      '--yes',
      '--json',
      '--ticket',
      'OPS-77',
    ]);
    const doc = JSON.parse(applied.out);
    expect(doc.changes.length).toBeGreaterThan(1);
    const farmKeyOfRequest = (c: { service: string; farmType: string; farmId: number }) =>
      `${c.service}/${c.farmType}/${c.farmId}`;
    const before = new Map(
      doc.changes.map((c: { service: string; farmType: string; farmId: number; before: string }) => [
        farmKeyOfRequest(c),
        c.before,
      ]),
    );

    const undo = await run(['undo', '--run', doc.runId, '--pipeline', '--yes', '--json']);
    expect(undo.code).toBe(0);
    const undoDoc = JSON.parse(undo.out);
    expect([...undoDoc.undoOf].sort()).toEqual(
      doc.changes.map((c: { requestId: string }) => c.requestId).sort(),
    );
    expect(undoDoc.changes).toHaveLength(doc.changes.length);
    for (const c of undoDoc.changes) {
      expect(c.outcome).toBe('applied');
      expect(c.after).toBe(before.get(farmKeyOfRequest(c)));
    }
    const undoRequest = events('Stickiness Change Requested').at(-1)!.detail as ChangeRequestedDetail;
    expect(undoRequest.reason).toBe(`undo of run ${doc.runId}`);

    const byTicket = await run(['undo', '--ticket', 'OPS-77', '--pipeline', '--yes']);
    expect(byTicket.code).toBe(2);
    expect(byTicket.out).toContain(`Ticket OPS-77: ${doc.changes.length} request(s) in the records.`);
    expect(byTicket.out).toContain('has been changed since by request cli-');

    const unknown = await run(['undo', '--run', 'no-such-run', '--pipeline', '--yes']);
    expect(unknown.code).toBe(2);
    expect(unknown.out).toContain("No request of run no-such-run in the local pipeline's records");
    const both = await run(['undo', 'some-id', '--run', doc.runId, '--pipeline', '--yes']);
    expect(both.code).toBe(1);
    expect(both.err).toContain('give request ids or --run RUN_ID, not both');
  });

  it('set --pipeline of cookie on a TCP farm publishes nothing and exits 2, naming the problem', async () => {
    const { code, err } = await run([
      'set',
      'loadbalancer-7f3a9c21',
      'tcp/201',
      'cookie',
      '--pipeline',
      '--yes',
    ]);
    expect(code).toBe(2);
    expect(err).toMatch(/Nothing requested: .*stickiness: .*cookie/s);
    expect(events('Stickiness Change Requested')).toEqual([]);
  });

  it('asks before publishing: off a terminal without --yes nothing is requested', async () => {
    const { code, err } = await run(['apply', '--policy', 'policy.yaml', '--pipeline']);
    expect(code).toBe(1);
    expect(err).toMatch(/refusing to apply without confirmation/);
    expect(events('Stickiness Change Requested')).toEqual([]);
    expect(writes()).toBe(0);
  });

  it('an undo is carried out only over what it showed: a change made after its question is not overwritten', async () => {
    const service = 'loadbalancer-7f3a9c21';
    const before = stored(service, 'http/102');
    const target = before === 'cookie' ? 'sourceIp' : 'cookie';
    const set = JSON.parse(
      (await run(['set', service, 'http/102', target, '--pipeline', '--yes', '--json'])).out,
    );
    const undo = await run(['undo', set.changes[0].requestId, '--pipeline', '--yes', '--json']);
    expect(undo.code).toBe(0);
    // The undo's request names what it was made against: the value it showed as "from".
    const undoRequest = events('Stickiness Change Requested').at(-1)!.detail as ChangeRequestedDetail;
    expect(undoRequest).toMatchObject({ stickiness: before, ifStores: target });
    // Another operator changes the farm after an undo was asked (published here as it would be).
    const third = before === 'none' ? 'sourceIp' : 'none';
    await run(['set', service, 'http/102', third, '--pipeline', '--yes']);
    const late = { ...undoRequest, requestId: 'undo-late-1', requestedAt: new Date().toISOString() };
    await pipeline.publish([late], 'stickler.cli');
    for (
      let i = 0;
      i < 100 &&
      !events(TERMINAL).some((e) => (e.detail as { requestId: string }).requestId === 'undo-late-1');
      i++
    )
      await new Promise((r) => setTimeout(r, 50));
    const outcome = events(TERMINAL).find(
      (e) => (e.detail as { requestId: string }).requestId === 'undo-late-1',
    )!;
    expect(outcome.detail).toMatchObject({ outcome: 'refused', code: 'changed-since' });
    expect((outcome.detail as { message: string }).message).toContain(
      `the farm stores ${third}, not the ${target}`,
    );
    expect(stored(service, 'http/102')).toBe(third);
  });

  it('cancel --pipeline ends a request waiting for its window; a second cancel is refused with why', async () => {
    const requestId = 'ops-window-1';
    const notBefore = new Date(Date.now() + 3_600_000).toISOString();
    await pipeline.publish(
      [
        {
          requestId,
          service: 'loadbalancer-7f3a9c21',
          farmType: 'http',
          farmId: 101,
          stickiness: 'none',
          actor: { kind: 'system', id: 'change-system' },
          requestedAt: new Date().toISOString(),
          window: { notBefore },
        },
      ],
      'acme.changes',
    );
    // Wait for the worker to defer it.
    for (let i = 0; i < 100; i++) {
      if (events('Stickiness Change Deferred').length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const status = await run(['status', requestId, '--pipeline']);
    expect(status.out).toMatch(/deferred\s+ops-window-1\s+waits for its change window/);
    const cancel = await run(['cancel', requestId, '--pipeline', '--reason', 'not tonight', '--json']);
    expect(cancel.code).toBe(0);
    expect(JSON.parse(cancel.out)).toMatchObject({ requestId, outcome: 'cancelled' });
    expect(events('Stickiness Change Cancelled')).toHaveLength(1);
    const second = await run(['cancel', requestId, '--pipeline']);
    expect(second.code).toBe(2);
    expect(second.out).toMatch(/Not cancelled: ops-window-1: it had already ended: cancelled/);
    expect(writes()).toBe(0);
  });

  it('refuses what does not go through the pipeline: --allow-foreign-pending, status without a pipeline', async () => {
    const foreign = await run([
      'apply',
      '--policy',
      'policy.yaml',
      '--pipeline',
      '--allow-foreign-pending',
      '--yes',
    ]);
    expect(foreign.err).toMatch(/--allow-foreign-pending is for direct mode/);
    const status = await run(['status', 'x-1']);
    expect(status.err).toMatch(/'status' works on the pipeline's records: add --pipeline/);
    const badId = await run(['status', 'not an id', '--pipeline']);
    expect(badId.err).toMatch(/is not a request id/);
    expect(writes()).toBe(0);
  });

  it('set --pipeline of a farm already at its target, in a zone holding unapplied changes, asks first (refused off a terminal without --yes)', async () => {
    const service = sim.state.services.get('loadbalancer-7f3a9c21')!;
    const web = service.farms.get('http/101')!;
    const other = service.farms.get('http/104')!;
    // Another farm of zone gra stored but not applied (a control-panel edit, say).
    sim.state.updateFarm(service, other, {
      stickiness: other.stored.stickiness === 'cookie' ? 'sourceIp' : 'cookie',
    });
    const target = toWord((web.stored.stickiness ?? null) as never);
    const { code, err, out } = await run(['set', 'loadbalancer-7f3a9c21', 'http/101', target, '--pipeline']);
    expect(code).toBe(1);
    expect(out).toContain('holds 1 unapplied change(s)');
    expect(err).toMatch(/refusing to apply without confirmation/);
    expect(events('Stickiness Change Requested')).toEqual([]);
  });

  it('set and apply --pipeline --prefer quietest: the worker defers each request to the quietest slot of the window, writing nothing yet', async () => {
    // A window from the next midnight UTC: its quietest slot (the curve's 04:00 UTC) is never now.
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    const window = `${midnight.toISOString()}/PT12H`;
    const service = 'loadbalancer-7f3a9c21';
    const target = stored(service, 'http/101') === 'cookie' ? 'sourceIp' : 'cookie';
    const set = await run([
      'set',
      service,
      'http/101',
      target,
      '--pipeline',
      '--prefer',
      'quietest',
      '--window',
      window,
      '--yes',
      '--json',
    ]);
    expect(set.code).toBe(0);
    const [change] = JSON.parse(set.out).changes;
    expect(change.outcome).toBe('deferred');
    expect(
      Math.abs(Date.parse(change.deferredUntil) - (midnight.getTime() + 4 * 3_600_000)),
    ).toBeLessThanOrEqual(5 * 60_000);
    expect(events('Stickiness Change Requested')[0]!.detail).toMatchObject({
      window: {
        notBefore: midnight.toISOString(),
        notAfter: new Date(midnight.getTime() + 12 * 3_600_000).toISOString(),
        prefer: 'quietest',
      },
    });
    expect(writes()).toBe(0);
    // apply: the default window is the next 24 hours, from now.
    const apply = await run([
      'apply',
      '--policy',
      'policy.yaml',
      '--pipeline',
      '--prefer',
      'quietest',
      '--yes',
      '--json',
    ]);
    const requested = events('Stickiness Change Requested')
      .slice(1)
      .map((e) => e.detail as ChangeRequestedDetail);
    expect(requested.length).toBeGreaterThan(0);
    for (const r of requested) {
      expect(r.window?.prefer).toBe('quietest');
      expect(Date.parse(r.window!.notAfter!) - Date.parse(r.window!.notBefore!)).toBeLessThanOrEqual(
        24 * 3_600_000,
      );
    }
    expect(JSON.parse(apply.out).changes.length).toBe(requested.length);
  });

  it('plan --pipeline says the slot each zone an apply would refresh already waits for, and whether the window holds it; direct mode says nothing of it', async () => {
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    const window = `${midnight.toISOString()}/PT12H`;
    const service = 'loadbalancer-7f3a9c21';
    const plan = (more: string[]) =>
      run(['plan', '--policy', 'policy.yaml', '--service', service, '--window', window, ...more]);
    const direct = await plan(['--json']);
    expect(JSON.parse(direct.out)).not.toHaveProperty('zoneSlots');
    const change = JSON.parse(direct.out).changes[0] as {
      type: string;
      farmId: number;
      zone: string;
      to: string;
    };
    expect(change).toBeDefined();
    // Nothing remembered yet: the pipeline is asked, and says no zone waits.
    expect(JSON.parse((await plan(['--pipeline', '--json'])).out).zoneSlots).toEqual([]);
    expect((await plan(['--pipeline'])).out).toContain(
      'No zone an apply would refresh waits for a slot in the pipeline.',
    );
    // A request of that farm deferred to the quietest slot of the window: its zone now waits for it.
    const set = await run([
      'set',
      service,
      `${change.type}/${change.farmId}`,
      change.to,
      '--pipeline',
      '--prefer',
      'quietest',
      '--window',
      window,
      '--yes',
      '--json',
    ]);
    const deferredUntil = JSON.parse(set.out).changes[0].deferredUntil as string;
    expect(deferredUntil).toBeDefined();
    const slots = JSON.parse((await plan(['--pipeline', '--json'])).out).zoneSlots;
    expect(slots).toEqual([
      {
        service,
        zone: change.zone,
        at: new Date(Date.parse(deferredUntil)).toISOString(),
        typicalRequestsPerSecond: expect.any(Number),
        inWindow: true,
        joined: true,
        joinedBy: [change.zone],
      },
    ]);
    const text = (await plan(['--pipeline'])).out;
    expect(text).toContain(`${service} · zone ${change.zone}`);
    expect(text).toContain(`waiting slot: ${deferredUntil.slice(0, 16).replace('T', ' ')} UTC (≈ `);
    expect(text).toContain('in the window: a request preferring the quietest time joins it');
    // A window that does not hold it: the slot is said, outside the window.
    const later = `${new Date(midnight.getTime() + 13 * 3_600_000).toISOString()}/PT6H`;
    const outside = await run([
      'plan',
      '--policy',
      'policy.yaml',
      '--service',
      service,
      '--window',
      later,
      '--pipeline',
      '--json',
    ]);
    expect(JSON.parse(outside.out).zoneSlots).toEqual([
      expect.objectContaining({ zone: change.zone, inWindow: false }),
    ]);
    // Direct mode says nothing new.
    expect((await plan([])).out).not.toContain('waiting slot');
  });

  it('plan --pipeline says "joins it" of the one slot a zone\'s requests join, and reads every zone of a load balancer with a change in zone all', async () => {
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    const day = `${midnight.toISOString()}/PT24H`;
    const service = 'loadbalancer-7f3a9c21';
    const defer = async (farm: string, target: string, window: string) => {
      const set = await run([
        'set',
        service,
        farm,
        target,
        '--pipeline',
        '--prefer',
        'quietest',
        '--window',
        window,
        '--yes',
        '--json',
      ]);
      return JSON.parse(set.out).changes[0].deferredUntil as string;
    };
    const hours = (h: number) => new Date(midnight.getTime() + h * 3_600_000).toISOString();
    // Two slots of zone gra (the quietest near 04:00, and the end of a busier afternoon window), one of sbg.
    const quiet = await defer('http/101', 'cookie', `${hours(0)}/PT12H`);
    const busy = await defer('http/104', 'none', `${hours(14)}/PT6H`);
    const sbg = await defer('http/102', 'cookie', `${hours(20)}/PT1H`);
    expect(new Set([quiet, busy, sbg]).size).toBe(3);
    const plan = (policy: string, more: string[] = []) =>
      run(['plan', '--policy', policy, '--service', service, '--window', day, '--pipeline', ...more]);
    const slots = JSON.parse((await plan('policy.yaml', ['--json'])).out).zoneSlots as {
      zone: string;
      at: string;
      inWindow: boolean;
      joined: boolean;
      joinedBy: string[];
    }[];
    // Every one in the window; gra's requests join only the quietest of gra's, sbg's its own.
    expect(slots.map((z) => [z.zone, z.at, z.inWindow, z.joined, z.joinedBy])).toEqual([
      ['gra', new Date(quiet).toISOString(), true, true, ['gra']],
      ['gra', new Date(busy).toISOString(), true, false, []],
      ['sbg', new Date(sbg).toISOString(), true, true, ['sbg']],
    ]);
    const text = (await plan('policy.yaml')).out;
    expect(text.match(/a request preferring the quietest time joins it/g)).toHaveLength(2);
    expect(text).toContain(
      'in the window (another is joined: quieter, earlier, or of a zone first by name at the same time)',
    );
    // A change of the api-gateway (zone all) only: every zone of the load balancer is read, and its
    // request joins the quietest of them all (gra's near 04:00), as the worker would.
    const dir = mkdtempSync(join(tmpdir(), 'stickler-all-'));
    const policy = join(dir, 'all.yaml');
    writeFileSync(
      policy,
      'version: 1\nrules:\n  - name: the gateway\n    match: { displayName: api-gateway }\n    stickiness: cookie\n',
    );
    try {
      const all = JSON.parse((await plan(policy, ['--json'])).out);
      expect(all.changes.map((c: { zone: string }) => c.zone)).toEqual(['all']);
      expect(all.zoneSlots.map((z: { zone: string; joinedBy: string[] }) => [z.zone, z.joinedBy])).toEqual([
        ['gra', ['all']],
        ['gra', []],
        ['sbg', []],
      ]);
      expect((await plan(policy)).out).toContain(
        'in the window: a request for zone all preferring the quietest time joins it',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("plan --pipeline goes on when the pipeline's waiting slots cannot be read, and says so", async () => {
    const { code, out, err } = await run(
      ['plan', '--policy', 'policy.yaml', '--service', 'loadbalancer-7f3a9c21', '--pipeline', '--json'],
      { IDEMPOTENCY_TABLE: 'no-such-table' },
    );
    expect(code).toBe(2);
    expect(JSON.parse(out)).toMatchObject({ zoneSlots: [], traffic: expect.any(Object) });
    expect(err).toMatch(/WARNING: could not read the pipeline's waiting slots of loadbalancer-7f3a9c21: /);
  });

  it('refuses --prefer without --pipeline (direct mode applies now), another preference, and --window without --prefer', async () => {
    const calls = () => Object.values(sim.stats.calls).reduce((a, b) => a + b, 0);
    const before = calls();
    const direct = await run([
      'set',
      'loadbalancer-7f3a9c21',
      'http/101',
      'cookie',
      '--prefer',
      'quietest',
      '--yes',
    ]);
    expect(direct.err).toMatch(/--prefer quietest goes with --pipeline: direct mode applies now/);
    const other = await run(['apply', '--policy', 'policy.yaml', '--pipeline', '--prefer', 'soon', '--yes']);
    expect(other.err).toMatch(/--prefer takes quietest/);
    const alone = await run([
      'set',
      'loadbalancer-7f3a9c21',
      'http/101',
      'cookie',
      '--pipeline',
      '--window',
      '2030-01-01T00:00Z/PT1H',
      '--yes',
    ]);
    expect(alone.err).toMatch(/--window goes with --prefer quietest/);
    const bad = await run([
      'set',
      'loadbalancer-7f3a9c21',
      'http/101',
      'cookie',
      '--pipeline',
      '--prefer',
      'quietest',
      '--window',
      'tonight',
      '--yes',
    ]);
    expect(bad.err).toMatch(/--window must be START\/END/);
    for (const r of [direct, other, alone, bad]) expect(r.code).not.toBe(0);
    expect(calls()).toBe(before);
    expect(events('Stickiness Change Requested')).toEqual([]);
  });

  it('checks the pipeline flags before anything is read: --wait without --pipeline, a bad --ticket, a bad --wait', async () => {
    const calls = () => Object.values(sim.stats.calls).reduce((a, b) => a + b, 0);
    const before = calls();
    const direct = await run(['set', 'loadbalancer-7f3a9c21', 'http/101', 'cookie', '--wait', '5', '--yes']);
    expect(direct.err).toMatch(/--wait goes with --pipeline/);
    const ticket = await run([
      'apply',
      '--policy',
      'policy.yaml',
      '--pipeline',
      '--ticket',
      '../bad',
      '--yes',
    ]);
    expect(ticket.err).toMatch(/--ticket: /);
    const wait = await run(['apply', '--policy', 'policy.yaml', '--pipeline', '--wait', 'soon', '--yes']);
    expect(wait.err).toMatch(/--wait must be/);
    expect(calls()).toBe(before);
    expect(events('Stickiness Change Requested')).toEqual([]);
  });

  it('direct mode says once that it does not serialise with other writers', async () => {
    const { err } = await run(['set', 'loadbalancer-7f3a9c21', 'http/101', 'sourceIp', '--yes']);
    expect(err.match(/direct mode/g)).toHaveLength(1);
    expect(events('Stickiness Change Requested')).toEqual([]);
  });

  it('--version prints the package version', async () => {
    const { code, out } = await run(['--version']);
    expect(code).toBe(0);
    expect(out).toMatch(/^stickler \d+\.\d+\.\d+\n$/);
  });
});
