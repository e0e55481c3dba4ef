// Runs a TypeScript entry (a benchmark) bundled as the CLI is (scripts/build-cli.mjs): the local
// pipeline's handlers import ESM-only middy, which a TypeScript loader in CommonJS cannot require.
// Usage: node scripts/run-bundled.mjs ENTRY.ts [args...]
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { build } from 'esbuild';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: node scripts/run-bundled.mjs ENTRY.ts [args...]\n');
  process.exit(2);
}
mkdirSync('.tmp', { recursive: true });
const outfile = join('.tmp', `${basename(entry, '.ts')}.cjs`);
await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  external: ['@aws-sdk/*', 'dynalite'],
  mainFields: ['module', 'main'],
  logLevel: 'warning',
});
const { status } = spawnSync(process.execPath, [outfile, ...args], { stdio: 'inherit' });
process.exit(status ?? 1);
