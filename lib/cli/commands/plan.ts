/** `stickler plan --policy FILE`: what an apply would change, and what the policy cannot apply. */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { makeOwnUnapplied } from '../../app/own-unapplied';
import {
  makePlanPolicy,
  type PolicyPlan,
  type StoredNotApplied,
  type Unreadable,
} from '../../app/plan-policy';
import { makeReadTraffic, type TrafficReport } from '../../app/read-traffic';
import { DEFAULT_JOIN_MARGIN_MS, type ZoneWaitingSlot, zonesWaitingSlots } from '../../app/waiting-slot';
import { parsePolicy } from '../../domain/policy-file';
import { type SavedPlan, savePlan } from '../../domain/saved-plan';
import { plainText } from '../../domain/text';
import { parseTimeWindow, type TimeWindow } from '../../domain/traffic';
import { systemClock } from '../../ports/clock';
import { type Flags, readInput } from '../args';
import { type CliIo, EXIT, jsonDocument, UsageError } from '../io';
import { connectPipeline, type PipelineConnection, pipelineAsked } from '../pipeline';
import { registerPlan, registrationAsked } from '../register-plan';
import { renderPlan, renderTraffic, renderWaitingSlots } from '../render';
import { planJson, trafficJson, waitingSlotsJson } from '../report-json';
import type { Session } from '../session';

/**
 * Reads the policy file (before any connection is made), then plans it against the fleet. With
 * `direct`, farms stored but not applied in a zone holding only this machine's own earlier writes
 * are marked `own` (a direct apply refreshes that zone).
 */
export const planFromFlags = async (
  session: () => Session,
  io: CliIo,
  flags: Flags,
  options: { direct?: boolean } = {},
): Promise<PolicyPlan & { policyText: string }> => {
  if (!flags.policy) throw new UsageError('--policy FILE is required');
  const policyText = readInput(io.cwd, flags.policy, 'policy');
  // A policy that does not read is said before any connection is attempted.
  parsePolicy(policyText, flags.policy);
  const planned = await makePlanPolicy({ api: session().api })({
    policyText,
    policySource: flags.policy,
    ...(flags.service ? { services: flags.service } : {}),
    onSkipped: (service, reason) => io.stderr.write(`WARNING: skipped ${service}: ${reason}\n`),
    partial: true,
    lookAtPending: true,
  });
  const storedNotApplied = options.direct ? await markOwn(session(), planned) : planned.storedNotApplied;
  return { ...planned, storedNotApplied, policyText };
};

/**
 * Marks the farms stored but not applied whose zone holds only this machine's own earlier writes,
 * by its records, each checked against OVH (app/own-unapplied.ts): anything unsure stays unmarked.
 */
export const markOwn = async (session: Session, planned: PolicyPlan): Promise<StoredNotApplied[]> => {
  const { storedNotApplied } = planned;
  if (!session.unapplied || storedNotApplied.length === 0) return storedNotApplied;
  const own = makeOwnUnapplied({ api: session.api, store: session.unapplied, clock: systemClock });
  const services = [...new Set(storedNotApplied.map((s) => s.farm.service))];
  const ownZones = new Map(
    await Promise.all(
      services.map(async (s) => [s, (await own.trusted(s, planned.pending.get(s) ?? [])).own] as const),
    ),
  );
  return storedNotApplied.map((s) =>
    ownZones.get(s.farm.service)?.has(s.farm.zone) ? { ...s, own: true as const } : s,
  );
};

/** `--window`, checked before any connection; the next 24 hours without it. */
export const windowFromFlags = (flags: Flags): TimeWindow => {
  const parsed = parseTimeWindow(flags.window, systemClock.now().getTime());
  if (!parsed.ok) throw new UsageError(parsed.message);
  return parsed.window;
};

/** Writes a file whole or not at all (a temporary file beside it, then a rename). */
export const writeFileAtomic = (path: string, text: string) => {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw new UsageError(`cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
};

/** Says, on stderr, which load balancers could not be read and were left out. */
export const reportUnreadable = (io: CliIo, unreadable: readonly Unreadable[]) => {
  for (const u of unreadable)
    io.stderr.write(`ERROR: could not read ${u.service}, left out of this run: ${u.message}\n`);
};

/** Says, on stderr, which load balancers' unapplied changes could not be read (compliant farms there are unverified). */
export const reportPendingUnread = (io: CliIo, pendingUnread: readonly Unreadable[]) => {
  for (const u of pendingUnread)
    io.stderr.write(
      `WARNING: could not read the unapplied changes of ${u.service}: its compliant farms may be stored but not applied (${u.message})\n`,
    );
};

/** `--out`: the plan saved, with everything it read (refused when something could not be read). */
const savePlanTo = (io: CliIo, flags: Flags, planned: PolicyPlan & { policyText: string }): SavedPlan => {
  const out = flags.out!;
  const { unreadable, pendingUnread } = planned;
  // A saved plan records everything it read: one that could not read everything is not saved.
  if (unreadable.length > 0 || pendingUnread.length > 0)
    throw new UsageError(
      `plan not saved to ${out}: ${[...unreadable, ...pendingUnread].map((u) => u.service).join(', ')} could not be read (see above)`,
    );
  const saved = savePlan({
    createdAt: new Date(),
    policySource: flags.policy!,
    policyText: planned.policyText,
    services: flags.service ?? [...new Set(planned.fleet.map((f) => f.service))],
    fleet: planned.fleet,
    pending: planned.pending,
    changes: planned.plan.changes,
  });
  writeFileAtomic(resolve(io.cwd, out), `${JSON.stringify(saved, null, 2)}\n`);
  io.stderr.write(
    `Plan saved to ${out} (digest ${saved.digest}): 'stickler apply ${out}' applies exactly these ${saved.changes.length} change(s), if nothing read has changed.\n`,
  );
  return saved;
};

/**
 * Through the pipeline: the slots each zone an apply would refresh already waits for (another
 * request's), whether the window holds each, and the one its requests would join. For a change in
 * zone `all`, every zone of its load balancer (the zones of its farms read) counts, as the worker
 * counts them. A service whose slots cannot be read is said on stderr and left out.
 */
const waitingSlotsOf = (
  io: CliIo,
  pipeline: PipelineConnection,
  planned: PolicyPlan,
  traffic: TrafficReport,
): Promise<ZoneWaitingSlot[]> => {
  const fleetZones = new Map<string, Set<string>>();
  for (const f of planned.fleet)
    fleetZones.set(f.service, (fleetZones.get(f.service) ?? new Set()).add(f.zone));
  const changed = new Map<string, { zones: Set<string>; loadBalancerZones: string[] }>();
  for (const { farm } of planned.plan.changes) {
    const entry = changed.get(farm.service) ?? {
      zones: new Set<string>(),
      loadBalancerZones: [...(fleetZones.get(farm.service) ?? [])],
    };
    changed.set(farm.service, { ...entry, zones: entry.zones.add(farm.zone) });
  }
  return zonesWaitingSlots(
    pipeline.waitingSlots,
    changed,
    traffic.window,
    systemClock.now().getTime(),
    (service, error) =>
      io.stderr.write(
        `WARNING: could not read the pipeline's waiting slots of ${service}: ${plainText((error as Error)?.message ?? String(error), 200)}\n`,
      ),
  );
};

export async function planCommand(session: () => Session, io: CliIo, flags: Flags): Promise<number> {
  const window = windowFromFlags(flags);
  // The pipeline (to register the plan, and for its waiting slots): where it is, found before OVH is read.
  const pipeline = pipelineAsked(io.env, flags) ? await connectPipeline(io.env, flags) : undefined;
  const planned = await planFromFlags(session, io, flags, { direct: !pipeline });
  const { plan, overLimit, unreadable, storedNotApplied, pendingUnread } = planned;
  // The load balancers an apply would refresh: what their traffic is, and when it is lowest (searched
  // as the pipeline's worker searches it: not in the margin it keeps before the window's end).
  const traffic = await makeReadTraffic({ traffic: session().traffic, clock: systemClock })({
    services: plan.changes.map((c) => c.farm.service),
    window,
    marginMs: DEFAULT_JOIN_MARGIN_MS,
  });
  const slots = pipeline ? await waitingSlotsOf(io, pipeline, planned, traffic) : undefined;
  io.stdout.write(
    flags.json
      ? jsonDocument({
          ...planJson(plan, unreadable, storedNotApplied),
          traffic: trafficJson(traffic),
          ...(slots ? { zoneSlots: waitingSlotsJson(slots) } : {}),
        })
      : renderPlan(plan, storedNotApplied) +
          renderTraffic(traffic, 'the load balancers an apply would refresh') +
          (slots ? renderWaitingSlots(slots) : ''),
  );
  reportUnreadable(io, unreadable);
  reportPendingUnread(io, pendingUnread);
  // The same check apply makes, said before anyone tries.
  if (overLimit) io.stderr.write(`WARNING: apply would refuse this plan: ${overLimit}\n`);
  if (unreadable.length > 0) return EXIT.error;
  if (flags.out !== undefined) {
    const saved = savePlanTo(io, flags, planned);
    if (pipeline && registrationAsked(io.env, flags)) await registerPlan(io, pipeline, saved, flags.out);
  }
  // A farm stored but not applied is not compliant yet: traffic may still see the old value.
  return plan.changes.length > 0 || plan.invalid.length > 0 || storedNotApplied.length > 0
    ? EXIT.drift
    : EXIT.ok;
}
