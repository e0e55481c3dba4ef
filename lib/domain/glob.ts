/**
 * Shell-style globs for service and farm names: `*` any run of characters, `?` one character,
 * `[abc]` a class. Whole-string, case-sensitive.
 */
/** What is wrong with a glob (an unclosed `[`, an empty or reversed class), or undefined. */
export const globProblem = (pattern: string): string | undefined => {
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== '[') continue;
    const end = pattern.indexOf(']', i + 1);
    if (end === -1) return `'[' at position ${i + 1} is never closed with ']'`;
    const body = pattern.slice(i + 1, end).replace(/^!/, '');
    if (body === '') return `'${pattern.slice(i, end + 1)}' is an empty character class`;
    try {
      new RegExp(`[${body.replace(/\\/g, '\\\\')}]`);
    } catch {
      return `'${pattern.slice(i, end + 1)}' is not a valid character class (a range must go from low to high, like [a-z])`;
    }
    i = end;
  }
  return undefined;
};

/** Compiles a glob that globProblem accepts (policy files are checked when they are read). */
export const compileGlob = (pattern: string): RegExp => {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end === -1) out += '\\[';
      else {
        const body = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
        out += body.startsWith('!') ? `[^${body.slice(1)}]` : `[${body}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 's');
};
