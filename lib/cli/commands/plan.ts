/** `stickler plan --policy FILE`: what an apply would change, and what the policy cannot apply. */
import { makePlanPolicy, type PolicyPlan, type Unreadable } from '../../app/plan-policy';
import { parsePolicy } from '../../domain/policy-file';
import { type Flags, readInput } from '../args';
import { type CliIo, EXIT, jsonDocument, UsageError } from '../io';
import { renderPlan } from '../render';
import { planJson } from '../report-json';
import type { Session } from '../session';

/** Reads the policy file (before any connection is made), then plans it against the fleet. */
export const planFromFlags = async (session: () => Session, io: CliIo, flags: Flags): Promise<PolicyPlan> => {
  if (!flags.policy) throw new UsageError('--policy FILE is required');
  const policyText = readInput(io.cwd, flags.policy, 'policy');
  // A policy that does not read is said before any connection is attempted.
  parsePolicy(policyText, flags.policy);
  return makePlanPolicy({ api: session().api })({
    policyText,
    policySource: flags.policy,
    ...(flags.service ? { services: flags.service } : {}),
    onSkipped: (service, reason) => io.stderr.write(`WARNING: skipped ${service}: ${reason}\n`),
    partial: true,
    lookAtPending: true,
  });
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

export async function planCommand(session: () => Session, io: CliIo, flags: Flags): Promise<number> {
  const { plan, overLimit, unreadable, storedNotApplied, pendingUnread } = await planFromFlags(
    session,
    io,
    flags,
  );
  io.stdout.write(
    flags.json
      ? jsonDocument(planJson(plan, unreadable, storedNotApplied))
      : renderPlan(plan, storedNotApplied),
  );
  reportUnreadable(io, unreadable);
  reportPendingUnread(io, pendingUnread);
  // The same check apply makes, said before anyone tries.
  if (overLimit) io.stderr.write(`WARNING: apply would refuse this plan: ${overLimit}\n`);
  if (unreadable.length > 0) return EXIT.error;
  // A farm stored but not applied is not compliant yet: traffic may still see the old value.
  return plan.changes.length > 0 || plan.invalid.length > 0 || storedNotApplied.length > 0
    ? EXIT.drift
    : EXIT.ok;
}
