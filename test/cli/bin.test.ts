import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { simulatorEnv } from '../../lib/simulator/server';
import { type SimulatorHarness, startHarness } from '../helpers/simulator';

const run = promisify(execFile);
const root = join(__dirname, '../..');

/** The bundled bin, run as a user runs it: catches what only the bundle can get wrong. */
describe('dist/stickler.js', () => {
  let h: SimulatorHarness;
  beforeAll(async () => {
    await run(process.execPath, [join(root, 'scripts/build-cli.mjs')], { cwd: root });
    h = await startHarness();
  }, 60_000);
  afterAll(() => h.close());
  beforeEach(() => h.sim.resetState()); // each test starts from the example fleet

  const stickler = (args: string[]) =>
    run(process.execPath, [join(root, 'dist/stickler.js'), ...args], {
      cwd: root,
      env: { PATH: process.env.PATH, ...simulatorEnv(h.sim.baseUrl) },
    }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        stdout: e.stdout,
        stderr: e.stderr,
      }),
    );

  it('prints its usage', async () => {
    const { code, stdout } = await stickler(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('stickler plan --policy FILE');
  });

  it('plans against the OVH API and exits 2 on drift', async () => {
    const { code, stdout } = await stickler([
      'plan',
      '--policy',
      'test/fixtures/policy.small.yaml',
      '--json',
    ]);
    expect(code).toBe(2);
    expect(JSON.parse(stdout).changes).toHaveLength(1);
  });

  it('applies with --yes and exits 0', async () => {
    const { code, stdout, stderr } = await stickler([
      'apply',
      '--policy',
      'test/fixtures/policy.small.yaml',
      '--yes',
      '--poll-interval',
      '10',
    ]);
    expect(code).toBe(0);
    expect(stdout).toContain('Applied 1, unchanged 2, refused 0, failed 0.');
    expect(stderr).toContain('zone sbg: done');
  });
});
