/**
 * Plain-English messages for schema issues. zod/mini ships no messages (to stay small), and ours
 * say what was expected and what was found.
 */
import type { z } from 'zod/mini';

type Issue = z.core.$ZodIssue;

const shown = (value: unknown): string => {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

export const describeIssue = (issue: Issue): string => {
  // A message set on purpose in a schema (not zod's fallback) wins.
  if (issue.message && issue.message !== 'Invalid input') return issue.message;
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? `required (${issue.expected})`
        : `expected ${issue.expected}, got ${shown(issue.input)}`;
    case 'invalid_value':
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}, got ${shown(issue.input)}`;
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
      return `expected a valid ${issue.format}, got ${shown(issue.input)}`;
    case 'invalid_union':
      return `does not match any allowed form, got ${shown(issue.input)}`;
    default:
      return 'invalid value';
  }
};

/** One line per issue: `path: message`. */
export const describeIssues = (issues: readonly Issue[]): string =>
  issues
    .map((i) => {
      const path = i.path
        .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
        .join('')
        .replace(/^\./, '');
      return `${path || '(root)'}: ${describeIssue(i)}`;
    })
    .join('; ');
