/**
 * Parses YAML into a value plus a way to find the line of any path, so that schema errors can
 * name the line an operator must edit.
 */
import { isNode, LineCounter, parseDocument } from 'yaml';
import type * as z from 'zod/mini';
import { describeIssue, formatPath } from './describe-issue';

export { formatPath } from './describe-issue';

import { type InputIssue, InvalidInputError } from './errors';

export class YamlInputError extends InvalidInputError {
  constructor(source: string, issues: InputIssue[], code = 'invalid-input') {
    const lines = issues.map(
      (i) =>
        `  ${source}${i.line ? `:${i.line}:${i.column ?? 1}` : ''}: ${i.path ? `${i.path}: ` : ''}${i.message}`,
    );
    super(`invalid ${source}:\n${lines.join('\n')}`, issues, code);
  }
}

/** Parses `text` as YAML and validates it with `schema`; throws a YamlInputError naming every bad line. */
export const parseYamlWith = <S extends z.ZodMiniType>(
  schema: S,
  text: string,
  source: string,
  code = 'invalid-input',
): z.infer<S> => {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new YamlInputError(
      source,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        const first = e.message.split('\n')[0] ?? e.message;
        const message = /multiple documents/.test(first)
          ? "holds several YAML documents (a '---' line): a policy is one document"
          : first.replace(/;\s*please use .*$/, '');
        return { path: '', line: pos.line, column: pos.col, message };
      }),
      code,
    );
  }
  let value: unknown;
  try {
    // Bounded: an alias bomb (a few lines that expand to millions of nodes) is an input error.
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new YamlInputError(
      source,
      [{ path: '', message: `cannot be read: ${(error as Error).message.split('\n')[0]?.slice(0, 200)}` }],
      code,
    );
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data as z.infer<S>;
  const issues = result.error.issues.map((issue): InputIssue => {
    // Walk up the path until a node exists (a missing key points at its parent object).
    for (let depth = issue.path.length; depth >= 0; depth--) {
      const node = depth === 0 ? doc.contents : doc.getIn(issue.path.slice(0, depth), true);
      if (isNode(node) && node.range) {
        const pos = lineCounter.linePos(node.range[0]);
        return {
          path: formatPath(issue.path),
          line: pos.line,
          column: pos.col,
          message: describeIssue(issue, value),
        };
      }
    }
    return { path: formatPath(issue.path), message: describeIssue(issue, value) };
  });
  throw new YamlInputError(source, issues, code);
};
