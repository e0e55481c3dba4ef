import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { type CliIo, runCli } from '../../lib/cli/main';
import { simulatorEnv } from '../../lib/simulator/server';
import { type SimulatorHarness, smallFleet, startHarness } from '../helpers/simulator';

const examples = join(__dirname, '../../examples');

const makeIo = (env: NodeJS.ProcessEnv, interactive = false, input = '') => {
  const out: string[] = [];
  const err: string[] = [];
  const stdin = new PassThrough();
  stdin.end(input);
  const io: CliIo = {
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    stdin,
    env,
    interactive,
    cwd: examples,
  };
  return { io, out: () => out.join(''), err: () => err.join('') };
};

describe('stickler CLI against the simulator', () => {
  let h: SimulatorHarness;
  let env: NodeJS.ProcessEnv;
  beforeEach(async () => {
    h = await startHarness();
    env = simulatorEnv(h.sim.baseUrl);
  });
  afterEach(() => h.close());

  const policyFile = join(__dirname, '../fixtures/policy.small.yaml');

  it('refuses a policy with a broken pattern before any OVH call, naming file, line and field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stickler-policy-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'version: 1\nrules:\n  - match: { displayName: "[z-a]*" }\n    stickiness: none\n');
    h.sim.resetStats();
    const { io, err } = makeIo(env);
    expect(await runCli(['plan', '--policy', file], io)).toBe(1);
    expect(err()).toContain(`${file}:3:`);
    expect(err()).toContain(
      "rules[0].match.displayName: invalid pattern: '[z-a]' is not a valid character class",
    );
    expect(err()).not.toContain('unexpected error');
    expect(Object.values(h.sim.stats.calls).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('reports a missing policy file before missing credentials', async () => {
    const { io, err } = makeIo({});
    expect(await runCli(['plan', '--policy', 'no-such-policy.yaml'], io)).toBe(1);
    expect(err()).toMatch(/cannot read policy no-such-policy\.yaml: ENOENT/);
  });

  it('plan --json lists changes in the documented shape and exits 2 on drift', async () => {
    const { io, out } = makeIo(env);
    const code = await runCli(['plan', '--policy', policyFile, '--json'], io);
    expect(code).toBe(2);
    const json = JSON.parse(out());
    expect(json).toEqual({
      changes: [
        {
          service: 'loadbalancer-aaa',
          type: 'http',
          farmId: 2,
          zone: 'sbg',
          displayName: 'web-sbg',
          from: 'none',
          to: 'cookie',
          rule: 'web keeps sessions',
        },
      ],
      unchanged: 2,
      invalid: [],
      unreadable: [],
      storedNotApplied: [],
      traffic: {
        window: { start: expect.any(String), end: expect.any(String) },
        services: [expect.objectContaining({ service: 'loadbalancer-aaa', known: true })],
      },
    });
    expect(h.sim.stats.calls['put-farm']).toBe(0);
  });

  it('under faults, leaves out a load balancer it cannot read, applies the others, and says so (--json: in the document)', async () => {
    // Every read of one load balancer's farms fails (after the client's retries); the other is fine.
    await h.close();
    h = await startHarness({
      accessRules: [
        { method: 'GET', path: '/ipLoadbalancing' },
        { method: 'GET', path: '/ipLoadbalancing/loadbalancer-aaa/*' },
        { method: 'GET', path: '/ipLoadbalancing/loadbalancer-bbb/definedFarms' },
        { method: 'PUT', path: '/ipLoadbalancing/*/http/farm/*' },
        { method: 'POST', path: '/ipLoadbalancing/*/refresh' },
      ],
    });
    env = simulatorEnv(h.sim.baseUrl);
    const { io, out, err } = makeIo(env);
    const code = await runCli(
      ['apply', '--policy', policyFile, '--yes', '--json', '--poll-interval', '10'],
      io,
    );
    expect(code).toBe(1);
    const json = JSON.parse(out());
    expect(json.unreadable).toEqual([
      {
        service: 'loadbalancer-bbb',
        code: expect.any(String),
        reason: expect.stringMatching(
          /OVH GET \/ipLoadbalancing\/loadbalancer-bbb\/http\/farm\/\d+: .*NOT_GRANTED_CALL/,
        ),
        retryable: false,
      },
    ]);
    expect(json.applied.map((c: { service: string }) => c.service)).toEqual(['loadbalancer-aaa']);
    expect(err()).toContain('ERROR: could not read loadbalancer-bbb, left out of this run');
  });

  it('prints a JSON document with the error when --json is asked and the run cannot start', async () => {
    const { io, out, err } = makeIo({});
    expect(await runCli(['show', '--json'], io)).toBe(1);
    expect(JSON.parse(out())).toEqual({
      error: { code: 'invalid-config', message: expect.stringMatching(/OVH_/) },
    });
    expect(err()).toMatch(/^stickler: /);
  });

  it('apply refuses to write without --yes when nobody can answer a prompt', async () => {
    const { io, err } = makeIo(env);
    expect(await runCli(['apply', '--policy', policyFile], io)).toBe(1);
    expect(err()).toContain('pass --yes');
    expect(h.sim.stats.calls['put-farm']).toBe(0);
  });

  it('apply asks on a terminal and writes nothing unless the answer is yes', async () => {
    const no = makeIo(env, true, 'no\n');
    expect(await runCli(['apply', '--policy', policyFile], no.io)).toBe(2);
    expect(no.out()).toContain('HTTP sessions are lost');
    expect(h.sim.stats.calls['put-farm']).toBe(0);

    const yes = makeIo(env, true, 'yes\n');
    expect(await runCli(['apply', '--policy', policyFile, '--poll-interval', '10'], yes.io)).toBe(0);
    expect(yes.out()).toContain('Applied 1, unchanged 2, refused 0, failed 0.');
  });

  it('apply --yes --json reports applied changes and refreshes, then plan exits 0', async () => {
    const { io, out } = makeIo(env);
    expect(
      await runCli(['apply', '--policy', policyFile, '--yes', '--json', '--poll-interval', '10'], io),
    ).toBe(0);
    const json = JSON.parse(out());
    expect(json.applied).toEqual([expect.objectContaining({ farmId: 2, from: 'none', to: 'cookie' })]);
    expect(json.refreshes).toEqual([
      { service: 'loadbalancer-aaa', zone: 'sbg', taskId: expect.any(Number), status: 'done' },
    ]);
    expect(json).toMatchObject({ refused: [], failed: [], unchanged: 2 });
    expect(await runCli(['plan', '--policy', policyFile], makeIo(env).io)).toBe(0);
  });

  it('apply stops gracefully on Ctrl-C: says so, starts no zone, exits 1', async () => {
    const { io, out, err } = makeIo(env);
    io.onInterrupt = (listener) => {
      listener('SIGINT'); // Ctrl-C as soon as the run starts listening
      return () => undefined;
    };
    expect(await runCli(['apply', '--policy', policyFile, '--yes', '--json'], io)).toBe(1);
    expect(err()).toContain('Interrupted: finishing the zones already being written, starting no others.');
    expect(JSON.parse(out()).failed).toEqual([
      expect.objectContaining({ code: 'interrupted', retryable: true }),
    ]);
    expect(h.sim.stats.calls['put-farm']).toBe(0);
  });

  it('plan warns that apply would refuse a plan over the policy limit', async () => {
    const { io, err } = makeIo(env);
    expect(await runCli(['plan', '--policy', join(__dirname, '../fixtures/policy.limit.yaml')], io)).toBe(2);
    expect(err()).toContain(
      'WARNING: apply would refuse this plan: the plan changes 2 farms but the policy allows at most 1',
    );
  });

  it('apply refuses a run over the policy limit before any write', async () => {
    const { io, err } = makeIo(env);
    const code = await runCli(
      ['apply', '--policy', join(__dirname, '../fixtures/policy.limit.yaml'), '--yes'],
      io,
    );
    expect(code).toBe(1);
    expect(err()).toContain('allows at most 1 per run');
    expect(h.sim.stats.calls['put-farm']).toBe(0);
  });

  it('set shows the change and the session-loss warning, and asks before writing', async () => {
    const refused = makeIo(env);
    expect(await runCli(['set', 'loadbalancer-aaa', 'http/1', 'none'], refused.io)).toBe(1);
    expect(refused.out()).toContain('loadbalancer-aaa http/1');
    expect(refused.out()).toContain('cookie → none');
    expect(refused.out()).toContain('HTTP sessions are lost');
    expect(refused.err()).toContain('pass --yes');
    // Ctrl-D at the prompt is a refusal, and says so.
    const eof = makeIo(env, true, '');
    expect(await runCli(['set', 'loadbalancer-aaa', 'http/1', 'none'], eof.io)).toBe(2);
    expect(eof.err()).toContain('No answer (end of input): nothing applied.');
    expect(h.sim.stats.calls['put-farm'] ?? 0).toBe(0);
  });

  it('set asks before refreshing a zone for a farm already at its target (--allow-foreign-pending)', async () => {
    // Someone else's stored edit in zone gra; http/1 (gra) already stores cookie.
    await h.api.setStickiness({ service: 'loadbalancer-aaa', type: 'tcp', farmId: 3 }, null);
    h.sim.resetStats();
    const argv = [
      'set',
      'loadbalancer-aaa',
      'http/1',
      'cookie',
      '--allow-foreign-pending',
      '--poll-interval',
      '10',
    ];
    const no = makeIo(env, true, 'no\n');
    expect(await runCli(argv, no.io)).toBe(2);
    expect(no.out()).toContain('already stores cookie, but zone gra holds 1 unapplied change(s)');
    expect(no.out()).toContain('HTTP sessions are lost');
    expect(no.err()).toContain('Apply zone gra of loadbalancer-aaa?');
    expect(h.sim.stats.calls.refresh ?? 0).toBe(0);
    const yes = makeIo(env);
    expect(await runCli([...argv, '--yes'], yes.io)).toBe(0);
    expect(h.sim.stats.calls.refresh).toBe(1);
  });

  it('set clears stickiness with none, and names the ticket', async () => {
    const { io, out } = makeIo(env);
    const code = await runCli(
      [
        'set',
        'loadbalancer-aaa',
        'http/1',
        'none',
        '--ticket',
        'OPS-7',
        '--json',
        '--yes',
        '--poll-interval',
        '10',
      ],
      io,
    );
    expect(code).toBe(0);
    expect(JSON.parse(out()).applied).toEqual([
      expect.objectContaining({ farmId: 1, from: 'cookie', to: 'none', ticket: 'OPS-7', rule: null }),
    ]);
    expect(
      h.sim.state.services.get('loadbalancer-aaa')!.farms.get('http/1')!.applied.get('gra')?.stickiness,
    ).toBeNull();
  });

  it('set refuses cookie on a TCP farm with exit 2 and no write', async () => {
    const { io, out } = makeIo(env);
    expect(await runCli(['set', 'loadbalancer-aaa', 'tcp/3', 'cookie'], io)).toBe(2);
    expect(out()).toContain("stickiness 'cookie' is not allowed on a TCP farm");
    expect(h.sim.stats.calls['put-farm']).toBe(0);
  });

  it('show --json lists farms per service with pending changes and stickiness words', async () => {
    await h.api.setStickiness({ service: 'loadbalancer-bbb', type: 'http', farmId: 10 }, null);
    const { io, out } = makeIo(env);
    expect(await runCli(['show', '--json'], io)).toBe(0);
    const json = JSON.parse(out());
    expect(json.services.map((s: { service: string }) => s.service)).toEqual([
      'loadbalancer-aaa',
      'loadbalancer-bbb',
    ]);
    expect(json.services[1]).toEqual({
      service: 'loadbalancer-bbb',
      pendingChanges: [{ zone: 'rbx', number: 1 }],
      farms: [{ type: 'http', farmId: 10, zone: 'rbx', displayName: 'shop', stickiness: 'none' }],
    });
    const udp = json.services[0].farms.find((f: { type: string }) => f.type === 'udp');
    expect(udp.stickiness).toBeNull();
  });

  it('plan never calls a farm compliant while its zone holds unapplied changes: stored, not applied, exit 2', async () => {
    // web-sbg stores the policy's cookie, but the zone was never applied (a refresh cut short).
    await h.api.setStickiness({ service: 'loadbalancer-aaa', type: 'http', farmId: 2 }, 'cookie');
    const text = makeIo(env);
    expect(await runCli(['plan', '--policy', policyFile], text.io)).toBe(2);
    expect(text.out()).toContain('1 stored but not applied');
    expect(text.out()).toContain(
      'loadbalancer-aaa http/2 web-sbg stores cookie; zone sbg holds 1 unapplied change [web keeps sessions]',
    );
    expect(text.out()).toContain(
      "'stickler refresh SERVICE ZONE' shows and applies them, after asking: loadbalancer-aaa sbg",
    );
    expect(text.out()).not.toContain('Every matched farm complies');
    const json = makeIo(env);
    expect(await runCli(['plan', '--policy', policyFile, '--json'], json.io)).toBe(2);
    expect(JSON.parse(json.out()).storedNotApplied).toEqual([
      expect.objectContaining({
        service: 'loadbalancer-aaa',
        type: 'http',
        farmId: 2,
        zone: 'sbg',
        pendingInZone: 1,
      }),
    ]);
    const refresh = makeIo(env);
    expect(
      await runCli(['refresh', 'loadbalancer-aaa', 'sbg', '--yes', '--poll-interval', '10'], refresh.io),
    ).toBe(0);
    const after = makeIo(env);
    await runCli(['plan', '--policy', policyFile, '--json'], after.io);
    expect(JSON.parse(after.out()).storedNotApplied).toEqual([]);
  });

  it('apply FILE never calls a farm compliant: it names the zones that held unapplied changes when the plan was made', async () => {
    await h.api.setStickiness({ service: 'loadbalancer-aaa', type: 'http', farmId: 2 }, 'cookie');
    const file = join(mkdtempSync(join(tmpdir(), 'stickler-plan-')), 'plan.json');
    expect(await runCli(['plan', '--policy', policyFile, '--out', file], makeIo(env).io)).toBe(2);
    const apply = makeIo(env);
    expect(await runCli(['apply', file, '--yes'], apply.io)).toBe(0);
    expect(apply.out()).toMatch(
      /^Saved plan .*plan\.json \(digest [0-9a-f]{16}…, made .*\): 0 changes in 0 zones\./,
    );
    expect(apply.out()).toContain('Zones holding unapplied changes (stored, not applied');
    expect(apply.out()).toContain('  loadbalancer-aaa sbg: 1 unapplied change\n');
    expect(apply.out()).not.toContain('complies');
  });

  it('plan --out saves a plan that apply FILE applies exactly, and refuses once anything read has changed', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'stickler-plan-')), 'plan.json');
    const plan = makeIo(env);
    expect(await runCli(['plan', '--policy', policyFile, '--out', file], plan.io)).toBe(2);
    expect(plan.err()).toMatch(
      /Plan saved to .*plan\.json \(digest [0-9a-f]{64}\): 'stickler apply .*' applies exactly these 1 change\(s\)/,
    );
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect(saved.changes).toEqual([
      expect.objectContaining({ service: 'loadbalancer-aaa', type: 'http', farmId: 2, to: 'cookie' }),
    ]);

    // Someone changes a farm the plan read: the saved plan is stale, and nothing is written.
    await h.api.setStickiness({ service: 'loadbalancer-bbb', type: 'http', farmId: 10 }, 'cookie');
    h.sim.resetStats();
    const stale = makeIo(env);
    expect(await runCli(['apply', file, '--yes'], stale.io)).toBe(2);
    expect(stale.err()).toContain('is stale: 2 thing(s) it read have changed');
    expect(stale.err()).toContain('loadbalancer-bbb http/10 now stores cookie (the plan read sourceIp)');
    expect(stale.err()).toContain('loadbalancer-bbb zone rbx holds 1 unapplied change(s) (the plan read 0)');
    expect(h.sim.stats.calls['put-farm']).toBe(0);

    // Put back and applied: the plan stands again, and apply FILE applies exactly its change.
    await h.api.setStickiness({ service: 'loadbalancer-bbb', type: 'http', farmId: 10 }, 'sourceIp');
    await runCli(['refresh', 'loadbalancer-bbb', 'rbx', '--yes', '--poll-interval', '10'], makeIo(env).io);
    const apply = makeIo(env);
    expect(await runCli(['apply', file, '--yes', '--json', '--poll-interval', '10'], apply.io)).toBe(0);
    expect(JSON.parse(apply.out()).applied).toEqual([
      expect.objectContaining({
        service: 'loadbalancer-aaa',
        type: 'http',
        farmId: 2,
        from: 'none',
        to: 'cookie',
      }),
    ]);
    // Applied, it is stale: the farm it changed stores something else now.
    const again = makeIo(env);
    expect(await runCli(['apply', file, '--yes'], again.io)).toBe(2);
    expect(again.err()).toContain('loadbalancer-aaa http/2 now stores cookie (the plan read none)');
  });

  it('apply FILE refuses an edited plan and a file that is not one, before any call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stickler-plan-'));
    const file = join(dir, 'plan.json');
    await runCli(['plan', '--policy', policyFile, '--out', file], makeIo(env).io);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    saved.changes[0].to = 'sourceIp';
    writeFileSync(file, JSON.stringify(saved));
    h.sim.resetStats();
    const edited = makeIo(env);
    expect(await runCli(['apply', file, '--yes'], edited.io)).toBe(1);
    expect(edited.err()).toContain('has been edited since it was saved');
    writeFileSync(join(dir, 'policy.json'), 'version: 1\n');
    const notPlan = makeIo(env);
    expect(await runCli(['apply', join(dir, 'policy.json'), '--yes'], notPlan.io)).toBe(1);
    expect(notPlan.err()).toContain('is not a saved plan: not JSON');
    const both = makeIo(env);
    expect(await runCli(['apply', file, '--service', 'loadbalancer-aaa', '--yes'], both.io)).toBe(1);
    expect(both.err()).toContain('a saved plan names its load balancers itself');
    expect(Object.values(h.sim.stats.calls).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it("reads the OVH endpoint and keys from ./ovh.conf when the environment has none, as OVH's clients do", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stickler-conf-'));
    const sim = simulatorEnv(h.sim.baseUrl);
    writeFileSync(
      join(dir, 'ovh.conf'),
      `[default]\nendpoint=${sim.OVH_ENDPOINT}\n\n[${sim.OVH_ENDPOINT}]\napplication_key=${sim.OVH_APPLICATION_KEY}\n` +
        `application_secret=${sim.OVH_APPLICATION_SECRET}\nconsumer_key=${sim.OVH_CONSUMER_KEY}\n`,
      { mode: 0o644 },
    );
    const { io, out, err } = makeIo({});
    io.cwd = dir;
    expect(await runCli(['plan', '--policy', policyFile, '--json'], io)).toBe(2);
    expect(JSON.parse(out()).changes).toHaveLength(1);
    expect(err()).toContain(
      `WARNING: ${join(dir, 'ovh.conf')} holds OVH secrets and may be read by other users`,
    );
    expect(err()).not.toContain(sim.OVH_APPLICATION_SECRET);
  });

  it('plan --service limits discovery to the named load balancers', async () => {
    const { io, out } = makeIo(env);
    await runCli(['plan', '--policy', policyFile, '--service', 'loadbalancer-bbb', '--json'], io);
    expect(JSON.parse(out()).changes).toEqual([]);
    expect(h.sim.stats.calls['list-services']).toBe(0);
    expect(h.sim.stats.calls['defined-farms']).toBe(1);
  });

  it('a direct apply whose refresh failed records its own writes: the next plan says so, and the next apply refreshes that zone after asking', async () => {
    // Every refresh task ends in error: web-sbg's write is stored, zone sbg is left unapplied.
    h.sim.faults.taskErrorRate = 1;
    const first = makeIo(env);
    expect(await runCli(['apply', '--policy', policyFile, '--yes', '--poll-interval', '10'], first.io)).toBe(
      1,
    );
    h.sim.faults.taskErrorRate = 0;

    const plan = makeIo(env);
    expect(await runCli(['plan', '--policy', policyFile], plan.io)).toBe(2);
    expect(plan.out()).toContain(
      "loadbalancer-aaa http/2 web-sbg stores cookie; zone sbg holds 1 unapplied change, all this machine's own earlier writes [web keeps sessions]",
    );
    expect(plan.out()).toContain(
      "A direct 'stickler apply' refreshes the zones holding only this machine's earlier writes (a refresh of an earlier apply failed), after asking: loadbalancer-aaa sbg",
    );
    expect(plan.out()).not.toContain("'stickler refresh SERVICE ZONE'");

    // A refresh loses sessions like a write: without a terminal and without --yes, nothing is applied.
    h.sim.resetStats();
    const unasked = makeIo(env);
    expect(await runCli(['apply', '--policy', policyFile], unasked.io)).toBe(1);
    expect(unasked.err()).toContain('pass --yes');
    expect(unasked.out()).toContain('Zones to apply: loadbalancer-aaa sbg');
    expect(h.sim.stats.calls.refresh ?? 0).toBe(0);

    const apply = makeIo(env);
    expect(
      await runCli(['apply', '--policy', policyFile, '--yes', '--json', '--poll-interval', '10'], apply.io),
    ).toBe(0);
    expect(JSON.parse(apply.out()).refreshes).toEqual([
      expect.objectContaining({ service: 'loadbalancer-aaa', zone: 'sbg', status: 'done' }),
    ]);
    expect(await runCli(['plan', '--policy', policyFile], makeIo(env).io)).toBe(0);
  });

  it('a direct set of a farm already stored in a zone holding its own earlier write asks, then applies the zone', async () => {
    h.sim.faults.taskErrorRate = 1;
    expect(
      await runCli(
        ['set', 'loadbalancer-aaa', 'http/2', 'cookie', '--yes', '--poll-interval', '10'],
        makeIo(env).io,
      ),
    ).toBe(1);
    h.sim.faults.taskErrorRate = 0;
    h.sim.resetStats();
    const unasked = makeIo(env);
    expect(await runCli(['set', 'loadbalancer-aaa', 'http/2', 'cookie'], unasked.io)).toBe(1);
    expect(unasked.out()).toContain(
      "already stores cookie, but zone sbg holds 1 unapplied change(s), all this machine's own earlier writes (a refresh that failed): this applies the zone.",
    );
    expect(h.sim.stats.calls.refresh ?? 0).toBe(0);
    const set = makeIo(env);
    expect(
      await runCli(['set', 'loadbalancer-aaa', 'http/2', 'cookie', '--yes', '--poll-interval', '10'], set.io),
    ).toBe(0);
    expect(h.sim.stats.calls.refresh).toBe(1);
    expect(await h.api.pendingChanges('loadbalancer-aaa')).not.toContainEqual(
      expect.objectContaining({ zone: 'sbg' }),
    );
  });

  it("a failed --allow-foreign-pending write never records the zone's other changes as its own", async () => {
    // Someone's edit waits in zone sbg; a set with --allow-foreign-pending writes beside it, and its refresh fails.
    await h.client.put('/ipLoadbalancing/loadbalancer-aaa/http/farm/2', { balance: 'leastconn' });
    h.sim.faults.taskErrorRate = 1;
    const set = makeIo(env);
    expect(
      await runCli(
        [
          'set',
          'loadbalancer-aaa',
          'http/2',
          'cookie',
          '--yes',
          '--allow-foreign-pending',
          '--poll-interval',
          '10',
        ],
        set.io,
      ),
    ).toBe(1);
    h.sim.faults.taskErrorRate = 0;
    const plan = makeIo(env);
    expect(await runCli(['plan', '--policy', policyFile], plan.io)).toBe(2);
    expect(plan.out()).toContain('zone sbg holds 2 unapplied changes [web keeps sessions]');
    expect(plan.out()).not.toContain("this machine's own earlier writes");
  });

  it("a direct apply never takes someone else's change for its own: an edit beside its unapplied write keeps the zone refused", async () => {
    h.sim.faults.taskErrorRate = 1;
    expect(
      await runCli(['apply', '--policy', policyFile, '--yes', '--poll-interval', '10'], makeIo(env).io),
    ).toBe(1);
    h.sim.faults.taskErrorRate = 0;
    // Someone edits the same farm's balancing in the control panel: one more unapplied change.
    await h.client.put('/ipLoadbalancing/loadbalancer-aaa/http/farm/2', { balance: 'leastconn' });
    const plan = makeIo(env);
    expect(await runCli(['plan', '--policy', policyFile], plan.io)).toBe(2);
    expect(plan.out()).toContain('zone sbg holds 2 unapplied changes [web keeps sessions]');
    expect(plan.out()).not.toContain("this machine's own earlier writes");
    h.sim.resetStats();
    const apply = makeIo(env);
    await runCli(['apply', '--policy', policyFile, '--yes', '--poll-interval', '10'], apply.io);
    expect(apply.out()).toContain('zone sbg holds 2 unapplied changes [web keeps sessions]');
    expect(h.sim.stats.calls.refresh ?? 0).toBe(0);
    expect(h.sim.stats.calls['put-farm'] ?? 0).toBe(0);
  });

  it('refresh applies a zone left with unapplied changes, and says when there is nothing to apply', async () => {
    await h.api.setStickiness({ service: 'loadbalancer-aaa', type: 'http', farmId: 2 }, 'cookie');
    const refused = makeIo(env);
    expect(await runCli(['refresh', 'loadbalancer-aaa', 'sbg'], refused.io)).toBe(1);
    expect(refused.err()).toContain('pass --yes');

    const { io, out } = makeIo(env);
    expect(
      await runCli(['refresh', 'loadbalancer-aaa', 'sbg', '--yes', '--json', '--poll-interval', '10'], io),
    ).toBe(0);
    expect(JSON.parse(out())).toEqual({
      service: 'loadbalancer-aaa',
      zone: 'sbg',
      pendingChanges: 1,
      applied: true,
      refreshes: [{ service: 'loadbalancer-aaa', zone: 'sbg', taskId: expect.any(Number), status: 'done' }],
    });
    expect(
      h.sim.state.services.get('loadbalancer-aaa')!.farms.get('http/2')!.applied.get('sbg')?.stickiness,
    ).toBe('cookie');

    const again = makeIo(env);
    expect(await runCli(['refresh', 'loadbalancer-aaa', 'sbg'], again.io)).toBe(0);
    expect(again.out()).toContain('Zone sbg of loadbalancer-aaa has no unapplied changes: nothing to apply.');
    expect(h.sim.stats.calls.refresh).toBe(1);
  });

  it('refuses a zone the load balancer does not have, naming its zones, before any write', async () => {
    const { io, err } = makeIo(env);
    expect(await runCli(['refresh', 'loadbalancer-aaa', 'nowhere', '--yes'], io)).toBe(1);
    expect(err()).toMatch(/loadbalancer-aaa has no zone 'nowhere' \(its zones: .*gra.*, or all\)/);
    expect(h.sim.stats.calls.refresh).toBe(0);
  });

  it('refuses names that are not load balancer names before any call, and says when a load balancer does not exist', async () => {
    h.sim.resetStats();
    for (const argv of [
      ['show', '.'],
      ['show', '..'],
      ['show', ''],
      ['set', '../x', 'http/1', 'none'],
      ['refresh', 'a/b', 'gra'],
      ['plan', '--policy', policyFile, '--service', '..'],
    ]) {
      const { io, err } = makeIo(env);
      expect([argv, await runCli(argv, io)]).toEqual([argv, 1]);
      expect(err()).toMatch(/a load balancer service name is 1 to 128 letters/);
    }
    expect(Object.values(h.sim.stats.calls).reduce((a, b) => a + b, 0)).toBe(0);
    const missing = makeIo(env);
    expect(await runCli(['show', 'loadbalancer-nosuch'], missing.io)).toBe(1);
    expect(missing.err()).toContain(
      'load balancer loadbalancer-nosuch does not exist, or this consumer key cannot see it',
    );
    const set = makeIo(env);
    expect(await runCli(['set', 'loadbalancer-nosuch', 'http/1', 'cookie', '--yes'], set.io)).not.toBe(0);
    expect(set.out() + set.err()).toContain('load balancer loadbalancer-nosuch does not exist');
    const farm = makeIo(env);
    expect(await runCli(['set', 'loadbalancer-aaa', 'http/999', 'cookie', '--yes'], farm.io)).not.toBe(0);
    expect(farm.out() + farm.err()).toContain('HTTP farm 999 was not found on loadbalancer-aaa');
    expect(h.sim.stats.calls['put-farm']).toBe(0);
  });

  it('says it is retrying when OVH does not answer, and how many times it tried', async () => {
    h.sim.faults.hangRate = 1;
    const { io, err } = makeIo(env);
    expect(await runCli(['show', 'loadbalancer-aaa', '--timeout', '100'], io)).toBe(1);
    expect(err()).toMatch(/no answer within 100 ms; trying again in \d+\.\d s \(attempt 2 of 5\)/);
    expect(err()).toMatch(/no answer within 100 ms \(gave up after 5 attempts\)\n$/);
  }, 30_000);

  it('show marks farms whose zone holds unapplied changes', async () => {
    await h.api.setStickiness({ service: 'loadbalancer-bbb', type: 'http', farmId: 10 }, null);
    const { io, out } = makeIo(env);
    expect(await runCli(['show', 'loadbalancer-bbb'], io)).toBe(0);
    expect(out()).toMatch(/http\/10\s+shop\s+none\s+unknown: zone has 1 unapplied change/);
  });

  it.each([
    [['set', 'loadbalancer-aaa', 'http-1', 'cookie'], 'farm must be TYPE/FARM_ID'],
    [
      ['apply', 'loadbalancer-aaa', '--policy', 'policy.yaml', '--yes'],
      "'apply' takes no argument 'loadbalancer-aaa': to limit it to a load balancer, use --service NAME",
    ],
    [['plan', 'loadbalancer-aaa', '--policy', 'policy.yaml'], "'plan' takes no argument"],
    [
      ['plan', '--policy', 'policy.yaml', '--timeout', '99999999999'],
      '--timeout must be a whole number from 100 to 2147483647',
    ],
    [
      ['plan', '--policy', 'policy.yaml', '--poll-interval', '4294967296'],
      '--poll-interval must be a whole number',
    ],
    [
      ['plan', '--policy', 'policy.yaml', '--concurrency', '2.5'],
      '--concurrency must be a whole number from 1 to 64',
    ],
    [['simulate', '--port', '1.5'], '--port must be a whole number from 0 to 65535'],
    [['plan', '--policy', '/dev/zero'], 'cannot read policy /dev/zero: not a regular file'],
    [['plan', '--policy', '.'], 'not a regular file'],
    [['set', 'loadbalancer-aaa', 'http/1', 'sticky'], 'stickiness: expected "cookie" | "sourceIp" | "none"'],
    [['plan'], '--policy FILE is required'],
    [['plan', '--policy', 'nope.yaml'], 'cannot read policy nope.yaml: ENOENT'],
    [['plan', '--bogus'], "Unknown option '--bogus'"],
    [['frobnicate'], "unknown command 'frobnicate'"],
    [
      ['plan', '--policy', 'policy.yaml', '--concurrency', '0'],
      '--concurrency must be a whole number from 1 to 64',
    ],
  ])('%j fails with a clear message', async (argv, message) => {
    h.sim.resetStats();
    const { io, err } = makeIo(env);
    expect(await runCli(argv, io)).toBe(1);
    expect(err()).toContain(message);
    expect(err()).not.toMatch(/unexpected error|\n\s+at /); // no stack trace
    expect(h.sim.stats.calls['put-farm'] ?? 0).toBe(0);
    expect(h.sim.stats.calls.refresh ?? 0).toBe(0);
  });

  it.each([
    [
      'a password in OVH_ENDPOINT',
      { OVH_ENDPOINT: 'http://user:PASSWORD-123@127.0.0.1:9/1.0' },
      'must not carry a user name or password',
    ],
    [
      'an endpoint without the API version',
      { OVH_ENDPOINT: 'http://127.0.0.1:9' },
      'must end with the API version, /1.0',
    ],
    ['an endpoint that is not a URL', { OVH_ENDPOINT: 'PASSWORD-123' }, 'OVH_ENDPOINT must be one of'],
  ])('refuses %s without printing it', async (_, override, message) => {
    const { io, err } = makeIo({ ...env, ...override });
    expect(await runCli(['show'], io)).toBe(1);
    expect(err()).toContain(message);
    expect(err()).not.toContain('PASSWORD-123');
  });

  it('prints no control character a user or a server supplied (an ANSI escape in --ticket)', async () => {
    const { io, out } = makeIo(env);
    await runCli(['set', 'loadbalancer-aaa', 'tcp/3', 'cookie', '--ticket', 'OPS-\u001b[31mRED'], io);
    expect(out()).not.toContain('\u001b');
  });

  it('answers help, and COMMAND --help with that command only', async () => {
    const help = makeIo(env);
    expect(await runCli(['help'], help.io)).toBe(0);
    expect(help.out()).toContain('stickler plan --policy FILE');
    const one = makeIo(env);
    expect(await runCli(['refresh', '--help'], one.io)).toBe(0);
    expect(one.out()).toContain('stickler refresh SERVICE ZONE');
    expect(one.out()).not.toContain('stickler plan --policy');
    // Every usage line of the command, with its own continuation lines.
    const apply = makeIo(env);
    expect(await runCli(['apply', '--help'], apply.io)).toBe(0);
    expect(apply.out()).toContain('stickler apply --policy FILE');
    expect(apply.out()).toContain('stickler apply PLAN_FILE');
    const plan = makeIo(env);
    expect(await runCli(['plan', '--help'], plan.io)).toBe(0);
    expect(plan.out()).toContain('--pipeline [--stage STAGE] [--out PLAN_FILE]');
    expect(plan.out()).toContain('already waits for in the pipeline');
    expect(plan.out()).toContain('registers the saved plan');
    expect(plan.out()).not.toContain('stickler apply');
  });

  it('refuses plan --pipeline without a pipeline to reach before anything is read', async () => {
    const { io, err } = makeIo(env);
    expect(await runCli(['plan', '--policy', 'nowhere.yaml', '--pipeline'], io)).toBe(1);
    expect(err()).toContain('no pipeline: give --stage STAGE');
  });

  it('says which credentials are missing, and never prints a secret', async () => {
    const { io, err } = makeIo({ OVH_APPLICATION_SECRET: 's3cr3t-value' });
    expect(await runCli(['show'], io)).toBe(1);
    expect(err()).toContain('missing OVH credentials: set OVH_APPLICATION_KEY, OVH_CONSUMER_KEY');
    expect(err()).not.toContain('s3cr3t-value');
  });

  it('reports a wrong secret as the API answered it, without the secret', async () => {
    const { io, err } = makeIo({ ...env, OVH_APPLICATION_SECRET: 'not-the-secret' });
    expect(await runCli(['show'], io)).toBe(1);
    expect(err()).toContain('Invalid signature');
    expect(err()).not.toContain('not-the-secret');
  });
});

describe('stickler simulate', () => {
  it('serves the example fleet, prints the exports to reach it, and stops when asked', async () => {
    let stop: () => void = () => undefined;
    const { io, out } = makeIo({});
    io.untilStopped = () => new Promise<void>((resolve) => (stop = resolve));
    const running = runCli(['simulate', '--port', '0'], io);
    await new Promise((r) => setTimeout(r, 200));
    const endpoint = /export OVH_ENDPOINT=(\S+)/.exec(out())?.[1];
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/1\.0$/);
    expect(await (await fetch(`${endpoint}/auth/time`)).json()).toEqual(expect.any(Number));
    stop();
    expect(await running).toBe(0);
  });
});

describe('stickler demo', () => {
  it('brings the example fleet to the example policy on the embedded simulator', async () => {
    const { io, out } = makeIo({});
    expect(await runCli(['demo', '--task-ms', '40', '--poll-interval', '10', '--latency', '0'], io)).toBe(0);
    const text = out();
    expect(text).toContain('Plan: 5 changes in 4 zones');
    expect(text).toContain('Applied 5, unchanged 6, refused 1, failed 0.');
    expect(text).toContain('Plan: 0 changes in 0 zones, 11 compliant, 1 invalid.');
    expect(text).toContain('(PUT calls made by that set: 0)');
    expect(text).toContain('Zone applies for the batch: 2 (one per touched zone).');
    expect(text).toContain('nothing written to OVH and no audit event emitted');
    expect(text).toMatch(
      /loadbalancer-7f3a9c21 {2}now [\d,.]+ req\/s, [\d,.]+ conn\/s; quietest in the window: \S+ 04:00 UTC/,
    );
    expect(text).toContain('ip-203.0.113.7         traffic unknown: OVH offers no metrics');
    expect(text).toMatch(
      /Zone Configuration Applied {3}loadbalancer-b81e0d44 zone gra: .*; traffic as applied: [\d,.]+ req\/s/,
    );
  });
});

describe('stickler with a load balancer it cannot use', () => {
  let h: SimulatorHarness;
  let env: NodeJS.ProcessEnv;
  beforeEach(async () => {
    const fleet = smallFleet();
    fleet.services.push({ name: 'loadbalancer-old', state: 'expired', zones: ['gra'], farms: [] });
    h = await startHarness({ fleet });
    env = simulatorEnv(h.sim.baseUrl);
  });
  afterEach(() => h.close());

  it('skips an expired one it listed itself, says so, and plans the rest', async () => {
    const { io, out, err } = makeIo(env);
    expect(
      await runCli(['plan', '--policy', join(__dirname, '../fixtures/policy.small.yaml'), '--json'], io),
    ).toBe(2);
    expect(err()).toContain(
      'WARNING: skipped loadbalancer-old: load balancer loadbalancer-old is expired or suspended (HTTP 460)',
    );
    expect(JSON.parse(out()).changes).toHaveLength(1);
  });

  it('fails when the operator named it', async () => {
    const { io, err } = makeIo(env);
    expect(await runCli(['show', 'loadbalancer-old'], io)).toBe(1);
    expect(err()).toContain('loadbalancer-old is expired or suspended');
  });

  it('skips load balancers the consumer key is not granted (a key pinned to one service)', async () => {
    await h.close();
    h = await startHarness({
      accessRules: [
        { method: 'GET', path: '/ipLoadbalancing' },
        { method: 'GET', path: '/ipLoadbalancing/loadbalancer-bbb/*' },
      ],
    });
    const { io, out, err } = makeIo({ ...env, OVH_ENDPOINT: h.sim.baseUrl });
    expect(await runCli(['show', '--json'], io)).toBe(0);
    expect(err()).toContain(
      'WARNING: skipped loadbalancer-aaa: the consumer key is not granted access to load balancer loadbalancer-aaa',
    );
    expect(JSON.parse(out()).services.map((s: { service: string }) => s.service)).toEqual([
      'loadbalancer-bbb',
    ]);
  });
});
