/**
 * `npm run cost`: what an idle month and 1,000 change requests cost, from the template
 * `serverless package` builds (in a temporary folder) and the prices of scripts/cost-model.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { costMarkdown } from './cost-model';

const root = join(__dirname, '..');
const out = mkdtempSync(join(tmpdir(), 'stickler-cost-'));
try {
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/serverless/bin/serverless.js'), 'package', '--stage', 'cost', '--package', out],
    {
      cwd: root,
      env: { ...process.env, CI: 'true', SLS_TELEMETRY_DISABLED: '1' },
      stdio: 'pipe',
    },
  );
  process.stdout.write(
    `${costMarkdown(JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8')))}\n`,
  );
} finally {
  rmSync(out, { recursive: true, force: true });
}
