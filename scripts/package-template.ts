/**
 * The CloudFormation template `serverless package` builds, for a stage, into a folder of its
 * own. `serverless package` empties the clone's `.serverless` folder whatever `--package` says:
 * a user's own package there (from the README's `serverless package`) is moved aside for the
 * run and put back after it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

/** Packages the stack into `out` (kept), leaving the clone's `.serverless` as it was. */
export const packageInto = (root: string, stage: string, out: string): void => {
  const users = join(root, '.serverless');
  const aside = join(root, `.serverless.kept-${process.pid}-${Date.now()}`);
  const moved = existsSync(users);
  if (moved) renameSync(users, aside);
  try {
    execFileSync(
      process.execPath,
      [
        join(root, 'node_modules/serverless/bin/serverless.js'),
        'package',
        '--stage',
        stage,
        '--package',
        out,
      ],
      {
        cwd: root,
        env: { ...process.env, CI: 'true', SLS_TELEMETRY_DISABLED: '1' },
        stdio: 'pipe',
        timeout: 120_000,
      },
    );
  } finally {
    if (moved) {
      rmSync(users, { recursive: true, force: true });
      renameSync(aside, users);
    }
  }
};

/** The packaged template of a stage (built in a temporary folder, removed after). */
export const packageTemplate = (root: string, stage: string): Template => {
  const out = mkdtempSync(join(tmpdir(), 'stickler-package-'));
  try {
    packageInto(root, stage, out);
    return JSON.parse(
      readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8'),
    ) as Template;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
};
