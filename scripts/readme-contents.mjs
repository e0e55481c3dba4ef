// Prints the README's table of contents (## and ### headings, with GitHub's anchors); with
// --write, puts it between the <!-- contents --> markers. test/readme.test.ts holds them equal.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const path = join(import.meta.dirname, '..', 'README.md');

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes, repeats numbered. */
export const contentsOf = (markdown) => {
  const seen = new Map();
  const lines = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = !fenced && /^(##|###) (.+)$/.exec(line);
    if (!m || m[2].trim() === 'Contents') continue;
    const text = m[2].trim();
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    const anchor = n === 0 ? base : `${base}-${n}`;
    lines.push(`${m[1] === '###' ? '  ' : ''}- [${text.replace(/`/g, '')}](#${anchor})`);
  }
  return lines.join('\n');
};

const START = '<!-- contents -->';
const END = '<!-- /contents -->';

export const withContents = (markdown) => {
  const from = markdown.indexOf(START);
  const to = markdown.indexOf(END);
  if (from < 0 || to < from) throw new Error(`README.md has no ${START} ... ${END} markers`);
  return `${markdown.slice(0, from + START.length)}\n${contentsOf(markdown)}\n${markdown.slice(to)}`;
};

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const readme = readFileSync(path, 'utf8');
  if (process.argv.includes('--write')) writeFileSync(path, withContents(readme));
  else process.stdout.write(`${contentsOf(readme)}\n`);
}
