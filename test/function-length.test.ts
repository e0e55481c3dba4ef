/**
 * No function longer than a screen where logic lives (lib/app, lib/domain, lib/wiring, lib/cli),
 * counted as its own lines (test/helpers/function-lengths.ts). A function longer than a screen
 * fails the build: give its phases names, as functions that return what they decided.
 */
import { join } from 'node:path';
import { functionLengths, SCREEN_LINES } from './helpers/function-lengths';

describe('function length', () => {
  const lengths = functionLengths(join(__dirname, '..'));

  it('finds the functions it measures', () => {
    expect(lengths.length).toBeGreaterThan(300);
  });

  it('lets no function grow past a screen', () => {
    const tooLong = lengths
      .filter((f) => f.own > SCREEN_LINES)
      .map((f) => `${f.id}: ${f.own} lines (at most ${SCREEN_LINES})`);
    expect(tooLong).toEqual([]);
  });
});
