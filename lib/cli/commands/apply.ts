/** `stickler apply --policy FILE`: the plan, the session-loss warning, a confirmation, then the apply. */
import { makeApplyPlan } from '../../app/apply-plan';
import { RunRefusedError } from '../../domain/errors';
import { batchByZone } from '../../domain/zones';
import { systemClock } from '../../ports/clock';
import type { Flags } from '../args';
import type { CliIo } from '../io';
import { printApplyReport } from '../outcome';
import { renderPlan, SESSION_LOSS_WARNING } from '../render';
import type { Session } from '../session';
import { confirmOrStop, interruptible, progressPrinter } from '../terminal';
import { planFromFlags, reportUnreadable } from './plan';

export async function applyCommand(session: () => Session, io: CliIo, flags: Flags): Promise<number> {
  const { plan, overLimit, unreadable } = await planFromFlags(session, io, flags);
  if (overLimit) throw new RunRefusedError('over-limit', overLimit);
  if (!flags.json) io.stdout.write(renderPlan(plan));
  // What could not be read is said before the question: the apply covers the rest only.
  reportUnreadable(io, unreadable);
  if (plan.changes.length > 0) {
    const zones = batchByZone(plan.changes);
    if (!flags.json) {
      io.stdout.write(
        `\nWARNING: ${SESSION_LOSS_WARNING}\nZones to apply: ${zones.map((z) => `${z.service} ${z.zone}`).join(', ')}\n\n`,
      );
    }
    const stop = await confirmOrStop(
      io,
      flags,
      `Apply ${plan.changes.length} change(s) in ${zones.length} zone(s)?`,
    );
    if (stop !== undefined) return stop;
  }
  const { api, applyOptions } = session();
  const apply = makeApplyPlan({ api, clock: systemClock, onProgress: progressPrinter(io) });
  const report = await interruptible(io, (signal) => apply(plan, { ...applyOptions, signal }));
  return printApplyReport(io, flags, plan, report, unreadable);
}
