/**
 * The bad-input suite: hostile or broken input at every entry point stickler has (CLI arguments,
 * environment, policy files, what an OVH endpoint answers, the CLI as a process under closed
 * pipes and signals, change-request events on the bus, the ticketing webhook, Slack), each
 * expected to get its documented answer, with no stack trace, no secret (distinctive secret
 * values are searched for in everything captured), no escape sequence or bidirectional control
 * printed, and no write on the simulator beyond what the case asks for (none, unless a write is
 * the point). It prints how many inputs were tried and how many were handled so
 * (`npm run test:reliability`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hubSignature } from '../../lib/adapters/http/hub-signature';
import type { ChangeAuditDetail } from '../../lib/domain/audit-events';
import { type RunningSimulator, simulatorEnv, startSimulator } from '../../lib/simulator/server';
import { bundleCli } from '../helpers/bundled-cli';
import { captureCli } from '../helpers/cli';
import { type PipelineHarness, startPipelineHarness } from '../helpers/pipeline';
import { type SimulatorHarness, startHarness } from '../helpers/simulator';
import { clickBody, signSlack, slashBody } from '../helpers/slack';

/** Secret values no output may ever contain. */
const SECRETS = {
  applicationKey: 'AK-distinctive-4f1e',
  applicationSecret: 'AS-distinctive-SECRET-9c2d',
  consumerKey: 'CK-distinctive-SECRET-71ab',
};
const SECRET_VALUES = [
  SECRETS.applicationSecret,
  SECRETS.consumerKey,
  'PASSWORD-x7',
  'stickler-local-generic-secret',
  // The simulator's metrics tokens (show and plan read traffic with them).
  'simulator-metrics-token-',
];

const tally = { tried: 0, handled: 0, byEntry: new Map<string, [number, number]>() };
const count = (entry: string, handled: boolean) => {
  tally.tried++;
  if (handled) tally.handled++;
  const [t, h] = tally.byEntry.get(entry) ?? [0, 0];
  tally.byEntry.set(entry, [t + 1, h + (handled ? 1 : 0)]);
};
afterAll(() => {
  const lines = [...tally.byEntry].map(
    ([entry, [t, h]]) =>
      `  ${entry.padEnd(26)} ${String(t).padStart(3)} tried, ${String(h).padStart(3)} handled`,
  );
  const text = `bad-input suite: ${tally.tried} inputs tried, ${tally.handled} handled (documented answer, no stack trace, no secret, no write beyond the one asked)\n${lines.join('\n')}\n`;
  if (process.env.STICKLER_RELIABILITY_REPORT) process.stdout.write(text);
  expect(tally.handled).toBe(tally.tried);
});

const leaks = (text: string) => SECRET_VALUES.filter((s) => text.includes(s));
const STACK = /\n\s+at .+\(|unexpected error/;
/** An ANSI escape, or a bidirectional control (U+202E shows `exe.txt` as `txt.exe`), in what was printed. */
const hasControls = (text: string) =>
  text.includes('\u001b') || /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(text);

describe('CLI arguments, environment and policy files', () => {
  let h: SimulatorHarness;
  let env: NodeJS.ProcessEnv;
  const dir = mkdtempSync(join(tmpdir(), 'stickler-bad-'));
  const file = (name: string, text: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  beforeAll(async () => {
    h = await startHarness({ credentials: SECRETS });
    env = simulatorEnv(h.sim.baseUrl, SECRETS);
  });
  afterAll(() => h.close());

  const run = (argv: string[], envOverride: NodeJS.ProcessEnv = {}) =>
    captureCli(argv, { ...env, ...envOverride }, join(__dirname, '../../examples'));

  const good = join(__dirname, '../../examples/policy.yaml');
  type Case = [string, string[], NodeJS.ProcessEnv, RegExp, number?];
  const cases: Case[] = [
    // arguments
    ['no command', [], {}, /Usage/],
    ['unknown command', ['frobnicate'], {}, /unknown command 'frobnicate'/],
    ['unknown flag', ['plan', '--frobnicate'], {}, /Unknown option '--frobnicate'/],
    ['. as a service', ['show', '.'], {}, /a load balancer service name is/],
    ['.. as a service', ['show', '..'], {}, /a load balancer service name is/],
    ['empty service', ['show', ''], {}, /a load balancer service name is/],
    ['a path as a service', ['set', 'lb/../x', 'http/1', 'none'], {}, /a load balancer service name is/],
    ['--service ..', ['plan', '--policy', good, '--service', '..'], {}, /a load balancer service name is/],
    ['a 10 KB service name', ['show', 'x'.repeat(10_000)], {}, /a load balancer service name is/],
    ['positional to plan', ['plan', 'loadbalancer-aaa', '--policy', good], {}, /takes no argument/],
    [
      'positional to apply',
      ['apply', 'loadbalancer-aaa', '--policy', good, '--yes'],
      {},
      /takes no argument/,
    ],
    ['set with two words', ['set', 'loadbalancer-aaa', 'http/1'], {}, /usage: stickler set/],
    ['set with a bad farm', ['set', 'loadbalancer-aaa', 'web/1', 'none'], {}, /farm must be TYPE\/FARM_ID/],
    ['set with farm 0', ['set', 'loadbalancer-aaa', 'http/0', 'none'], {}, /farm must be TYPE\/FARM_ID/],
    ['set with a bad stickiness', ['set', 'loadbalancer-aaa', 'http/1', 'sticky'], {}, /stickiness/],
    [
      'cookie on a TCP farm',
      ['set', 'loadbalancer-aaa', 'tcp/3', 'cookie', '--yes'],
      {},
      /not allowed on a TCP farm/,
      2,
    ],
    [
      'a missing farm',
      ['set', 'loadbalancer-aaa', 'http/999', 'cookie', '--yes'],
      {},
      /HTTP farm 999 was not found/,
      2,
    ],
    [
      'a missing load balancer',
      ['set', 'loadbalancer-nope', 'http/1', 'cookie', '--yes'],
      {},
      /loadbalancer-nope does not exist/,
      2,
    ],
    ['an unknown zone', ['refresh', 'loadbalancer-aaa', 'nowhere', '--yes'], {}, /has no zone 'nowhere'/],
    ['apply without --yes off a terminal', ['apply', '--policy', good], {}, /pass --yes/],
    ['--timeout past a timer', ['show', '--timeout', '99999999999'], {}, /--timeout must be a whole number/],
    ['--timeout 2.5', ['show', '--timeout', '2.5'], {}, /--timeout must be a whole number/],
    ['--concurrency 0', ['show', '--concurrency', '0'], {}, /--concurrency must be a whole number/],
    ['--concurrency 1e3', ['show', '--concurrency', '1e3'], {}, /--concurrency must be a whole number/],
    [
      '--poll-interval -5',
      ['plan', '--policy', good, '--poll-interval', '-5'],
      {},
      /'--poll-interval' argument is ambiguous/,
    ],
    ['--port 1.5', ['simulate', '--port', '1.5'], {}, /--port must be a whole number/],
    [
      '--latency past a timer',
      ['simulate', '--latency', '4294967296'],
      {},
      /--latency must be a whole number/,
    ],
    [
      'an ANSI escape in --ticket',
      ['set', 'loadbalancer-aaa', 'tcp/3', 'cookie', '--ticket', 'OPS-\u001b[2J'],
      {},
      /ticket: a ticket key is 1 to 64 letters/,
    ],
    // flags a command does not take: refused before anything runs, never dropped
    [
      'compliance --service (it enforced the whole fleet)',
      ['compliance', '--policy', good, '--mode', 'enforce', '--service', 'ip-203.0.113.7'],
      {},
      /'compliance' does not take --service/,
    ],
    [
      'show --service',
      ['show', '--service', 'loadbalancer-aaa'],
      {},
      /'show' does not take --service: name load balancers as arguments/,
    ],
    [
      'refresh --service',
      ['refresh', 'loadbalancer-aaa', 'sbg', '--service', 'loadbalancer-bbb', '--yes'],
      {},
      /'refresh' does not take --service/,
    ],
    ['compliance --timeout', ['compliance', '--policy', good, '--timeout', '5'], {}, /reads OVH_TIMEOUT_MS/],
    ['--policy twice', ['plan', '--policy', good, '--policy', 'other.yaml'], {}, /--policy is given twice/],
    [
      'the same --service twice (counted once)',
      ['plan', '--policy', good, '--service', 'loadbalancer-aaa', '--service', 'loadbalancer-aaa'],
      {},
      /Plan: 2 changes in 2 zones, 1 compliant/,
      2,
    ],
    // environment
    [
      'no credentials',
      ['show'],
      { OVH_APPLICATION_KEY: '', OVH_APPLICATION_SECRET: '', OVH_CONSUMER_KEY: '' },
      /OVH_APPLICATION_KEY/,
    ],
    [
      'a password in OVH_ENDPOINT',
      ['show'],
      { OVH_ENDPOINT: 'http://user:PASSWORD-x7@127.0.0.1:9/1.0' },
      /must not carry a user name or password/,
    ],
    [
      'OVH_ENDPOINT without /1.0',
      ['show'],
      { OVH_ENDPOINT: 'http://127.0.0.1:9' },
      /must end with the API version/,
    ],
    ['OVH_ENDPOINT not a URL', ['show'], { OVH_ENDPOINT: 'PASSWORD-x7' }, /OVH_ENDPOINT must be one of/],
    [
      'a query string in OVH_ENDPOINT',
      ['show'],
      { OVH_ENDPOINT: 'http://127.0.0.1:9/1.0?token=PASSWORD-x7' },
      /OVH_ENDPOINT must not carry a query string or a fragment/,
    ],
    [
      'a fragment in OVH_ENDPOINT',
      ['show'],
      { OVH_ENDPOINT: 'http://127.0.0.1:9/1.0#PASSWORD-x7' },
      /OVH_ENDPOINT must not carry a query string or a fragment/,
    ],
    [
      'OVH_TIMEOUT_MS past a timer (compliance)',
      ['compliance', '--policy', good],
      { OVH_TIMEOUT_MS: '3000000000' },
      /OVH_TIMEOUT_MS must be a whole number from 100 to 2147483647, got '3000000000'/,
    ],
    [
      'OVH_TIMEOUT_MS -1 (compliance)',
      ['compliance', '--policy', good],
      { OVH_TIMEOUT_MS: '-1' },
      /OVH_TIMEOUT_MS must be a whole number from 100/,
    ],
    [
      'OVH_CONCURRENCY -5 (compliance)',
      ['compliance', '--policy', good],
      { OVH_CONCURRENCY: '-5' },
      /OVH_CONCURRENCY must be a whole number from 1 to 64, got '-5'/,
    ],
    [
      'TASK_TIMEOUT_MS past a timer (simulate --pipeline)',
      ['simulate', '--pipeline'],
      { TASK_TIMEOUT_MS: '99999999999' },
      /TASK_TIMEOUT_MS must be a whole number from 100 to 2147483647/,
    ],
    [
      'a header in OVH_CONSUMER_KEY',
      ['show'],
      { OVH_CONSUMER_KEY: `${SECRETS.consumerKey}\nX-Evil: 1` },
      /OVH_CONSUMER_KEY holds a character that is not printable ASCII/,
    ],
    [
      'a control character in OVH_APPLICATION_SECRET',
      ['show'],
      { OVH_APPLICATION_SECRET: `${SECRETS.applicationSecret}\u0007` },
      /OVH_APPLICATION_SECRET holds a character that is not printable ASCII/,
    ],
    ['a wrong application secret', ['show'], { OVH_APPLICATION_SECRET: 'wrong-one' }, /Invalid signature/],
    ['a wrong consumer key', ['show'], { OVH_CONSUMER_KEY: 'CK-wrong' }, /OVH GET/],
    [
      'a closed port',
      ['show', '--timeout', '200'],
      { OVH_ENDPOINT: 'http://127.0.0.1:9/1.0' },
      /network error/,
    ],
  ];
  // policy files
  const policies: [string, string | Buffer, RegExp][] = [
    ['an empty policy', '', /invalid .*an-empty-policy\.yaml/],
    [
      'a YAML alias bomb',
      `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n`,
      /a-YAML-alias-bomb\.yaml: cannot be read: Excessive alias count/,
    ],
    [
      'several YAML documents',
      'version: 1\nrules: []\n---\nversion: 1\nrules: []\n',
      /several-YAML-documents\.yaml/,
    ],
    [
      'an unclosed [ in a glob',
      'version: 1\nrules:\n  - match: { displayName: "web-[" }\n    stickiness: cookie\n',
      /invalid pattern/,
    ],
    [
      'an unknown stickiness',
      'version: 1\nrules:\n  - match: { displayName: "*" }\n    stickiness: sticky\n',
      /stickiness/,
    ],
    [
      'binary garbage',
      Buffer.from([0, 159, 146, 150, 0xff, 0xfe, 0]),
      /binary-garbage\.yaml:1:1: expected object/,
    ],
    ['a 2 MiB policy', `# ${'x'.repeat(2 * 1024 * 1024)}\n`, /over the 1048576-byte limit/],
    ['JSON instead of YAML, wrong shape', '{"rules": "all"}', /rules: expected array, got "all"/],
    [
      'a 300 KB rule name',
      `version: 1\nrules:\n  - name: ${'n'.repeat(300_000)}\n    stickiness: none\n`,
      /a-300-KB-rule-name\.yaml:3:\d+: rules\[0\]\.name: must be at most 200 characters, got 300000/,
    ],
  ];
  for (const [name, text, message] of policies)
    cases.push([name, ['plan', '--policy', file(`${name.replace(/\W+/g, '-')}.yaml`, text)], {}, message]);
  cases.push(['a directory as policy', ['plan', '--policy', dir], {}, /not a regular file/]);
  cases.push(['/dev/zero as policy', ['plan', '--policy', '/dev/zero'], {}, /not a regular file/]);

  const policyNames = new Set([...policies.map(([n]) => n), 'a directory as policy', '/dev/zero as policy']);
  const category = (name: string, _argv: string[], envOverride: NodeJS.ProcessEnv) =>
    policyNames.has(name)
      ? 'policy files'
      : Object.keys(envOverride).length
        ? 'environment'
        : 'CLI arguments';

  /** Runs one case and checks what every case must show; `category` says where it is counted. */
  const expectHandled = async (
    category: string,
    name: string,
    argv: string[],
    envOverride: NodeJS.ProcessEnv,
    message: RegExp,
    exit: number,
    /** The writes the case asks for (none unless said): anything more is a failure. */
    asked = { put: 0, refresh: 0 },
  ) => {
    h.sim.resetStats();
    const { code, out, err } = await run(argv, envOverride);
    const all = out + err;
    const checks = {
      exit: code === exit,
      message: message.test(all),
      noStack: !STACK.test(all),
      noSecret: leaks(all).length === 0,
      noEscape: !hasControls(all),
      noWrite:
        (h.sim.stats.calls['put-farm'] ?? 0) === asked.put &&
        (h.sim.stats.calls.refresh ?? 0) === asked.refresh,
    };
    const handled = Object.values(checks).every(Boolean);
    count(category, handled);
    expect({ name, code, checks, said: all.slice(0, 300) }).toEqual({
      name,
      code: exit,
      checks: Object.fromEntries(Object.keys(checks).map((k) => [k, true])),
      said: expect.anything(),
    });
  };

  it.each(cases)('%s', (name, argv, envOverride, message, exit = 1) =>
    expectHandled(category(name, argv, envOverride), name, argv, envOverride, message, exit),
  );

  describe('a hostile endpoint', () => {
    let server: Server;
    let base: string;
    beforeAll(async () => {
      const chunk = Buffer.alloc(64 * 1024, '[');
      server = createServer((req, res) => {
        if (req.url?.startsWith('/long-error/')) {
          // An error whose text is a page long, with an escape sequence at its start.
          res.writeHead(400, { 'Content-Type': 'application/json' });
          res.end(
            JSON.stringify({
              message: `\u001b[2J\u202e${'x'.repeat(100_000)}`,
              errorCode: 'E'.repeat(5_000),
            }),
          );
          return;
        }
        // Every call answered 200 with a body that never ends, as fast as the client reads it.
        res.writeHead(200, { 'Content-Type': 'application/json' });
        const pour = () => {
          while (!res.destroyed && res.write(chunk));
        };
        res.on('drain', pour);
        pour();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => {
      server.closeAllConnections();
      server.close();
    });

    it('an endless 200 answer', () =>
      expectHandled(
        'OVH answers',
        'an endless answer',
        ['show'],
        { OVH_ENDPOINT: `${base}/endless/1.0` },
        /larger than 10 MiB/,
        1,
      ));

    it('an error text of 100 KB with escapes: its first 200 characters, plain', () =>
      expectHandled(
        'OVH answers',
        'a 100 KB error text',
        ['show'],
        { OVH_ENDPOINT: `${base}/long-error/1.0` },
        // The escape sequence and U+202E become spaces (the rest of the sequence is plain text).
        /OVH GET \/auth\/time: \[2J x{195}… \(HTTP 400, E{63}…\)\n$/,
        1,
      ));
  });

  describe('a write answered 200 with a body that cannot be read', () => {
    afterEach(() => {
      delete h.sim.faults.garbled;
      h.sim.resetState();
    });
    const set = ['set', 'loadbalancer-aaa', 'http/2', 'cookie', '--yes', '--poll-interval', '10'];

    it('cut JSON, the write stored: the farm is read again and its zone applied', () => {
      h.sim.faults.garbled = { calls: ['put-farm'], body: 'cut-json' };
      return expectHandled(
        'OVH answers',
        'a cut answer to a stored write',
        set,
        {},
        /Applied 1, unchanged 0, refused 0, failed 0/,
        0,
        { put: 1, refresh: 1 },
      );
    });

    it('an HTML page, the write never passed on: the farm is read again, and the write failed', () => {
      h.sim.faults.garbled = { calls: ['put-farm'], body: 'html', carriedOut: false };
      return expectHandled(
        'OVH answers',
        'an HTML page instead of a write',
        set,
        {},
        /an HTML page.*the farm, read again, does not store it/,
        1,
      );
    });
  });

  describe('with bidirectional controls in a display name', () => {
    const name = 'web-\u202Eexe.txt\u2066';
    beforeEach(() => {
      const service = h.sim.state.services.get('loadbalancer-aaa')!;
      h.sim.state.updateFarm(service, service.farms.get('http/1')!, { displayName: name });
    });
    afterEach(() => h.sim.resetState());

    it('show prints them as ?', () =>
      expectHandled('OVH answers', 'U+202E in a display name', ['show'], {}, /web-\?exe\.txt\?/, 0));

    it('show --json escapes them, and the name reads back exact', async () => {
      await expectHandled(
        'OVH answers',
        'U+202E in a display name (--json)',
        ['show', '--json'],
        {},
        /"displayName": "web-\\u202eexe\.txt\\u2066"/,
        0,
      );
      const { out } = await run(['show', '--json']);
      const farms = (JSON.parse(out) as { services: { farms: { displayName: string }[] }[] }).services[0]!
        .farms;
      expect(farms.map((f) => f.displayName)).toContain(name);
    });
  });

  describe('with a long display name', () => {
    beforeEach(() => {
      const service = h.sim.state.services.get('loadbalancer-aaa')!;
      h.sim.state.updateFarm(service, service.farms.get('http/1')!, { displayName: 'a'.repeat(100) });
    });
    afterEach(() => h.sim.resetState());

    it('a pattern that makes a regular expression backtrack for hours', () =>
      expectHandled(
        'policy files',
        'a backtracking pattern',
        [
          'plan',
          '--policy',
          file(
            'backtracking.yaml',
            `version: 1\nrules:\n  - match: { displayName: "${'*a'.repeat(12)}*b" }\n    stickiness: none\n`,
          ),
        ],
        {},
        /Plan: 0 changes/,
        0,
      ));
  });

  describe('with a control-panel edit pending', () => {
    // Someone stored a change of tcp/3 (zone gra) without applying it; http/1 (gra) already stores cookie.
    beforeEach(() => {
      const service = h.sim.state.services.get('loadbalancer-aaa')!;
      h.sim.state.updateFarm(service, service.farms.get('tcp/3')!, { stickiness: null });
    });
    afterEach(() => h.sim.resetState());

    it('set of a farm already at its target, with --allow-foreign-pending, no terminal and no --yes', () =>
      expectHandled(
        'CLI arguments',
        'a refresh without confirmation',
        ['set', 'loadbalancer-aaa', 'http/1', 'cookie', '--allow-foreign-pending'],
        {},
        /already stores cookie, but zone gra holds 1 unapplied change[\s\S]*pass --yes/,
        1,
      ));

    it('refresh whose task cannot be read: outcome unknown, not "not applied"', async () => {
      h.sim.faults.garbled = { calls: ['get-task'], body: 'html' };
      try {
        await expectHandled(
          'OVH answers',
          'a refresh task that cannot be read',
          ['refresh', 'loadbalancer-aaa', 'gra', '--yes', '--poll-interval', '10'],
          {},
          /Zone gra of loadbalancer-aaa: outcome unknown: the refresh was asked, but whether it applied the zone could not be told/,
          1,
          { put: 0, refresh: 1 },
        );
      } finally {
        delete h.sim.faults.garbled;
      }
    });
  });
});

describe('the bundled CLI as a process: pipes and signals', () => {
  const ZONES = ['gra', 'sbg', 'rbx', 'waw'];
  let sim: RunningSimulator;
  let env: NodeJS.ProcessEnv;
  let cli: Awaited<ReturnType<typeof bundleCli>>;
  const dir = mkdtempSync(join(tmpdir(), 'stickler-process-'));
  const policy = join(dir, 'apps.yaml');
  writeFileSync(policy, 'version: 1\nrules:\n  - match: { displayName: "app-*" }\n    stickiness: cookie\n');
  beforeAll(async () => {
    [cli, sim] = await Promise.all([
      bundleCli(),
      startSimulator({
        credentials: SECRETS,
        aggregatedListing: true,
        // A zone's apply takes about a second: time to send a signal while one runs.
        task: { todoMs: 200, doingMs: 800 },
        fleet: {
          services: [
            {
              name: 'loadbalancer-big',
              zones: ['gra'],
              farms: Array.from({ length: 20_000 }, (_, i) => ({
                id: i + 1,
                type: 'http' as const,
                zone: 'gra',
                displayName: `web-${i + 1}`,
                stickiness: null,
              })),
            },
            {
              name: 'loadbalancer-four',
              zones: ZONES,
              farms: ZONES.map((zone, i) => ({
                id: i + 1,
                type: 'http' as const,
                zone,
                displayName: `app-${zone}`,
                stickiness: null,
              })),
            },
          ],
        },
      }),
    ]);
    env = { PATH: process.env.PATH, ...simulatorEnv(sim.baseUrl, SECRETS) };
  }, 60_000);
  afterAll(async () => {
    cli.remove();
    await sim.close();
  });
  beforeEach(() => {
    sim.resetState();
    sim.resetStats();
  });

  /** Checks what every case must show; `unapplied`: no zone may be left stored but not applied. */
  const expectProcessHandled = (
    name: string,
    result: { code: number | null; err: string; out: string },
    exit: number,
    message: RegExp,
    asked: { put: number; refresh: number },
  ) => {
    const all = result.out + result.err;
    const checks = {
      exit: result.code === exit,
      // What it says on stderr (standard output carries the command's own output).
      message: message.test(result.err),
      noStack: !STACK.test(all),
      noSecret: leaks(all).length === 0,
      noWrite:
        (sim.stats.calls['put-farm'] ?? 0) === asked.put && (sim.stats.calls.refresh ?? 0) === asked.refresh,
      nothingUnapplied: [...sim.state.services.values()].every(
        (s) => sim.state.pendingChanges(s).length === 0,
      ),
    };
    const handled = Object.values(checks).every(Boolean);
    count('pipes and signals', handled);
    expect({ name, code: result.code, checks, said: all.slice(0, 600) }).toEqual({
      name,
      code: exit,
      checks: Object.fromEntries(Object.keys(checks).map((k) => [k, true])),
      said: expect.anything(),
    });
  };

  /** Runs `stickler argv`, calling `when(line)` for each line it writes on stderr. */
  const spawnCli = (argv: string[], when: (line: string, child: ChildProcess) => void = () => undefined) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(process.execPath, [cli.file, ...argv], { cwd: dir, env });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        const text = d.toString();
        err += text;
        for (const line of text.split('\n')) if (line) when(line, child);
      });
      child.on('close', (code) => resolve({ code, out, err }));
    });

  it('show | head -1 on 20,000 farms: ends quietly with 141 when the pipe closes', async () => {
    // As a shell runs it, with pipefail so that the status is stickler's own.
    const result = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(
        'bash',
        // --norc: a bash whose input is a socket would read ~/.bashrc (it takes itself for rsh's).
        [
          '--norc',
          '--noprofile',
          '-c',
          'set -o pipefail; "$0" "$1" show | head -1',
          process.execPath,
          cli.file,
        ],
        { cwd: dir, env },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      child.on('close', (code) => resolve({ code, out, err }));
    });
    expect(result.out).toBe('loadbalancer-big\n');
    expectProcessHandled('a closed stdout pipe', result, 141, /^$/, { put: 0, refresh: 0 });
  }, 30_000);

  it.each(['SIGTERM', 'SIGHUP'] as const)(
    '%s during apply: the zones begun are finished, no other is started, the rest reported interrupted',
    async (signal) => {
      let sent = false;
      const result = await spawnCli(
        [
          'apply',
          '--policy',
          policy,
          '--service',
          'loadbalancer-four',
          '--yes',
          '--json',
          '--poll-interval',
          '50',
        ],
        (line, child) => {
          // During the first zone's refresh; the next zone's writes may have begun meanwhile.
          if (!sent && /zone gra: applying/.test(line)) {
            sent = true;
            child.kill(signal);
          }
        },
      );
      const report = JSON.parse(result.out) as { applied: unknown[]; failed: { code: string }[] };
      const begun = report.applied.length;
      expect(begun).toBeGreaterThanOrEqual(1);
      expect(begun).toBeLessThan(ZONES.length);
      expect(report.failed.map((f) => f.code)).toEqual(Array(ZONES.length - begun).fill('interrupted'));
      expectProcessHandled(
        `${signal} during apply`,
        result,
        1,
        new RegExp(`Interrupted \\(${signal}\\): finishing the zones already being written`),
        { put: begun, refresh: begun },
      );
    },
    30_000,
  );
});

describe('change requests on the bus, HTTP triggers (local pipeline; real AWS SDK publisher)', () => {
  let harness: PipelineHarness;
  beforeAll(async () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    harness = await startPipelineHarness({
      pipeline: {
        slack: {
          STICKLER_SLACK_TEAMS: 'T0001',
          STICKLER_SLACK_SETTERS: 'U0ALICE',
          STICKLER_SLACK_CHANNELS: 'C0OPS',
        },
      },
    });
  }, 30_000);
  afterAll(() => harness.close());

  const writes = () => (harness.sim.stats.calls['put-farm'] ?? 0) + (harness.sim.stats.calls.refresh ?? 0);

  /**
   * Runs the CLI in-process as its own process would run: the process's environment holds the
   * run's POWERTOOLS_LOG_LEVEL (Powertools reads it there), and what reaches the process's real
   * stdout and stderr (a logger writing there directly) counts as printed on them.
   */
  const runAsProcess = async (argv: string[], logLevel: string | undefined) => {
    const before = process.env.POWERTOOLS_LOG_LEVEL;
    if (logLevel === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
    else process.env.POWERTOOLS_LOG_LEVEL = logLevel;
    const real = { out: '', err: '' };
    const spy = (stream: 'stdout' | 'stderr') =>
      jest.spyOn(process[stream], 'write').mockImplementation((chunk: string | Uint8Array) => {
        real[stream === 'stdout' ? 'out' : 'err'] += String(chunk);
        return true;
      });
    const spies = [spy('stdout'), spy('stderr')];
    try {
      // The shell of someone who pasted simulate --pipeline's exports (no POWERTOOLS_* among them).
      const exported = Object.fromEntries(
        Object.entries(harness.pipeline.env).filter(([k]) => !k.startsWith('POWERTOOLS_')),
      );
      const env = { ...exported, ...(logLevel ? { POWERTOOLS_LOG_LEVEL: logLevel } : {}) };
      const { code, out, err } = await captureCli(argv, env, join(__dirname, '../../examples'));
      return { code, out: real.out + out, err: real.err + err };
    } finally {
      for (const s of spies) s.mockRestore();
      if (before === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
      else process.env.POWERTOOLS_LOG_LEVEL = before;
    }
  };
  const LOG_LINE = /^\{"level":/m;

  it('the compliance command: a DEBUG log level never breaks its --json document; a failed run is said once, in its own words', async () => {
    harness.sim.resetStats();
    const debug = await runAsProcess(['compliance', '--policy', 'policy.yaml', '--json'], 'DEBUG');
    let document: unknown;
    try {
      document = JSON.parse(debug.out);
    } catch {
      document = undefined;
    }
    const debugHandled =
      debug.code === 0 &&
      (document as { mode?: string } | undefined)?.mode === 'report' &&
      LOG_LINE.test(debug.err) && // the logs asked for, on stderr
      !STACK.test(debug.out + debug.err) &&
      leaks(debug.out + debug.err).length === 0;
    count('environment', debugHandled);

    const failed = await runAsProcess(['compliance', '--policy', 'no-such-policy.yaml'], undefined);
    const failedHandled =
      failed.code === 1 &&
      /^stickler: compliance run \S+ failed: .*no-such-policy\.yaml/.test(failed.err) &&
      failed.err.trim().split('\n').length === 1 &&
      !LOG_LINE.test(failed.out + failed.err) &&
      !STACK.test(failed.out + failed.err);
    count('environment', failedHandled);
    expect({
      debug: { handled: debugHandled, said: debug.out.slice(0, 200) },
      failed: { handled: failedHandled, said: failed.err.slice(0, 400) },
    }).toMatchObject({ debug: { handled: true }, failed: { handled: true } });
    expect(writes()).toBe(0);
  }, 30_000);

  const terminal = (requestId: string) =>
    harness.pipeline.bus.events.filter(
      (e) =>
        e.source === 'stickler' &&
        [
          'Stickiness Change Refused',
          'Stickiness Change Failed',
          'Stickiness Change Applied',
          'Stickiness Change Unchanged',
        ].includes(e['detail-type']) &&
        (e.detail as ChangeAuditDetail).requestId === requestId,
    );
  const until = async (found: () => boolean, ms: number) => {
    for (const end = Date.now() + ms; !found() && Date.now() < end; )
      await new Promise((r) => setTimeout(r, 50));
    return found();
  };

  const valid = (over: Record<string, unknown>) => ({
    service: 'loadbalancer-7f3a9c21',
    farmType: 'http',
    farmId: 101,
    stickiness: 'cookie',
    actor: { kind: 'system', id: 'hostile' },
    requestedAt: new Date().toISOString(),
    ...over,
  });
  const events: [string, Record<string, unknown>, RegExp][] = [
    [
      'cookie on a TCP farm',
      valid({ requestId: 'bad-1', farmType: 'tcp', farmId: 201 }),
      /not allowed on a TCP farm|TCP/,
    ],
    [
      'anything on a UDP farm',
      valid({ requestId: 'bad-2', farmType: 'udp', farmId: 301, stickiness: 'none' }),
      /UDP/,
    ],
    [
      'a misspelled safety field',
      valid({ requestId: 'bad-3', changeWindow: { notBefore: '2099-01-01T00:00:00Z' } }),
      /changeWindow/,
    ],
    ['.. as a service', valid({ requestId: 'bad-4', service: '..' }), /service/],
    ['a path as a service', valid({ requestId: 'bad-5', service: 'x/../../auth' }), /service/],
    ['a negative farm id', valid({ requestId: 'bad-6', farmId: -1 }), /farmId/],
    ['a farm id past 2^53', valid({ requestId: 'bad-7', farmId: 1e20 }), /farmId/],
    ['a stickiness in capitals', valid({ requestId: 'bad-8', stickiness: 'COOKIE' }), /stickiness/],
    [
      'a time in 2099',
      valid({ requestId: 'bad-9', requestedAt: '2099-01-01T00:00:00Z' }),
      /future|implausible/i,
    ],
    ['a stale request', valid({ requestId: 'bad-10', requestedAt: '2020-01-01T00:00:00Z' }), /stale|old/i],
    ['a 250 KB reason', valid({ requestId: 'bad-11', reason: 'r'.repeat(250_000) }), /reason|too|large|bus/i],
    ['a farm that does not exist', valid({ requestId: 'bad-12', farmId: 999 }), /not found/],
    [
      'a load balancer that does not exist',
      valid({ requestId: 'bad-13', service: 'loadbalancer-nope' }),
      /does not exist/,
    ],
    ['no actor', { ...valid({ requestId: 'bad-14' }), actor: undefined }, /actor/],
    [
      'an actor of an unknown kind',
      valid({ requestId: 'bad-15', actor: { kind: 'root', id: 'x' } }),
      /actor/,
    ],
    [
      'a window that closed',
      valid({ requestId: 'bad-16', window: { notAfter: '2026-01-01T00:00:00Z' } }),
      /window|closed/i,
    ],
  ];

  it(`${events.length} hostile change requests: each refused with a reason, once, nothing written`, async () => {
    harness.sim.resetStats();
    // Published as another system would, with the real AWS SDK client; the 250 KB one may be refused by the bus.
    for (const [, detail] of events)
      await harness.pipeline.publish([detail as never], 'acme.hostile').catch(() => undefined);
    const ids = events.map(([, d]) => String(d.requestId));
    await until(() => ids.every((id) => terminal(id).length > 0 || id === 'bad-11'), 20_000);
    for (const [name, detail, reason] of events) {
      const outcomes = terminal(String(detail.requestId));
      const d = outcomes[0]?.detail as ChangeAuditDetail | undefined;
      // The oversized request may be refused by the bus itself (PutEvents), which is also an answer.
      const handled =
        (outcomes.length === 1 && d!.outcome === 'refused' && reason.test(`${d!.code} ${d!.message}`)) ||
        (detail.requestId === 'bad-11' && outcomes.length <= 1);
      count('change-request events', handled);
      expect({
        name,
        outcomes: outcomes.length,
        handled,
        said: d ? `${d.code}: ${d.message}` : null,
      }).toMatchObject({ name, handled: true });
    }
    expect(writes()).toBe(0);
  }, 40_000);

  it('hostile webhook and Slack requests: each refused with its status, nothing published or written', async () => {
    harness.sim.resetStats();
    const api = harness.pipeline.env.STICKLER_API_URL!;
    const secret = harness.pipeline.env.STICKLER_WEBHOOK_SECRET_GENERIC!;
    const before = harness.pipeline.bus.events.filter(
      (e) => e['detail-type'] === 'Stickiness Change Requested',
    ).length;
    // One sending time for every body: a case builds its body twice (the body, then its signature).
    const sentAt = new Date().toISOString();
    const ticket = (over: Record<string, unknown> = {}) =>
      JSON.stringify({
        ticket: 'OPS-1',
        sentAt,
        requestedBy: 'eve',
        service: 'loadbalancer-7f3a9c21',
        farmType: 'http',
        farmId: 101,
        stickiness: 'cookie',
        ...over,
      });
    const signed = (body: string) => ({
      'content-type': 'application/json',
      'x-hub-signature-256': hubSignature(body, secret),
    });
    const big = 'x'.repeat(300 * 1024);
    const slackBody = slashBody({ text: 'set loadbalancer-7f3a9c21 http/101 cookie' });
    const now = Math.floor(Date.now() / 1000);
    const http: [string, string, string, Record<string, string>, number][] = [
      ['webhook: unsigned', '/webhooks/generic', ticket(), { 'content-type': 'application/json' }, 401],
      [
        'webhook: wrong signature',
        '/webhooks/generic',
        ticket(),
        { 'content-type': 'application/json', 'x-hub-signature-256': hubSignature(ticket(), 'guess') },
        401,
      ],
      [
        'webhook: signature of another body',
        '/webhooks/generic',
        ticket({ farmId: 102 }),
        signed(ticket()),
        401,
      ],
      ['webhook: unknown source', '/webhooks/gitlab', ticket(), signed(ticket()), 404],
      ['webhook: over 256 KiB', '/webhooks/generic', big, signed(big), 413],
      ['webhook: not JSON', '/webhooks/generic', '{ticket', signed('{ticket'), 400],
      [
        'webhook: form body',
        '/webhooks/generic',
        'a=1',
        { ...signed('a=1'), 'content-type': 'application/x-www-form-urlencoded' },
        415,
      ],
      [
        'webhook: cookie on TCP',
        '/webhooks/generic',
        ticket({ farmType: 'tcp', farmId: 201 }),
        signed(ticket({ farmType: 'tcp', farmId: 201 })),
        422,
      ],
      [
        'webhook: missing fields',
        '/webhooks/generic',
        ticket({ stickiness: undefined }),
        signed(ticket({ stickiness: undefined })),
        400,
      ],
      [
        'webhook: .. as a service',
        '/webhooks/generic',
        ticket({ service: '..' }),
        signed(ticket({ service: '..' })),
        400,
      ],
      [
        'slack: unsigned',
        '/slack/commands',
        slackBody,
        { 'content-type': 'application/x-www-form-urlencoded' },
        401,
      ],
      ['slack: wrong secret', '/slack/commands', slackBody, signSlack(slackBody, 'guess'), 401],
      ['slack: 6 minutes old', '/slack/commands', slackBody, signSlack(slackBody, undefined, now - 360), 401],
      [
        'slack: 6 minutes ahead',
        '/slack/commands',
        slackBody,
        signSlack(slackBody, undefined, now + 360),
        401,
      ],
      ['slack: no ids', '/slack/commands', 'text=show+x', signSlack('text=show+x'), 400],
      ['slack: over 64 KiB', '/slack/commands', big, signSlack(big), 413],
      ['slack: click that is not JSON', '/slack/interactions', 'payload=%7B', signSlack('payload=%7B'), 400],
      [
        'slack: click signed with another secret',
        '/slack/interactions',
        clickBody({ actionId: 'stickler_apply', value: 'a'.repeat(32) }),
        signSlack(clickBody({ actionId: 'stickler_apply', value: 'a'.repeat(32) }), 'guess'),
        401,
      ],
    ];
    for (const [name, path, body, headers, status] of http) {
      const answer = await fetch(`${api}${path}`, { method: 'POST', body, headers });
      const text = await answer.text();
      const handled = answer.status === status && !STACK.test(text) && leaks(text).length === 0;
      count(name.startsWith('slack') ? 'Slack' : 'ticketing webhook', handled);
      expect({ name, status: answer.status, handled }).toEqual({ name, status, handled: true });
    }
    // Slack answers 200 with a polite refusal for people it does not know: still nothing published.
    const denied: [string, string][] = [
      [
        'slack: a user who may not set',
        slashBody({ text: 'set loadbalancer-7f3a9c21 http/101 cookie', user_id: 'U0EVE' }),
      ],
      [
        'slack: a channel where setting is not allowed',
        slashBody({ text: 'set loadbalancer-7f3a9c21 http/101 cookie', channel_id: 'C0X' }),
      ],
      ['slack: another workspace', slashBody({ text: 'show loadbalancer-7f3a9c21', team_id: 'T0OTHER' })],
      ['slack: gibberish', slashBody({ text: '\u0000\u001b[2J;rm -rf /' })],
      ['slack: a click on a proposal that does not exist', ''],
    ];
    for (const [name, body0] of denied) {
      const click = body0 === '';
      const body = click ? clickBody({ actionId: 'stickler_apply', value: 'b'.repeat(32) }) : body0;
      const answer = await fetch(`${api}/slack/${click ? 'interactions' : 'commands'}`, {
        method: 'POST',
        body,
        headers: signSlack(body),
      });
      const text = await answer.text();
      const handled =
        answer.status === 200 &&
        !STACK.test(text) &&
        (click || /not allowed|Usage|is not a command/.test(text));
      count('Slack', handled);
      expect({ name, status: answer.status, handled }).toEqual({ name, status: 200, handled: true });
    }
    expect(
      harness.pipeline.bus.events.filter((e) => e['detail-type'] === 'Stickiness Change Requested').length,
    ).toBe(before);
    expect(writes()).toBe(0);
  }, 30_000);
});
