// Bundles the `stickler` CLI into one file so the bin runs on plain Node with no TypeScript loader.
import { chmodSync } from 'node:fs';
import { build } from 'esbuild';

await build({
  entryPoints: ['bin/stickler.ts'],
  outfile: 'dist/stickler.js',
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  sourcemap: true,
  banner: { js: '#!/usr/bin/env node' },
  // The AWS SDK and dynalite (native LevelDB) load from node_modules; the rest, ESM-only middy
  // included, is bundled so that the CLI runs on any Node the project supports.
  external: ['@aws-sdk/*', 'dynalite'],
  mainFields: ['module', 'main'],
  logLevel: 'warning',
});
chmodSync('dist/stickler.js', 0o755);
