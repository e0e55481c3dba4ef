/**
 * No function longer than a screen where logic lives (lib/app, lib/domain, lib/wiring, lib/cli),
 * counted as its own lines (test/helpers/function-lengths.ts). The functions listed below were
 * longer when this guard came in: each may only shrink, and leaves the list once it fits a
 * screen. A new function longer than a screen fails the build: give its phases names.
 */
import { join } from 'node:path';
import { functionLengths, SCREEN_LINES } from './helpers/function-lengths';

/** Known long functions and their own lines when last measured: to be split, never to grow. */
const STILL_TOO_LONG: Record<string, number> = {
  'lib/cli/commands/apply.ts#applyCommand': 74,
  'lib/cli/commands/doctor.ts#targetOf': 76,
  'lib/cli/commands/set.ts#setCommand': 95,
  'lib/cli/doctor.ts#checkOvh': 105,
  'lib/cli/main.ts#dispatch': 96,
  'lib/cli/pipeline.ts#connectPipeline': 78,
  'lib/wiring/apply-worker.ts#makeApplyWorkerHandler>lambdaHandler': 65,
  'lib/wiring/apply-worker.ts#wireApplyWorker': 80,
  'lib/wiring/slack.ts#wireSlack': 82,
};

describe('function length', () => {
  const lengths = functionLengths(join(__dirname, '..'));

  it('finds the functions it measures', () => {
    expect(lengths.length).toBeGreaterThan(300);
  });

  it('lets no function grow past a screen, and no listed one grow at all', () => {
    const tooLong = lengths
      .filter((f) => f.own > (STILL_TOO_LONG[f.id] ?? SCREEN_LINES))
      .map((f) => `${f.id}: ${f.own} lines (at most ${STILL_TOO_LONG[f.id] ?? SCREEN_LINES})`);
    expect(tooLong).toEqual([]);
  });

  it('keeps the list of long functions true: one that fits a screen now, or is gone, leaves it', () => {
    const now = new Map(lengths.map((f) => [f.id, f.own]));
    const stale = Object.keys(STILL_TOO_LONG).filter((id) => (now.get(id) ?? 0) <= SCREEN_LINES);
    expect(stale).toEqual([]);
  });
});
