import { jsonDocument, terminalSafe, UNSAFE_CHARACTERS } from '../../lib/cli/io';
import { isUnsafeCodePoint } from '../../lib/domain/text';

describe('what the CLI prints', () => {
  it('finds exactly the characters lib/domain/text.ts calls unsafe', () => {
    const disagree: string[] = [];
    for (let cp = 0; cp <= 0xffff; cp++) {
      const c = String.fromCharCode(cp);
      UNSAFE_CHARACTERS.lastIndex = 0;
      if (UNSAFE_CHARACTERS.test(c) !== isUnsafeCodePoint(cp)) disagree.push(cp.toString(16));
    }
    expect(disagree).toEqual([]);
  });

  it('shows control and bidirectional characters as ?, keeping line breaks and tabs', () => {
    expect(terminalSafe('web-\u001b[2J\tgra\n')).toBe('web-?[2J\tgra\n');
    expect(terminalSafe('invoice-\u202Etxt.exe \u2066x\u2069 \u061c\u200e\u200f\u0085')).toBe(
      'invoice-?txt.exe ?x? ????',
    );
  });

  it('writes them as escapes in a --json document, which stays exact', () => {
    const value = { displayName: 'invoice-\u202Etxt.exe\u0085', note: 'a\nb' };
    const text = jsonDocument(value);
    expect(text).not.toMatch(/[\u202e\u0085]/);
    expect(text).toContain('invoice-\\u202etxt.exe\\u0085');
    expect(terminalSafe(text)).toBe(text);
    expect(JSON.parse(text)).toEqual(value);
  });
});
