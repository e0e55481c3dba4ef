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
  logLevel: 'warning',
});
chmodSync('dist/stickler.js', 0o755);
