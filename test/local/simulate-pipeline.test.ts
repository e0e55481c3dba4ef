/**
 * `stickler simulate --pipeline --port-base N --exports-file FILE`: fixed ports, and the exports in a
 * file a shell sources; a port in use is named, and nothing is left listening.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { CliIo } from '../../lib/cli/io';
import { runCli } from '../../lib/cli/main';
import { PORT_OFFSETS } from '../../lib/local/listen';
import { bundleCli } from '../helpers/bundled-cli';

const examples = join(__dirname, '../../examples');
const last = Math.max(...Object.values(PORT_OFFSETS));

const listen = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** A base with its whole range free right now (the ports are tried, then released). */
const freeBase = async (): Promise<number> => {
  for (let attempt = 0; attempt < 20; attempt++) {
    const probe = await listen(0);
    const base = (probe.address() as AddressInfo).port;
    await close(probe);
    if (base + last > 65_535) continue;
    const held: Server[] = [];
    try {
      for (let p = base; p <= base + last; p++) held.push(await listen(p));
      return base;
    } catch {
      // one of them is taken: another base
    } finally {
      await Promise.all(held.map(close));
    }
  }
  throw new Error('no free range of ports');
};

const makeIo = () => {
  const out: string[] = [];
  const err: string[] = [];
  const stdin = new PassThrough();
  stdin.end();
  let stop: () => void = () => undefined;
  const io: CliIo = {
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    stdin,
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' },
    interactive: false,
    cwd: examples,
    untilStopped: () => new Promise<void>((resolve) => (stop = resolve)),
  };
  return { io, out: () => out.join(''), err: () => err.join(''), stop: () => stop() };
};

describe('stickler simulate --pipeline --port-base --exports-file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stickler-simulate-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('listens on the ports from the base and writes exports a shell sources, readable by the user only', async () => {
    const base = await freeBase();
    const file = join(dir, 'stickler.env');
    const h = makeIo();
    const running = runCli(
      ['simulate', '--pipeline', '--port-base', String(base), '--exports-file', file],
      h.io,
    );
    for (let waited = 0; !h.out().includes('Ctrl-C') && waited < 10_000; waited += 50)
      await new Promise((r) => setTimeout(r, 50));
    expect(h.out()).toContain(`source ${file}`);
    expect(h.out()).not.toContain('export OVH_');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const sourced = execFileSync(
      'bash',
      [
        '-c',
        `source "$0" && echo "$OVH_ENDPOINT|$AWS_ENDPOINT_URL_EVENTBRIDGE|$AWS_ENDPOINT_URL_DYNAMODB|$STICKLER_API_URL|\${OVH_CLIENT_ID-unset}"`,
        file,
      ],
      // A shell still holding a service account's variables from another start: cleared.
      {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, OVH_CLIENT_ID: 'stale', OVH_CLIENT_SECRET: 'stale' },
      },
    ).trim();
    expect(sourced).toBe(
      [
        `http://127.0.0.1:${base}/1.0`,
        `http://127.0.0.1:${base + PORT_OFFSETS.bus}`,
        `http://127.0.0.1:${base + PORT_OFFSETS.dynamodb}`,
        `http://127.0.0.1:${base + PORT_OFFSETS.api}`,
        'unset',
      ].join('|'),
    );
    expect(readFileSync(file, 'utf8')).not.toContain('POWERTOOLS_');
    // What the file says is what runs: the simulator answers at the exported endpoint.
    expect(await (await fetch(`http://127.0.0.1:${base}/1.0/auth/time`)).json()).toEqual(expect.any(Number));
    h.stop();
    expect(await running).toBe(0);
  });

  it('names a port in use, and leaves nothing listening', async () => {
    const base = await freeBase();
    const taken = await listen(base + PORT_OFFSETS.dynamodb);
    try {
      const h = makeIo();
      expect(await runCli(['simulate', '--pipeline', '--port-base', String(base)], h.io)).toBe(1);
      expect(h.err()).toContain(
        `port ${base + PORT_OFFSETS.dynamodb} (the local DynamoDB (dynalite)) is in use`,
      );
      // Everything started before it was closed again: each port can be taken.
      const again = await Promise.all([base, base + PORT_OFFSETS.ticketing].map((p) => listen(p)));
      await Promise.all(again.map(close));
    } finally {
      await close(taken);
    }
    const simulatorPort = await listen(base);
    try {
      const h = makeIo();
      expect(await runCli(['simulate', '--pipeline', '--port-base', String(base)], h.io)).toBe(1);
      expect(h.err()).toContain(`port ${base} (the simulator) is in use: choose another --port-base`);
    } finally {
      await close(simulatorPort);
    }
  });

  it('does not write the exports through a symbolic link', async () => {
    const target = join(dir, 'someone-elses');
    writeFileSync(target, 'keep me\n');
    symlinkSync(target, join(dir, 'link'));
    const h = makeIo();
    expect(await runCli(['simulate', '--pipeline', '--exports-file', join(dir, 'link')], h.io)).toBe(1);
    expect(h.err()).toContain('is a symbolic link; give the file itself');
    expect(readFileSync(target, 'utf8')).toBe('keep me\n');
  });

  it('refuses --port-base without --pipeline, with --port, or out of range, and --exports-file without --pipeline', async () => {
    for (const [args, message] of [
      [['--port-base', '9000'], '--port-base goes with --pipeline'],
      [['--pipeline', '--port-base', '9000', '--port', '9000'], 'give --port or --port-base, not both'],
      [['--pipeline', '--port-base', '80'], '--port-base'],
      [['--exports-file', 'x.env'], '--exports-file goes with --pipeline'],
    ] as const) {
      const h = makeIo();
      expect(await runCli(['simulate', ...args], h.io)).toBe(1);
      expect(h.err()).toContain(message);
    }
  });

  it('works as a process: Node itself takes no flag of the command (it reads --env-file anywhere in argv)', async () => {
    const cli = await bundleCli();
    const file = join(dir, 'exports.sh');
    const child = spawn(process.execPath, [cli.file, 'simulate', '--pipeline', '--exports-file', file], {
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' },
      stdio: 'pipe',
    });
    try {
      for (let waited = 0; !existsSync(file) && child.exitCode === null && waited < 20_000; waited += 100)
        await new Promise((r) => setTimeout(r, 100));
      expect(child.exitCode).toBeNull();
      expect(readFileSync(file, 'utf8')).toContain('export OVH_ENDPOINT=');
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
      cli.remove();
    }
  }, 30_000);
});
