/**
 * Matching a policy's name patterns (glob.ts's syntax: `*`, `?`, `[abc]`, `[!a-z]`) in time
 * proportional to the pattern's length times the name's, whatever the pattern. A regular
 * expression compiled from a glob backtracks: `*a*a*a*a*a*a*a*a*b` against a long display name
 * takes minutes per farm, and a policy is written by people.
 */

type Token =
  | { kind: 'star' }
  | { kind: 'one' }
  | { kind: 'class'; test: (c: string) => boolean }
  | { kind: 'char'; c: string };

const tokenize = (pattern: string): Token[] => {
  const chars = Array.from(pattern);
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') {
      if (tokens.at(-1)?.kind !== 'star') tokens.push({ kind: 'star' });
    } else if (c === '?') tokens.push({ kind: 'one' });
    else if (c === '[' && chars.indexOf(']', i + 1) !== -1) {
      const end = chars.indexOf(']', i + 1);
      const body = chars
        .slice(i + 1, end)
        .join('')
        .replace(/\\/g, '\\\\');
      // The class as glob.ts compiles it (policies are checked with globProblem when read).
      const re = new RegExp(body.startsWith('!') ? `^[^${body.slice(1)}]$` : `^[${body}]$`, 's');
      tokens.push({ kind: 'class', test: (ch) => re.test(ch) });
      i = end;
    } else tokens.push({ kind: 'char', c });
  }
  return tokens;
};

const matchesOne = (token: Token, c: string): boolean =>
  token.kind === 'one' || (token.kind === 'char' ? token.c === c : token.kind === 'class' && token.test(c));

/**
 * A matcher for a glob, whole-string and case-sensitive, one character being one code point.
 * Classic wildcard matching: on a mismatch, only the last `*` is tried one character further.
 */
export const compilePolicyGlob = (pattern: string): ((name: string) => boolean) => {
  const tokens = tokenize(pattern);
  return (name) => {
    const chars = Array.from(name);
    let t = 0;
    let c = 0;
    let star = -1;
    let starAt = 0;
    while (c < chars.length) {
      const token = tokens[t];
      if (token && token.kind !== 'star' && matchesOne(token, chars[c]!)) {
        t++;
        c++;
      } else if (token?.kind === 'star') {
        star = t++;
        starAt = c;
      } else if (star >= 0) {
        t = star + 1;
        c = ++starAt;
      } else return false;
    }
    while (tokens[t]?.kind === 'star') t++;
    return t === tokens.length;
  };
};
