/**
 * `stickler apply --policy FILE`: the plan, the session-loss warning, a confirmation, then the
 * apply: directly (this shell writes to OVH), or with --pipeline as change requests the worker
 * carries out, serialised with every other writer and audited.
 */
import { makeApplyPlan } from '../../app/apply-plan';
import { RunRefusedError } from '../../domain/errors';
import { toWord } from '../../domain/stickiness';
import { batchByZone } from '../../domain/zones';
import { systemClock } from '../../ports/clock';
import type { Flags } from '../args';
import { type CliIo, EXIT, UsageError } from '../io';
import { printApplyReport } from '../outcome';
import { connectPipeline, type PipelineConnection, pipelineAsked } from '../pipeline';
import { requestThroughPipeline } from '../pipeline-run';
import { renderPlan, SESSION_LOSS_WARNING } from '../render';
import type { Session } from '../session';
import { confirmOrStop, interruptible, progressPrinter } from '../terminal';
import { planFromFlags, reportPendingUnread, reportUnreadable } from './plan';

/** Said once per direct run: what --pipeline would add. */
export const DIRECT_MODE_NOTE =
  "Note: direct mode: this shell writes to OVH itself, without the worker's lease or ordering (another operator or the pipeline may write the same zones at once) and with no audit event; --pipeline goes through the pipeline.\n";

export async function applyCommand(session: () => Session, io: CliIo, flags: Flags): Promise<number> {
  const throughPipeline = pipelineAsked(io.env, flags);
  if (throughPipeline && flags['allow-foreign-pending'])
    throw new UsageError(
      "--allow-foreign-pending is for direct mode: through the pipeline the worker decides zones holding others' unapplied changes (it waits for them, then refuses)",
    );
  if (!throughPipeline && (flags.ticket !== undefined || flags.reason !== undefined))
    throw new UsageError(
      '--ticket and --reason go with the change requests of --pipeline (direct mode publishes none)',
    );
  // Where the requests go is found before anything is read: no plan for a pipeline that is not there.
  const pipeline: PipelineConnection | undefined = throughPipeline
    ? await connectPipeline(io.env, flags)
    : undefined;
  const { plan, overLimit, unreadable, storedNotApplied, pendingUnread } = await planFromFlags(
    session,
    io,
    flags,
  );
  if (overLimit) throw new RunRefusedError('over-limit', overLimit);
  if (!flags.json) io.stdout.write(renderPlan(plan, storedNotApplied));
  // What could not be read is said before the question: the apply covers the rest only.
  reportUnreadable(io, unreadable);
  reportPendingUnread(io, pendingUnread);
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
  if (pipeline) {
    const exit = await requestThroughPipeline(
      io,
      flags,
      pipeline,
      plan.changes.map((c) => ({
        farm: { service: c.farm.service, type: c.farm.type, farmId: c.farm.farmId },
        stickiness: toWord(c.to),
      })),
      {
        actor: pipeline.actor,
        reason: flags.reason ?? `stickler apply --policy ${flags.policy}`,
        ...(flags.ticket ? { ticket: flags.ticket } : {}),
      },
      { policy: flags.policy, invalid: plan.invalid.length, unreadable: unreadable.map((u) => u.service) },
    );
    if (unreadable.length > 0) return EXIT.error;
    return exit === EXIT.ok && plan.invalid.length > 0 ? EXIT.refused : exit;
  }
  if (!flags.json) io.stderr.write(DIRECT_MODE_NOTE);
  const { api, applyOptions } = session();
  const apply = makeApplyPlan({ api, clock: systemClock, onProgress: progressPrinter(io) });
  const report = await interruptible(io, (signal) => apply(plan, { ...applyOptions, signal }));
  return printApplyReport(io, flags, plan, report, unreadable);
}
