/**
 * Plans: what would change, what already complies and what cannot be done, computed from a fleet
 * snapshot and either a policy or explicit change requests. Pure: no I/O, no clock.
 */
import { type ChangeRequest, farmRefOf } from './change-request';
import { RunRefusedError } from './errors';
import { type Farm, type FarmRef, farmKey } from './farm';
import { compilePolicy, type Policy } from './policy';
import { checkTarget, type Stickiness, toWire, toWord } from './stickiness';

export type ChangeOrigin =
  | { kind: 'rule'; rule: string; ruleIndex: number }
  /** `notAfter`: the request's window closes then (ISO 8601): no write, and no refresh, after it. */
  | { kind: 'request'; requestId: string; ticket?: string; notAfter?: string };

export interface Change {
  farm: Farm;
  from: Stickiness;
  to: Stickiness;
  origin: ChangeOrigin;
}

export interface Unchanged {
  farm: Farm;
  origin: ChangeOrigin;
}

export const REFUSAL_CODES = [
  'invalid-target',
  'farm-not-found',
  'foreign-pending',
  'superseded',
  'over-limit',
  'invalid-request',
  'window-closed',
  'changed-since',
] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

export interface Rejection {
  ref: FarmRef;
  farm?: Farm;
  to?: Stickiness;
  origin: ChangeOrigin;
  code: RefusalCode;
  reason: string;
}

export interface Plan {
  changes: Change[];
  unchanged: Unchanged[];
  invalid: Rejection[];
}

/** Compares a fleet with a policy: first matching rule wins; farms no rule matches are not listed. */
export const planFromPolicy = (fleet: readonly Farm[], policy: Policy): Plan => {
  const match = compilePolicy(policy);
  const plan: Plan = { changes: [], unchanged: [], invalid: [] };
  for (const farm of fleet) {
    const rule = match(farm);
    if (!rule) continue;
    const origin: ChangeOrigin = { kind: 'rule', rule: rule.label, ruleIndex: rule.index };
    const verdict = checkTarget(farm.type, rule.target);
    if (!verdict.ok) {
      plan.invalid.push({
        ref: farm,
        farm,
        to: rule.target,
        origin,
        code: 'invalid-target',
        reason: verdict.reason,
      });
    } else if (farm.stickiness === rule.target) {
      plan.unchanged.push({ farm, origin });
    } else {
      plan.changes.push({ farm, from: farm.stickiness, to: rule.target, origin });
    }
  }
  return plan;
};

export type FarmRead = { found: true; farm: Farm } | { found: false; reason: string };

export const requestOrigin = (request: ChangeRequest & { window?: { notAfter?: string } }): ChangeOrigin => ({
  kind: 'request',
  requestId: request.requestId,
  ...(request.ticket ? { ticket: request.ticket } : {}),
  ...(request.window?.notAfter ? { notAfter: request.window.notAfter } : {}),
});

/** When the change's request window has closed by `now`, the time it closed; else undefined. */
export const windowClosed = (origin: ChangeOrigin, now: Date): string | undefined =>
  origin.kind === 'request' && origin.notAfter !== undefined && now.getTime() > Date.parse(origin.notAfter)
    ? origin.notAfter
    : undefined;

/**
 * Plans explicit requests (one per farm, see selectLatestPerFarm) against the farms read for them.
 * The target is checked against the farm type the request names, so an invalid target is refused
 * even when the farm could not be read.
 */
export const planFromRequests = (
  requests: readonly ChangeRequest[],
  reads: ReadonlyMap<string, FarmRead>,
): Plan => {
  const plan: Plan = { changes: [], unchanged: [], invalid: [] };
  for (const request of requests) {
    const ref: FarmRef = farmRefOf(request);
    const origin = requestOrigin(request);
    const to = toWire(request.stickiness);
    const verdict = checkTarget(request.farmType, to);
    if (!verdict.ok) {
      plan.invalid.push({ ref, to, origin, code: 'invalid-target', reason: verdict.reason });
      continue;
    }
    const read = reads.get(farmKey(ref));
    if (!read?.found) {
      plan.invalid.push({
        ref,
        to,
        origin,
        code: 'farm-not-found',
        reason: read?.reason ?? 'farm was not read',
      });
      continue;
    }
    // A request made against what the farm stored (an undo, a saved plan's change): if it stores
    // something else now, another change came first, and this one is not carried out over it;
    // if it stores the target already, there is nothing to carry out (unchanged, not refused).
    if (
      request.ifStores !== undefined &&
      toWord(read.farm.stickiness) !== request.ifStores &&
      read.farm.stickiness !== to
    ) {
      plan.invalid.push({
        ref,
        farm: read.farm,
        to,
        origin,
        code: 'changed-since',
        reason: `the farm stores ${toWord(read.farm.stickiness)}, not the ${request.ifStores} this request was made against: it has been changed since, and this request is not carried out over that change`,
      });
      continue;
    }
    if (read.farm.stickiness === to) plan.unchanged.push({ farm: read.farm, origin });
    else plan.changes.push({ farm: read.farm, from: read.farm.stickiness, to, origin });
  }
  return plan;
};

/** Refuses the whole run, before any write, when it would change more farms than the policy allows. */
/** Why the policy's limits refuse this plan whole (`limits.maxChangesPerRun`), or undefined. */
export const limitProblem = (plan: Plan, policy: Policy): string | undefined => {
  const max = policy.limits.maxChangesPerRun;
  return max !== undefined && plan.changes.length > max
    ? `the plan changes ${plan.changes.length} farms but the policy allows at most ${max} per run (limits.maxChangesPerRun); nothing was written`
    : undefined;
};

export const assertWithinLimits = (plan: Plan, policy: Policy): void => {
  const problem = limitProblem(plan, policy);
  if (problem) throw new RunRefusedError('over-limit', problem);
};
