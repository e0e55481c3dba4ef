/**
 * The CLI bundled as `npm run build` bundles it (scripts/build-cli.mjs), into a file of its own
 * under .tmp/, so that tests running a real process (signals, pipes) never race another test
 * rebuilding dist/stickler.js. test/cli/bin.test.ts runs the build script itself.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = join(__dirname, '../..');

export const bundleCli = async (): Promise<{ file: string; remove(): void }> => {
  mkdirSync(join(root, '.tmp'), { recursive: true });
  const file = join(root, '.tmp', `stickler-${process.pid}-${Date.now()}.js`);
  await build({
    entryPoints: [join(root, 'bin/stickler.ts')],
    outfile: file,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    external: ['@aws-sdk/*', 'dynalite'],
    mainFields: ['module', 'main'],
    logLevel: 'warning',
  });
  return { file, remove: () => rmSync(file, { force: true }) };
};
