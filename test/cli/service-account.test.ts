import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { type CliIo, runCli } from '../../lib/cli/main';
import { SIMULATOR_SERVICE_ACCOUNT, simulatorEnv } from '../../lib/simulator/server';
import { captureCli } from '../helpers/cli';
import { type SimulatorHarness, startHarness } from '../helpers/simulator';

const examples = join(__dirname, '../../examples');

describe('stickler CLI with an OVH service account (OVH_CLIENT_ID, OVH_CLIENT_SECRET) against the simulator', () => {
  let h: SimulatorHarness;
  let env: NodeJS.ProcessEnv;
  beforeEach(async () => {
    h = await startHarness({ task: { todoMs: 200, doingMs: 600 } });
    env = simulatorEnv(h.sim.baseUrl, SIMULATOR_SERVICE_ACCOUNT);
  });
  afterEach(() => h.close());

  it('applies a change with a bearer token and fetches a new one once when OVH ends it mid-run', async () => {
    // As soon as the refresh is asked, every token issued so far stops working: the task polls meet a 401.
    const expiring = setInterval(() => {
      if (h.sim.stats.calls.refresh >= 1) {
        h.sim.tokens.expireAll();
        clearInterval(expiring);
      }
    }, 2);
    try {
      const run = await captureCli(
        ['set', 'loadbalancer-aaa', 'http/2', 'cookie', '--yes', '--poll-interval', '20'],
        env,
        examples,
      );
      expect({ code: run.code, err: run.err }).toEqual({ code: 0, err: expect.any(String) });
      expect(run.out).toContain('loadbalancer-aaa http/2');
    } finally {
      clearInterval(expiring);
    }
    const farm = h.sim.state.services.get('loadbalancer-aaa')!.farms.get('http/2')!;
    expect(farm.applied.get('sbg')).toMatchObject({ stickiness: 'cookie' });
    expect(h.sim.stats.calls['oauth2-token']).toBe(2);
    expect(h.sim.stats.rejected.auth).toBeGreaterThanOrEqual(1);
    expect(h.sim.stats.calls['auth-time']).toBe(0);
  });

  it('says what to check when the service account is refused, never its secret', async () => {
    const run = await captureCli(
      ['show', '--json'],
      { ...env, OVH_CLIENT_SECRET: 'not-the-secret-9f8e' },
      examples,
    );
    expect(run.code).toBe(1);
    expect(run.err).toContain("OVH refused the service account's token request (invalid_client");
    expect(run.err).toContain('check the client id and secret (OVH_CLIENT_ID and OVH_CLIENT_SECRET');
    expect(run.out + run.err).not.toContain('not-the-secret-9f8e');
  });

  it('refuses both kinds of credentials at once before any call', async () => {
    const run = await captureCli(['show'], { ...env, ...simulatorEnv(h.sim.baseUrl) }, examples);
    expect(run.code).toBe(1);
    expect(run.err).toContain('both kinds of OVH credentials are set');
    expect(h.sim.stats.calls['oauth2-token']).toBe(0);
  });
});

describe('stickler simulate --service-account', () => {
  it("prints a service account's exports, with which the CLI talks to it", async () => {
    const out: string[] = [];
    let shown: Awaited<ReturnType<typeof captureCli>> | undefined;
    const stdin = new PassThrough();
    stdin.end('');
    const io: CliIo = {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: () => undefined },
      stdin,
      env: {},
      interactive: false,
      cwd: examples,
      // While it serves: another shell pastes the exports and runs show.
      untilStopped: async () => {
        const exports = Object.fromEntries(
          [...out.join('').matchAll(/^ {2}export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]),
        );
        expect(Object.keys(exports).sort()).toEqual(['OVH_CLIENT_ID', 'OVH_CLIENT_SECRET', 'OVH_ENDPOINT']);
        shown = await captureCli(['show', '--json'], exports, examples);
      },
    };
    expect(await runCli(['simulate', '--service-account'], io)).toBe(0);
    expect(shown?.code).toBe(0);
    expect(JSON.parse(shown!.out)).toBeTruthy();
  });
});
