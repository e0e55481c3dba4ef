/**
 * Plans a written policy against the fleet: the policy is validated first (a bad file fails
 * before any OVH call), then the fleet is read (read-only calls) and planned, and the policy's
 * limits checked. Used by the CLI's `plan` and `apply`, and by the compliance run.
 */
import { SticklerError } from '../domain/errors';
import type { Farm } from '../domain/farm';
import { limitProblem, type Plan, planFromPolicy } from '../domain/plan';
import type { Policy } from '../domain/policy';
import { parsePolicy } from '../domain/policy-file';
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
    return { policy, fleet, plan, unreadable, ...(overLimit ? { overLimit } : {}) };
  };
};
