/**
 * `stickler apply --policy FILE`: the plan, the session-loss warning, a confirmation, then the
 * apply: directly (this shell writes to OVH), or with --pipeline as change requests the worker
 * carries out, serialised with every other writer and audited.
 */
import { makeApplyPlan } from '../../app/apply-plan';
import { makeDiscoverFleet } from '../../app/discover-fleet';
import type { Asker } from '../../app/pipeline-door';
import type { StoredNotApplied, Unreadable } from '../../app/plan-policy';
import { ticketKeyProblem } from '../../domain/change-request';
import { RunRefusedError } from '../../domain/errors';
import type { Plan } from '../../domain/plan';
import {
  changesOf,
  planStaleness,
  readSavedPlan,
  type SavedPlan,
  SavedPlanError,
} from '../../domain/saved-plan';
import { toWord } from '../../domain/stickiness';
import { quoted } from '../../domain/text';
import { batchByZone } from '../../domain/zones';
import { systemClock } from '../../ports/clock';
import { type Flags, MAX_PLAN_BYTES, readInput } from '../args';
import { type CliIo, EXIT, jsonDocument, UsageError } from '../io';
import { printApplyReport } from '../outcome';
import { connectPipeline, type PipelineConnection, pipelineAsked } from '../pipeline';
import { followTimeoutMs, requestThroughPipeline } from '../pipeline-run';
import { renderPlan, renderSavedPlan, SESSION_LOSS_WARNING } from '../render';
import type { Session } from '../session';
import { confirmOrStop, interruptible, progressPrinter } from '../terminal';
import { planFromFlags, reportPendingUnread, reportUnreadable, windowFromFlags } from './plan';

/** `--ticket`, checked before anything is read (the intake checks it again). */
export const checkTicket = (ticket: string) => {
  const problem = ticketKeyProblem(ticket);
  if (problem) throw new UsageError(`--ticket: ${problem}, got ${quoted(ticket)}`);
};

/**
 * The pipeline flags, checked before anything is read or asked: --ticket, --reason and --wait go
 * with --pipeline (direct mode publishes nothing and waits for nothing).
 */
export const checkPipelineFlags = (flags: Flags, throughPipeline: boolean) => {
  if (throughPipeline && flags['allow-foreign-pending'])
    throw new UsageError(
      "--allow-foreign-pending is for direct mode: through the pipeline the worker decides zones holding others' unapplied changes (it waits for them, then refuses)",
    );
  if (!throughPipeline && flags.wait !== undefined)
    throw new UsageError('--wait goes with --pipeline (direct mode waits for each zone itself)');
  if (throughPipeline) followTimeoutMs(flags);
  if (flags.ticket !== undefined) checkTicket(flags.ticket);
  quietestWindow(flags, throughPipeline);
};

/**
 * `--prefer quietest [--window START/END]`: the window the requests carry, `{notBefore: now (or
 * the window's later start), notAfter: its end (the next 24 hours by default), prefer: quietest}`,
 * or undefined without `--prefer`. Through the pipeline only: direct mode applies now.
 */
export const quietestWindow = (flags: Flags, throughPipeline: boolean): Asker['window'] => {
  if (flags.prefer === undefined) {
    if (flags.window !== undefined)
      throw new UsageError('--window goes with --prefer quietest (the window whose quietest time is chosen)');
    return undefined;
  }
  if (flags.prefer !== 'quietest')
    throw new UsageError(`--prefer takes quietest, got ${quoted(flags.prefer)}`);
  if (!throughPipeline)
    throw new UsageError(
      '--prefer quietest goes with --pipeline: direct mode applies now (the worker defers the requests to the quietest slot)',
    );
  const window = windowFromFlags(flags);
  const start = Math.max(window.start, systemClock.now().getTime());
  return {
    notBefore: new Date(start).toISOString(),
    notAfter: new Date(window.end).toISOString(),
    prefer: 'quietest',
  };
};

/**
 * Who asks through the pipeline, and why: the operator, `--reason` (or what they ran), `--ticket`,
 * and the window of `--prefer quietest`, read as the requests are published (from now on).
 */
export const askerOf = (flags: Flags, pipeline: PipelineConnection, ran: string): Asker => {
  const window = quietestWindow(flags, true);
  return {
    actor: pipeline.actor,
    reason: flags.reason ?? ran,
    ...(flags.ticket ? { ticket: flags.ticket } : {}),
    ...(window ? { window } : {}),
  };
};

/** Said once per direct run: what --pipeline would add. */
export const DIRECT_MODE_NOTE =
  "Note: direct mode: this shell writes to OVH itself, without the worker's lease or ordering (another operator or the pipeline may write the same zones at once) and with no audit event; --pipeline goes through the pipeline.\n";

/**
 * The changes of a saved plan, if nothing it read has changed: its load balancers read again
 * (farms and unapplied changes), compared with what the plan read. Undefined: refused (said).
 */
const savedPlanChanges = async (
  session: () => Session,
  io: CliIo,
  flags: Flags,
  file: string,
): Promise<{ plan: Plan; saved: SavedPlan } | undefined> => {
  let saved: SavedPlan;
  try {
    saved = readSavedPlan(readInput(io.cwd, file, 'saved plan', MAX_PLAN_BYTES), file);
  } catch (error) {
    if (error instanceof SavedPlanError) throw new UsageError(error.message);
    throw error;
  }
  const { api } = session();
  const fleet = await makeDiscoverFleet({ api })({ services: saved.services });
  const pending = new Map(
    await Promise.all(saved.services.map(async (s) => [s, await api.pendingChanges(s)] as const)),
  );
  const changed = planStaleness(saved, fleet, pending);
  if (changed.length > 0) {
    const message = `the plan in ${file} is stale: ${changed.length} thing(s) it read have changed since ${saved.createdAt}; make a new plan`;
    if (flags.json)
      io.stdout.write(
        jsonDocument({ error: { code: 'stale-plan', message, changed: changed.slice(0, 1000) } }),
      );
    io.stderr.write(
      `stickler: ${message}:\n${changed
        .slice(0, 20)
        .map((c) => `  ${c}\n`)
        .join('')}${changed.length > 20 ? `  … and ${changed.length - 20} more\n` : ''}`,
    );
    return undefined;
  }
  return { plan: { changes: changesOf(saved, fleet), unchanged: [], invalid: [] }, saved };
};

/**
 * Refuses flags that do not go together before anything is read; says whether the apply goes
 * through the pipeline.
 */
const checkApplyFlags = (io: CliIo, flags: Flags, planFile: string | undefined): boolean => {
  if (planFile !== undefined && flags.service)
    throw new UsageError('a saved plan names its load balancers itself: --service goes with --policy');
  const throughPipeline = pipelineAsked(io.env, flags);
  checkPipelineFlags(flags, throughPipeline);
  if (!throughPipeline && (flags.ticket !== undefined || flags.reason !== undefined))
    throw new UsageError(
      '--ticket and --reason go with the change requests of --pipeline (direct mode publishes none)',
    );
  return throughPipeline;
};

/** The plan an apply carries out, what could not be read for it, and what was run to make it. */
interface PlanToApply {
  plan: Plan;
  unreadable: Unreadable[];
  storedNotApplied: StoredNotApplied[];
  pendingUnread: Unreadable[];
  what: string;
  /** A saved plan's file and what it read (`apply FILE`). */
  saved?: { file: string; plan: SavedPlan };
}

/** The plan from a saved plan's file, or made from --policy. Undefined: refused (said). */
const planToApply = async (
  session: () => Session,
  io: CliIo,
  flags: Flags,
  planFile: string | undefined,
  direct: boolean,
): Promise<PlanToApply | undefined> => {
  if (planFile !== undefined) {
    const fromFile = await savedPlanChanges(session, io, flags, planFile);
    if (!fromFile) return undefined;
    return {
      plan: fromFile.plan,
      unreadable: [],
      storedNotApplied: [],
      pendingUnread: [],
      what: `stickler apply ${planFile} (plan ${fromFile.saved.digest.slice(0, 16)})`,
      saved: { file: planFile, plan: fromFile.saved },
    };
  }
  const planned = await planFromFlags(session, io, flags, { direct });
  if (planned.overLimit) throw new RunRefusedError('over-limit', planned.overLimit);
  const { plan, unreadable, storedNotApplied, pendingUnread } = planned;
  return {
    plan,
    unreadable,
    storedNotApplied,
    pendingUnread,
    what: `stickler apply --policy ${flags.policy}`,
  };
};

/**
 * The plan shown, with what could not be read and the session-loss warning, then the question.
 * Returns the exit code when the operator stops, undefined to go on.
 */
const showAndConfirm = async (
  io: CliIo,
  flags: Flags,
  { plan, unreadable, storedNotApplied, pendingUnread, saved }: PlanToApply,
): Promise<number | undefined> => {
  if (!flags.json)
    io.stdout.write(
      saved ? renderSavedPlan(plan, { file: saved.file, ...saved.plan }) : renderPlan(plan, storedNotApplied),
    );
  // What could not be read is said before the question: the apply covers the rest only.
  reportUnreadable(io, unreadable);
  reportPendingUnread(io, pendingUnread);
  const own = ownZonesToRefresh(storedNotApplied);
  if (plan.changes.length === 0 && own.size === 0) return undefined;
  const zones = [...new Set([...batchByZone(plan.changes).map((z) => `${z.service} ${z.zone}`), ...own])];
  if (!flags.json) {
    io.stdout.write(`\nWARNING: ${SESSION_LOSS_WARNING}\nZones to apply: ${zones.join(', ')}\n\n`);
  }
  return confirmOrStop(
    io,
    flags,
    own.size > 0
      ? `Apply ${plan.changes.length} change(s) and this machine's earlier writes, in ${zones.length} zone(s)?`
      : `Apply ${plan.changes.length} change(s) in ${zones.length} zone(s)?`,
  );
};

/**
 * The zones (`service zone`) holding only this machine's own earlier writes (marked by the plan,
 * direct mode): a direct apply refreshes them with its changes.
 */
const ownZonesToRefresh = (storedNotApplied: readonly StoredNotApplied[]): Set<string> =>
  new Set(storedNotApplied.filter((s) => s.own).map((s) => `${s.farm.service} ${s.farm.zone}`));

/** The plan's changes published as change requests, followed as --wait says; returns the exit code. */
const applyThroughPipeline = async (
  io: CliIo,
  flags: Flags,
  pipeline: PipelineConnection,
  { plan, unreadable, what }: PlanToApply,
  planFile: string | undefined,
): Promise<number> => {
  const exit = await requestThroughPipeline(
    io,
    flags,
    pipeline,
    plan.changes.map((c) => ({
      farm: { service: c.farm.service, type: c.farm.type, farmId: c.farm.farmId },
      stickiness: toWord(c.to),
    })),
    askerOf(flags, pipeline, what),
    {
      ...(planFile !== undefined ? { planFile } : { policy: flags.policy }),
      invalid: plan.invalid.length,
      unreadable: unreadable.map((u) => u.service),
    },
  );
  if (unreadable.length > 0) return EXIT.error;
  return exit === EXIT.ok && plan.invalid.length > 0 ? EXIT.refused : exit;
};

/** The plan applied by this shell, zone by zone; returns the exit code of its report. */
const applyDirectly = async (
  session: () => Session,
  io: CliIo,
  flags: Flags,
  { plan, unreadable, storedNotApplied }: PlanToApply,
): Promise<number> => {
  if (!flags.json) io.stderr.write(DIRECT_MODE_NOTE);
  const { api, applyOptions, unapplied } = session();
  const apply = makeApplyPlan({
    api,
    clock: systemClock,
    onProgress: progressPrinter(io),
    ...(unapplied ? { unapplied } : {}),
  });
  const refreshOwnZones = ownZonesToRefresh(storedNotApplied);
  const report = await interruptible(io, (signal) =>
    apply(plan, { ...applyOptions, signal, ...(refreshOwnZones.size > 0 ? { refreshOwnZones } : {}) }),
  );
  return printApplyReport(io, flags, plan, report, unreadable);
};

export async function applyCommand(
  session: () => Session,
  io: CliIo,
  flags: Flags,
  planFile?: string,
): Promise<number> {
  const throughPipeline = checkApplyFlags(io, flags, planFile);
  // Where the requests go is found before anything is read: no plan for a pipeline that is not there.
  const pipeline: PipelineConnection | undefined = throughPipeline
    ? await connectPipeline(io.env, flags)
    : undefined;
  const planned = await planToApply(session, io, flags, planFile, !throughPipeline);
  if (!planned) return EXIT.refused;
  const stop = await showAndConfirm(io, flags, planned);
  if (stop !== undefined) return stop;
  return pipeline
    ? applyThroughPipeline(io, flags, pipeline, planned, planFile)
    : applyDirectly(session, io, flags, planned);
}
