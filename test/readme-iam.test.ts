/**
 * The README's IAM policy for a service account grants exactly the actions of the calls stickler
 * makes: the CLI's show, plan and apply (both ways of listing farms) and the traffic lookup are
 * run against the simulator, every call they send is matched to its operation in OVH's official
 * schema, and that operation's `x-iam-actions` must be in the policy, and nothing else.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { CliIo } from '../lib/cli/io';
import { runCli } from '../lib/cli/main';
import { parseFleet } from '../lib/simulator/fleet';
import { simulatorEnv, startSimulator } from '../lib/simulator/server';

const root = join(__dirname, '..');
type Operation = { 'x-iam-actions'?: { name: string }[] };
const schema = JSON.parse(
  readFileSync(join(__dirname, 'fixtures/ovh-api/ipLoadbalancing.openapi-2025.json'), 'utf8'),
) as { paths: Record<string, Record<string, Operation>> };

/** The schema operation a call is, by its path template (`{name}` is one path segment). */
const operationOf = (method: string, path: string): Operation | undefined => {
  for (const [template, operations] of Object.entries(schema.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    if (pattern.test(path)) return operations[method.toLowerCase()];
  }
  return undefined;
};

describe("the README's IAM policy for a service account", () => {
  it('grants exactly the actions of the calls stickler makes', async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const policy = /```json\n(\s*\{\s*"name": "stickler"[\s\S]*?)```/.exec(readme)?.[1];
    expect(policy).toBeDefined();
    const granted = new Set(
      (JSON.parse(policy!) as { permissions: { allow: { action: string }[] } }).permissions.allow.map(
        (a) => a.action,
      ),
    );

    const sim = await startSimulator({
      fleet: parseFleet(readFileSync(join(root, 'examples/fleet.yaml'), 'utf8')),
      task: { todoMs: 5, doingMs: 10 },
    });
    const calls = new Set<string>();
    const realFetch = globalThis.fetch;
    globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.origin === new URL(sim.baseUrl).origin && url.pathname.startsWith('/1.0/ipLoadbalancing'))
        calls.add(`${init?.method ?? 'GET'} ${url.pathname.slice('/1.0'.length)}`);
      return realFetch(input, init);
    }) as typeof fetch;
    try {
      for (const listing of ['auto', 'per-farm']) {
        const env = { ...simulatorEnv(sim.baseUrl), OVH_LISTING: listing, POWERTOOLS_LOG_LEVEL: 'SILENT' };
        for (const args of [
          ['show'],
          ['plan', '--policy', 'policy.yaml'],
          ['apply', '--policy', 'policy.yaml', '--yes'],
          ['refresh', 'loadbalancer-7f3a9c21', 'gra', '--yes'],
        ]) {
          const stdin = new PassThrough();
          stdin.end();
          const io: CliIo = {
            stdout: { write: () => true },
            stderr: { write: () => true },
            stdin,
            env,
            interactive: false,
            cwd: join(root, 'examples'),
          };
          await runCli(args, io);
        }
      }
    } finally {
      globalThis.fetch = realFetch;
      await sim.close();
    }
    const needed = new Set<string>();
    const unknown: string[] = [];
    for (const call of calls) {
      const [method, path] = call.split(' ') as [string, string];
      const actions = operationOf(method, path)?.['x-iam-actions'];
      if (!actions) unknown.push(call);
      for (const a of actions ?? []) needed.add(a.name);
    }
    expect(unknown).toEqual([]);
    // The run reached every kind of call: listings, farms, zones, writes, refreshes, tasks, traffic.
    for (const kind of [
      'definedFarms',
      '/farm/',
      '/zone',
      'PUT ',
      '/refresh',
      '/task',
      '/metricsToken',
      'pendingChanges',
    ])
      expect([kind, [...calls].some((c) => c.includes(kind))]).toEqual([kind, true]);
    expect([...granted].sort()).toEqual([...needed].sort());
  });
});
