/**
 * The README's Slack walk-through, run as documented (scripts/slack-walkthrough.ts as a process)
 * against the local pipeline: the command, the plan, the Apply click built from the reply, the
 * outcome.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type PipelineHarness, startPipelineHarness } from '../helpers/pipeline';

const root = join(__dirname, '../..');

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });

describe('the Slack walk-through script', () => {
  let harness: PipelineHarness;
  let port: number;
  beforeAll(async () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    port = await freePort();
    harness = await startPipelineHarness({
      pipeline: {
        slack: {
          STICKLER_SLACK_SETTERS: 'U0ALICE',
          STICKLER_SLACK_CHANNELS: 'C0OPS',
          STICKLER_SLACK_RESPONSE_ORIGIN: `http://127.0.0.1:${port}`,
        },
      },
    });
  });
  afterAll(() => harness.close());

  it('sends the command, clicks Apply from the reply it received, and prints the outcome', async () => {
    const farm = () => harness.sim.state.services.get('loadbalancer-7f3a9c21')!.farms.get('http/102')!;
    const target = farm().stored.stickiness === 'cookie' ? 'sourceIp' : 'cookie';
    const { stdout } = await promisify(execFile)(
      join(root, 'node_modules/.bin/tsx'),
      [
        'scripts/slack-walkthrough.ts',
        '--port',
        String(port),
        '--text',
        `set loadbalancer-7f3a9c21 http/102 ${target}`,
      ],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          STICKLER_API_URL: harness.pipeline.env.STICKLER_API_URL,
          SLACK_SIGNING_SECRET: harness.pipeline.env.SLACK_SIGNING_SECRET,
        },
        timeout: 60_000,
      },
    );
    expect(stdout).toContain(`/stickiness set loadbalancer-7f3a9c21 http/102 ${target}`);
    expect(stdout).toContain('Clicking Apply');
    expect(stdout).toMatch(new RegExp(`Outcome: [\\s\\S]*applied: .* → \\*${target}\\*`));
    expect(farm().stored.stickiness).toBe(target);
  }, 60_000);

  it('says at once when the command is refused, without waiting for a plan', async () => {
    const error = await promisify(execFile)(
      join(root, 'node_modules/.bin/tsx'),
      [
        'scripts/slack-walkthrough.ts',
        '--port',
        String(port),
        '--user',
        'U0NOBODY',
        '--text',
        'set loadbalancer-7f3a9c21 http/102 cookie',
      ],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          STICKLER_API_URL: harness.pipeline.env.STICKLER_API_URL,
          SLACK_SIGNING_SECRET: harness.pipeline.env.SLACK_SIGNING_SECRET,
        },
        timeout: 30_000,
      },
    ).catch((e: { code: number; stderr: string }) => e);
    // Killed by the timeout below (a wait for a plan that never comes), it would have no exit code 1.
    expect(error).toMatchObject({ code: 1, stderr: expect.stringContaining('no plan to apply: ') });
  }, 60_000);
});
