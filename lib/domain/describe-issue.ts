/**
 * Plain-English messages for schema issues. zod/mini ships no messages (to stay small), and ours
 * say what was expected and what was found.
 */
import type * as z from 'zod/mini';
import { quoted } from './text';

type Issue = z.core.$ZodIssue;

const shown = (value: unknown): string => {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return `${value}`;
  if (typeof value === 'object') return 'an object';
  return typeof value === 'string' ? quoted(value, 57) : String(JSON.stringify(value)).slice(0, 60);
};

const valueAt = (root: unknown, path: readonly PropertyKey[]): unknown =>
  path.reduce<unknown>(
    (node, key) =>
      node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined,
    root,
  );

/**
 * One issue in words. `root` is the value that was parsed: zod leaves the offending input out
 * of its issues, so it is looked up there to say what was found.
 */
export const describeIssue = (issue: Issue, root?: unknown, hidden = false): string => {
  // A message set on purpose in a schema (not zod's fallback) wins.
  if (issue.message && issue.message !== 'Invalid input') return issue.message;
  if (hidden) return `invalid (the value is not shown: it may be a secret)`;
  const input = issue.input ?? valueAt(root, issue.path);
  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) return `missing (expected ${issue.expected})`;
      if (typeof input === 'number' && !Number.isFinite(input))
        return `expected a finite number, got ${shown(input)}`;
      return `expected ${issue.expected}, got ${shown(input)}`;
    case 'invalid_value':
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}, got ${shown(input)}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    case 'too_small':
      return issue.origin === 'array'
        ? `needs at least ${issue.minimum} item(s)`
        : issue.origin === 'string'
          ? `must be at least ${issue.minimum} character(s)`
          : `must be ${issue.inclusive ? '>=' : '>'} ${issue.minimum}`;
    case 'too_big':
      return issue.origin === 'array'
        ? `allows at most ${issue.maximum} item(s)`
        : issue.origin === 'string'
          ? `must be at most ${issue.maximum} character(s)`
          : `must be ${issue.inclusive ? '<=' : '<'} ${issue.maximum}`;
    case 'invalid_format':
      return `expected a valid ${issue.format}, got ${shown(input)}`;
    case 'invalid_union':
      return `does not match any allowed form, got ${shown(input)}`;
    default:
      return 'invalid value';
  }
};

/**
 * One line per issue: `path: message`. Values under a path for which `hide` answers true (a
 * URL that works as a credential, say) are never quoted.
 */
export const describeIssues = (
  issues: readonly Issue[],
  root?: unknown,
  hide: (path: readonly PropertyKey[]) => boolean = () => false,
): string =>
  issues
    .map((i) => {
      const path = i.path
        .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
        .join('')
        .replace(/^\./, '');
      return `${path || '(root)'}: ${describeIssue(i, root, hide(i.path))}`;
    })
    .join('; ');

/** `rules[2].match.service`: a zod issue path as people write it. */
export const formatPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    '',
  );
