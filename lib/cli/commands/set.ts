/**
 * `stickler set SERVICE TYPE/FARM_ID STICKINESS`: one change request: what it would change, the
 * session-loss warning and a confirmation first (`--yes` skips it), then the apply.
 */
import { randomUUID } from 'node:crypto';
import { makeApplyRequests } from '../../app/apply-requests';
import { CHANGE_GRAMMAR, changeRequestFromWords, InvalidChangeError } from '../../domain/change-command';
import { type ChangeRequest, farmRefOf } from '../../domain/change-request';
import { NotFoundError } from '../../domain/errors';
import { type Farm, formatFarmRef } from '../../domain/farm';
import { checkTarget, toWire, toWord } from '../../domain/stickiness';
import { unappliedCountIn } from '../../domain/zones';
import { systemClock } from '../../ports/clock';
import type { Flags } from '../args';
import { type CliIo, UsageError } from '../io';
import { printApplyReport } from '../outcome';
import { connectPipeline, type PipelineConnection, pipelineAsked } from '../pipeline';
import { requestThroughPipeline } from '../pipeline-run';
import { SESSION_LOSS_WARNING } from '../render';
import type { Session } from '../session';
import { confirmOrStop, interruptible, progressPrinter } from '../terminal';
import { askerOf, checkPipelineFlags, DIRECT_MODE_NOTE } from './apply';

export async function setCommand(
  session: () => Session,
  io: CliIo,
  flags: Flags,
  args: string[],
): Promise<number> {
  if (args.length !== 3) throw new UsageError(`usage: stickler set ${CHANGE_GRAMMAR}`);
  const throughPipeline = pipelineAsked(io.env, flags);
  checkPipelineFlags(flags, throughPipeline);
  let request: ChangeRequest;
  try {
    request = changeRequestFromWords(args, {
      requestId: `cli-${randomUUID()}`,
      actor: { kind: 'cli', id: io.env.USER || io.env.LOGNAME || 'unknown' },
      requestedAt: systemClock.now().toISOString(),
      ...(flags.ticket ? { ticket: flags.ticket } : {}),
      ...(flags.reason ? { reason: flags.reason } : {}),
    });
  } catch (error) {
    if (error instanceof InvalidChangeError) throw new UsageError(error.message);
    throw error;
  }
  const pipeline: PipelineConnection | undefined = throughPipeline
    ? await connectPipeline(io.env, flags)
    : undefined;
  const { api, applyOptions } = session();
  // Before anything is written: what would change, the session-loss warning, and a question.
  const ref = farmRefOf(request);
  const target = toWire(request.stickiness);
  if (checkTarget(ref.type, target).ok) {
    let farm: Farm | undefined;
    try {
      farm = await api.getFarm(ref);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error; // a missing farm is reported by the apply below
    }
    if (farm && farm.stickiness !== target) {
      if (!flags.json) {
        io.stdout.write(
          `${formatFarmRef(ref)}${farm.displayName ? ` (${farm.displayName})` : ''}, zone ${farm.zone}: ` +
            `${toWord(farm.stickiness)} → ${request.stickiness}\n\nWARNING: ${SESSION_LOSS_WARNING}\n\n`,
        );
      }
      const stop = await confirmOrStop(
        io,
        flags,
        `Apply this change in zone ${farm.zone} of ${ref.service}?`,
      );
      if (stop !== undefined) return stop;
    } else if (farm && pipeline) {
      // Already stored: the worker applies the zone only if it holds stickler's own unapplied
      // writes (it refuses others'). A refresh loses sessions like a write: asked first.
      const pending = unappliedCountIn(await api.pendingChanges(ref.service))(farm.zone);
      if (pending > 0) {
        if (!flags.json) {
          io.stdout.write(
            `${formatFarmRef(ref)}${farm.displayName ? ` (${farm.displayName})` : ''} already stores ${request.stickiness}, ` +
              `but zone ${farm.zone} holds ${pending} unapplied change(s): if they are stickler's own earlier writes, ` +
              `the worker applies the zone with this request.\n\nWARNING: ${SESSION_LOSS_WARNING}\n\n`,
          );
        }
        const stop = await confirmOrStop(
          io,
          flags,
          `Request zone ${farm.zone} of ${ref.service} through the pipeline?`,
        );
        if (stop !== undefined) return stop;
      }
    } else if (farm && applyOptions.allowForeignPending) {
      // Already stored, but maybe not live: with --allow-foreign-pending the apply refreshes the
      // zone, pushing whatever else it holds. A refresh loses sessions like a write: asked first.
      const pending = unappliedCountIn(await api.pendingChanges(ref.service))(farm.zone);
      if (pending > 0) {
        if (!flags.json) {
          io.stdout.write(
            `${formatFarmRef(ref)}${farm.displayName ? ` (${farm.displayName})` : ''} already stores ${request.stickiness}, ` +
              `but zone ${farm.zone} holds ${pending} unapplied change(s), made by stickler or anyone else: ` +
              `--allow-foreign-pending applies them all with it.\n\nWARNING: ${SESSION_LOSS_WARNING}\n\n`,
          );
        }
        const stop = await confirmOrStop(io, flags, `Apply zone ${farm.zone} of ${ref.service}?`);
        if (stop !== undefined) return stop;
      }
    }
  }
  if (pipeline) {
    const targets = [{ farm: ref, stickiness: request.stickiness }];
    const asker = askerOf(flags, pipeline, `stickler set ${args.join(' ')}`);
    return requestThroughPipeline(io, flags, pipeline, targets, asker);
  }
  if (!flags.json) io.stderr.write(DIRECT_MODE_NOTE);
  const apply = makeApplyRequests({ api, clock: systemClock, onProgress: progressPrinter(io) });
  const { plan, report } = await interruptible(io, (signal) => apply([request], { ...applyOptions, signal }));
  return printApplyReport(io, flags, plan, report);
}
