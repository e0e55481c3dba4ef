/** The README's table of contents stays the README's headings (scripts/readme-contents.mjs --write). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');

describe('README', () => {
  it('lists every section and subsection in its contents, with working anchors', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const listed = readme.slice(
      readme.indexOf('<!-- contents -->\n') + 18,
      readme.indexOf('<!-- /contents -->'),
    );
    const expected = execFileSync(process.execPath, [join(root, 'scripts/readme-contents.mjs')], {
      encoding: 'utf8',
    });
    expect(listed).toBe(expected);
    // Every anchor is a heading's.
    const headings = new Set(
      [...readme.matchAll(/^#{2,3} (.+)$/gm)].map((m) =>
        m[1]!
          .toLowerCase()
          .replace(/[^\p{L}\p{N} _-]/gu, '')
          .replace(/ /g, '-'),
      ),
    );
    for (const [, anchor] of listed.matchAll(/\]\(#([^)]+)\)/g)) expect(headings).toContain(anchor);
  });
});
