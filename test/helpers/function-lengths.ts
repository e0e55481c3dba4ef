/**
 * The length of every function where logic lives, counted as a reader meets it: a function's own
 * lines, without the functions it holds (a factory of named functions is as long as its own
 * glue, not as its whole body). Used by test/function-length.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseSync } from '@swc/core';

export const LOGIC_FOLDERS = ['lib/app', 'lib/domain', 'lib/wiring', 'lib/cli'];
/** A screen. */
export const SCREEN_LINES = 60;

export interface FunctionLength {
  /** `file#outer>inner`, callbacks named after the function holding them. */
  id: string;
  own: number;
}

type Node = { type?: string; span?: { start: number; end: number }; [key: string]: unknown };
const FUNCTION_TYPES = new Set([
  'FunctionDeclaration',
  'FunctionExpression',
  'ArrowFunctionExpression',
  'ClassMethod',
  'MethodProperty',
]);

const filesUnder = (root: string, folder: string): string[] =>
  readdirSync(join(root, folder), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? filesUnder(root, join(folder, e.name))
      : e.name.endsWith('.ts')
        ? [join(root, folder, e.name)]
        : [],
  );

export const functionLengths = (root: string): FunctionLength[] => {
  const found: FunctionLength[] = [];
  for (const file of LOGIC_FOLDERS.flatMap((f) => filesUnder(root, f))) {
    const source = readFileSync(file, 'utf8');
    const module = parseSync(source, { syntax: 'typescript' }) as unknown as Node & {
      span: { start: number };
    };
    // swc's spans count from a base shared by every parse in the process: the module's first
    // token gives it.
    const leading = /^(\s|\/\/[^\n]*\n|\/\*[\s\S]*?\*\/)*/.exec(source)![0].length;
    const base = module.span.start - leading;
    const bytes = Buffer.from(source, 'utf8');
    const lineOf = (position: number) =>
      bytes
        .subarray(0, position - base)
        .toString('utf8')
        .split('\n').length;
    const rel = relative(root, file);
    const visit = (
      node: unknown,
      name: string,
      holder: { id: string; name: string; nested: number } | null,
    ) => {
      if (!node || typeof node !== 'object') return;
      if (Array.isArray(node)) {
        for (const child of node) visit(child, name, holder);
        return;
      }
      const n = node as Node;
      let here = name;
      const id = n.id as Node | undefined;
      const key = n.key as Node | undefined;
      const identifier = n.identifier as Node | undefined;
      if (n.type === 'VariableDeclarator' && id?.type === 'Identifier') here = String(id.value);
      if (n.type === 'FunctionDeclaration' && identifier) here = String(identifier.value);
      if (
        (n.type === 'ClassMethod' || n.type === 'KeyValueProperty' || n.type === 'MethodProperty') &&
        key?.value
      )
        here = String(key.value);
      const children = Object.entries(n).filter(([k]) => k !== 'span');
      if (n.type && FUNCTION_TYPES.has(n.type) && n.span) {
        const lines = lineOf(n.span.end) - lineOf(n.span.start) + 1;
        const own = {
          id: holder ? `${holder.id}>${here === holder.name ? '(callback)' : here}` : `${rel}#${here}`,
          name: here,
          nested: 0,
        };
        if (holder) holder.nested += lines;
        for (const [, child] of children) visit(child, here, own);
        found.push({ id: own.id, own: lines - own.nested });
        return;
      }
      for (const [, child] of children) visit(child, here, holder);
    };
    visit(module.body, '(module)', null);
  }
  // Several callbacks of one function share an id: the longest speaks for them.
  const longest = new Map<string, number>();
  for (const f of found) longest.set(f.id, Math.max(longest.get(f.id) ?? 0, f.own));
  return [...longest].map(([id, own]) => ({ id, own }));
};
