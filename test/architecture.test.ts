import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The layering the README's layout claims, checked on the imports of every file. */
const root = join(__dirname, '..');
const files = (dir: string): string[] =>
  readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(root, path)).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
/**
 * Every module a file reaches: static imports and re-exports (across lines), dynamic `import()`
 * and `require()` with a literal name. (A name built at run time is no module name this can check,
 * and none is used.)
 */
const imports = (text: string): string[] => [
  ...[...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+['"]([^'"]+)['"]/gms)].map((m) => m[1]!),
  ...[...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!),
  ...[...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!),
  ...[...text.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!),
];
const importsOf = (file: string): string[] => imports(readFileSync(join(root, file), 'utf8'));
const resolved = (file: string, spec: string) =>
  spec.startsWith('.') ? relative(root, join(root, file, '..', spec)) : spec;

describe('the import reader of the layering test', () => {
  it('finds static, multi-line, re-exported, dynamic and required modules', () => {
    const text = [
      "import { a } from '../domain/a';",
      'import {',
      '  b,',
      "} from '../ports/b';",
      "export { c } from './c';",
      "import './side-effect';",
      "const w = await import('../../functions/apply-worker');",
      "const x = require('node:http');",
    ].join('\n');
    expect(imports(text).sort()).toEqual(
      [
        '../../functions/apply-worker',
        '../domain/a',
        '../ports/b',
        './c',
        './side-effect',
        'node:http',
      ].sort(),
    );
  });
});

describe('layering', () => {
  it('uses zod/mini only: classic zod installs its English messages for every schema, replacing the ones the intake writes', () => {
    for (const f of [...files('lib'), ...files('functions')])
      expect([
        f,
        importsOf(f).filter((s) => s === 'zod' || (s.startsWith('zod/') && s !== 'zod/mini')),
      ]).toEqual([f, []]);
  });

  it('keeps functions/ out of lib/', () => {
    for (const f of files('lib'))
      expect([f, importsOf(f).filter((s) => resolved(f, s).startsWith('functions'))]).toEqual([f, []]);
  });

  it('keeps the domain pure: no adapter, app, SDK, network or environment', () => {
    for (const f of files('lib/domain')) {
      const bad = importsOf(f).filter(
        (s) =>
          /^(@aws-sdk|node:http|node:https)/.test(s) ||
          /lib\/(adapters|app|wiring|cli|local)/.test(resolved(f, s)),
      );
      expect([f, bad]).toEqual([f, []]);
      expect([f, /process\.env/.test(readFileSync(join(root, f), 'utf8'))]).toEqual([f, false]);
    }
  });

  it('keeps use cases and ports free of adapters and of the environment', () => {
    for (const f of [...files('lib/app'), ...files('lib/ports')]) {
      expect([
        f,
        importsOf(f).filter((s) => /lib\/(adapters|wiring|cli|local|simulator)/.test(resolved(f, s))),
      ]).toEqual([f, []]);
      expect([f, /process\.env/.test(readFileSync(join(root, f), 'utf8'))]).toEqual([f, false]);
    }
  });

  it('keeps lib/shared free of adapters, and the simulator free of the client it checks', () => {
    // lib/shared imports nothing of the project but itself.
    for (const f of files('lib/shared'))
      expect([f, importsOf(f).filter((s) => s.startsWith('.') && !/^\.\/[\w-]+$/.test(s))]).toEqual([f, []]);
    for (const f of files('lib/simulator'))
      expect([f, importsOf(f).filter((s) => /lib\/adapters/.test(resolved(f, s)))]).toEqual([f, []]);
  });
});
