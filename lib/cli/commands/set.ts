/**
 * `stickler set SERVICE TYPE/FARM_ID STICKINESS`: one change request: what it would change, the
 * session-loss warning and a confirmation first (`--yes` skips it), then the apply.
 */

import { randomUUID } from 'node:crypto';
import { makeApplyRequests } from '../../app/apply-requests';
import { makeOwnUnapplied } from '../../app/own-unapplied';
import { CHANGE_GRAMMAR, changeRequestFromWords, InvalidChangeError } from '../../domain/change-command';
import { type ChangeRequest, farmRefOf } from '../../domain/change-request';
import { NotFoundError } from '../../domain/errors';
import { type Farm, type FarmRef, formatFarmRef } from '../../domain/farm';
import { checkTarget, toWire, toWord } from '../../domain/stickiness';
import { unappliedCountIn } from '../../domain/zones';
import { systemClock } from '../../ports/clock';
import type { LoadBalancerApi } from '../../ports/load-balancer-api';
import type { Flags } from '../args';
import { type CliIo, UsageError } from '../io';
import { printApplyReport } from '../outcome';
import { connectPipeline, type PipelineConnection, pipelineAsked } from '../pipeline';
import { requestThroughPipeline } from '../pipeline-run';
import { SESSION_LOSS_WARNING } from '../render';
import type { Session } from '../session';
import { confirmOrStop, interruptible, progressPrinter } from '../terminal';
import { askerOf, checkPipelineFlags, DIRECT_MODE_NOTE } from './apply';

/** The one change request the words ask for, from this shell's user. */
const requestOf = (io: CliIo, flags: Flags, args: string[]): ChangeRequest => {
  try {
    return changeRequestFromWords(args, {
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
};

/** The farm as stored, or undefined when there is none (a missing farm is reported by the apply). */
const storedFarm = async (api: LoadBalancerApi, ref: FarmRef): Promise<Farm | undefined> => {
  try {
    return await api.getFarm(ref);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    return undefined;
  }
};

const farmTitle = (ref: FarmRef, farm: Farm) =>
  `${formatFarmRef(ref)}${farm.displayName ? ` (${farm.displayName})` : ''}`;

/**
 * For a farm that already stores the stickiness asked: the question before a request that would
 * still apply its zone, when the zone holds unapplied changes (a refresh loses sessions like a
 * write). `explain` says, from their count, what applying the zone does with them.
 */
const confirmZoneApply = async (
  io: CliIo,
  flags: Flags,
  api: LoadBalancerApi,
  farm: Farm,
  service: string,
  explain: (pending: number) => string,
  question: string,
): Promise<number | undefined> => {
  const pending = unappliedCountIn(await api.pendingChanges(service))(farm.zone);
  if (!(pending > 0)) return undefined;
  if (!flags.json) io.stdout.write(`${explain(pending)}\n\nWARNING: ${SESSION_LOSS_WARNING}\n\n`);
  return confirmOrStop(io, flags, question);
};

/** Does the farm's zone hold only this machine's own earlier writes (direct mode's records, checked)? */
const holdsOwnWrites = async (session: Session, farm: Farm, service: string): Promise<boolean> => {
  if (!session.unapplied) return false;
  const own = makeOwnUnapplied({ api: session.api, store: session.unapplied, clock: systemClock });
  const { own: zones } = await own.trusted(service, await session.api.pendingChanges(service));
  return zones.has(farm.zone);
};

/**
 * Before anything is written: what would change, the session-loss warning, and a question.
 * Returns the exit code when the operator stops, undefined to go on.
 */
const confirmSet = async (
  io: CliIo,
  flags: Flags,
  session: Session,
  request: ChangeRequest,
  throughPipeline: boolean,
): Promise<number | undefined> => {
  const { api, applyOptions } = session;
  const ref = farmRefOf(request);
  const target = toWire(request.stickiness);
  if (!checkTarget(ref.type, target).ok) return undefined;
  const farm = await storedFarm(api, ref);
  if (!farm) return undefined;
  if (farm.stickiness !== target) {
    if (!flags.json) {
      io.stdout.write(
        `${farmTitle(ref, farm)}, zone ${farm.zone}: ` +
          `${toWord(farm.stickiness)} → ${request.stickiness}\n\nWARNING: ${SESSION_LOSS_WARNING}\n\n`,
      );
    }
    return confirmOrStop(io, flags, `Apply this change in zone ${farm.zone} of ${ref.service}?`);
  }
  // Already stored: the worker applies the zone only if it holds stickler's own unapplied
  // writes (it refuses others').
  if (throughPipeline)
    return confirmZoneApply(
      io,
      flags,
      api,
      farm,
      ref.service,
      (pending) =>
        `${farmTitle(ref, farm)} already stores ${request.stickiness}, ` +
        `but zone ${farm.zone} holds ${pending} unapplied change(s): if they are stickler's own earlier writes, ` +
        `the worker applies the zone with this request.`,
      `Request zone ${farm.zone} of ${ref.service} through the pipeline?`,
    );
  // Already stored, in a zone holding only this machine's earlier writes: the apply refreshes it.
  if (await holdsOwnWrites(session, farm, ref.service))
    return confirmZoneApply(
      io,
      flags,
      api,
      farm,
      ref.service,
      (pending) =>
        `${farmTitle(ref, farm)} already stores ${request.stickiness}, but zone ${farm.zone} holds ` +
        `${pending} unapplied change(s), all this machine's own earlier writes (a refresh that failed): this applies the zone.`,
      `Apply zone ${farm.zone} of ${ref.service}?`,
    );
  // Already stored, but maybe not live: with --allow-foreign-pending the apply refreshes the
  // zone, pushing whatever else it holds.
  if (applyOptions.allowForeignPending)
    return confirmZoneApply(
      io,
      flags,
      api,
      farm,
      ref.service,
      (pending) =>
        `${farmTitle(ref, farm)} already stores ${request.stickiness}, ` +
        `but zone ${farm.zone} holds ${pending} unapplied change(s), made by stickler or anyone else: ` +
        `--allow-foreign-pending applies them all with it.`,
      `Apply zone ${farm.zone} of ${ref.service}?`,
    );
  return undefined;
};

export async function setCommand(
  session: () => Session,
  io: CliIo,
  flags: Flags,
  args: string[],
): Promise<number> {
  if (args.length !== 3) throw new UsageError(`usage: stickler set ${CHANGE_GRAMMAR}`);
  const throughPipeline = pipelineAsked(io.env, flags);
  checkPipelineFlags(flags, throughPipeline);
  const request = requestOf(io, flags, args);
  const pipeline: PipelineConnection | undefined = throughPipeline
    ? await connectPipeline(io.env, flags)
    : undefined;
  const live = session();
  const stop = await confirmSet(io, flags, live, request, pipeline !== undefined);
  if (stop !== undefined) return stop;
  if (pipeline) {
    const targets = [{ farm: farmRefOf(request), stickiness: request.stickiness }];
    const asker = askerOf(flags, pipeline, `stickler set ${args.join(' ')}`);
    return requestThroughPipeline(io, flags, pipeline, targets, asker);
  }
  if (!flags.json) io.stderr.write(DIRECT_MODE_NOTE);
  const { api, applyOptions, unapplied } = live;
  const apply = makeApplyRequests({
    api,
    clock: systemClock,
    onProgress: progressPrinter(io),
    ...(unapplied ? { unapplied } : {}),
  });
  const { plan, report } = await interruptible(io, (signal) => apply([request], { ...applyOptions, signal }));
  return printApplyReport(io, flags, plan, report);
}
