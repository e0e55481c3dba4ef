/**
 * Plans a written policy against the fleet: the policy is validated first (a bad file fails
 * before any OVH call), then the fleet is read (read-only calls) and planned, and the policy's
 * limits checked. Used by the CLI's `plan` and `apply`, and by the compliance run.
 */
import { SticklerError } from '../domain/errors';
import { type Farm, farmKey } from '../domain/farm';
import { limitProblem, type Plan, planFromPolicy, type Unchanged } from '../domain/plan';
import type { Policy } from '../domain/policy';
import { parsePolicy } from '../domain/policy-file';
import { type PendingChange, unappliedCountIn } from '../domain/zones';
import type { LoadBalancerApi } from '../ports/load-balancer-api';
import { makeDiscoverFleet } from './discover-fleet';

export interface PlanPolicyInput {
  /** The policy file's text (YAML), and what to call it in errors (a path, an S3 object). */
  policyText: string;
  policySource: string;
  /** Only these load balancers (all that the key can reach when absent). */
  services?: readonly string[];
  /** A listed load balancer that cannot be used (expired, not granted) is skipped and said here. */
  onSkipped?: (service: string, reason: string) => void;
  /**
   * Plan what could be read: a load balancer whose reads fail is left out of the plan and listed
   * in `unreadable` (the CLI); without it, such a failure fails the planning (the compliance run).
   */
  partial?: boolean;
  /**
   * Look at each planned load balancer's unapplied changes (one call each): a farm that stores
   * its target in a zone holding unapplied changes is listed as stored, not applied (the CLI).
   */
  lookAtPending?: boolean;
}

/** A farm that stores its target, in a zone holding unapplied changes: it may not run it yet. */
export interface StoredNotApplied {
  farm: Farm;
  origin: Unchanged['origin'];
  /** The zone's unapplied changes (whoever made them). */
  pending: number;
  /**
   * They are all stickler's own earlier writes, left by a refresh that failed (the CLI's direct
   * mode, from its own records): an apply refreshes the zone, after asking.
   */
  own?: true;
}

export interface Unreadable {
  service: string;
  code: string;
  message: string;
  retryable: boolean;
}

export interface PolicyPlan {
  policy: Policy;
  fleet: Farm[];
  plan: Plan;
  /** Why an apply would refuse this plan whole (`limits.maxChangesPerRun`), if it would. */
  overLimit?: string;
  /** Load balancers left out because they could not be read (`partial` only). */
  unreadable: Unreadable[];
  /** With `lookAtPending`: compliant farms whose zone holds unapplied changes. */
  storedNotApplied: StoredNotApplied[];
  /** With `lookAtPending`: load balancers whose unapplied changes could not be read. */
  pendingUnread: Unreadable[];
  /** With `lookAtPending`: each load balancer's unapplied changes as read. */
  pending: Map<string, PendingChange[]>;
}

export const unreadableOf = (service: string, error: unknown): Unreadable => ({
  service,
  code: error instanceof SticklerError ? error.code : 'unexpected',
  message: error instanceof SticklerError ? error.message : String((error as Error)?.message ?? error),
  retryable: error instanceof SticklerError ? error.retryable : false,
});

export const makePlanPolicy = (deps: { api: LoadBalancerApi }) => {
  const discover = makeDiscoverFleet(deps);
  return async function planPolicy(input: PlanPolicyInput): Promise<PolicyPlan> {
    const policy = parsePolicy(input.policyText, input.policySource);
    const unreadable: Unreadable[] = [];
    const fleet = await discover({
      ...(input.services ? { services: input.services } : {}),
      ...(input.onSkipped ? { onSkipped: input.onSkipped } : {}),
      ...(input.partial
        ? { onFailed: (service, error) => unreadable.push(unreadableOf(service, error)) }
        : {}),
    });
    const plan = planFromPolicy(fleet, policy);
    const overLimit = limitProblem(plan, policy);
    unreadable.sort((a, b) => a.service.localeCompare(b.service));
    const storedNotApplied: StoredNotApplied[] = [];
    const pendingUnread: Unreadable[] = [];
    const pending = new Map<string, PendingChange[]>();
    if (input.lookAtPending) {
      const services = [...new Set(fleet.map((f) => f.service))].sort();
      await Promise.all(
        services.map(async (service) => {
          try {
            const list = await deps.api.pendingChanges(service);
            pending.set(service, list);
            const dirty = unappliedCountIn(list);
            for (const u of plan.unchanged) {
              const pending = u.farm.service === service ? dirty(u.farm.zone) : 0;
              if (pending > 0) storedNotApplied.push({ farm: u.farm, origin: u.origin, pending });
            }
          } catch (error) {
            pendingUnread.push(unreadableOf(service, error));
          }
        }),
      );
      storedNotApplied.sort((a, b) => farmKey(a.farm).localeCompare(farmKey(b.farm)));
      pendingUnread.sort((a, b) => a.service.localeCompare(b.service));
    }
    return {
      policy,
      fleet,
      plan,
      unreadable,
      storedNotApplied,
      pendingUnread,
      pending,
      ...(overLimit ? { overLimit } : {}),
    };
  };
};
