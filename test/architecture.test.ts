import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The layering the README's layout claims, checked on the imports of every file. */
const root = join(__dirname, '..');
const files = (dir: string): string[] =>
  readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(root, path)).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
const imports = (file: string): string[] =>
  [...readFileSync(join(root, file), 'utf8').matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
const resolved = (file: string, spec: string) =>
  spec.startsWith('.') ? relative(root, join(root, file, '..', spec)) : spec;

describe('layering', () => {
  it('keeps functions/ out of lib/', () => {
    for (const f of files('lib'))
      expect([f, imports(f).filter((s) => resolved(f, s).startsWith('functions'))]).toEqual([f, []]);
  });

  it('keeps the domain pure: no adapter, app, SDK, network or environment', () => {
    for (const f of files('lib/domain')) {
      const bad = imports(f).filter(
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
        imports(f).filter((s) => /lib\/(adapters|wiring|cli|local|simulator)/.test(resolved(f, s))),
      ]).toEqual([f, []]);
      expect([f, /process\.env/.test(readFileSync(join(root, f), 'utf8'))]).toEqual([f, false]);
    }
  });

  it('keeps lib/shared free of adapters, and the simulator free of the client it checks', () => {
    for (const f of files('lib/shared'))
      expect([f, imports(f).filter((s) => s.startsWith('.'))]).toEqual([f, []]);
    for (const f of files('lib/simulator'))
      expect([f, imports(f).filter((s) => /lib\/adapters/.test(resolved(f, s)))]).toEqual([f, []]);
  });
});
