/** What `npm pack` (and so `npm install -g` of the tarball) carries: the CLI and what it reads at run time. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '../..');

describe('the package', () => {
  it('carries the bundled CLI, the example fleet and policy, the sample events and the Slack manifest, and no sources or tests', () => {
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    ) as [{ files: { path: string }[] }];
    const files = packed.files.map((f) => f.path);
    for (const needed of [
      'dist/stickler.js',
      'examples/fleet.yaml',
      'examples/policy.yaml',
      'events/ticketing-webhook/jira-approved.json',
      'slack/manifest.yaml',
      'package.json',
      'README.md',
    ])
      expect(files).toContain(needed);
    expect(files.filter((f) => /^(lib|test|functions|bench)\//.test(f))).toEqual([]);
  });
});
