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
import { byFleetOrder, type DiscoverOptions, makeDiscoverFleet, makeScanFleet } from './discover-fleet';

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
  /**
   * Keep the decisions, not the fleet (the compliance run): each load balancer is planned as soon
   * as it is read and its farms let go, so that what is held follows the largest load balancer and
   * the drift, not the fleet. `fleet` is then empty, `farmsChecked` counts the farms, and
   * `plan.unchanged` keeps one compliant farm per (service, zone), the first by farm key (what a
   * run needs to find zones holding its own unapplied writes). Not with `lookAtPending`.
   */
  decisionsOnly?: boolean;
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
  /** The farms read (empty with `decisionsOnly`). */
  fleet: Farm[];
  /** How many farms were read and planned. */
  farmsChecked: number;
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

/**
 * Plans each load balancer as it is read, keeping its changes and invalid targets, and of its
 * compliant farms the first (by farm key) of each zone; the farms themselves are let go.
 */
const planAsRead = async (
  scan: ReturnType<typeof makeScanFleet>,
  options: DiscoverOptions,
  policy: Policy,
): Promise<{ plan: Plan; farmsChecked: number }> => {
  const plan: Plan = { changes: [], unchanged: [], invalid: [] };
  const firsts = new Map<string, Unchanged>();
  let farmsChecked = 0;
  await scan(options, (_service, farms) => {
    farmsChecked += farms.length;
    const part = planFromPolicy(farms, policy);
    plan.changes.push(...part.changes);
    plan.invalid.push(...part.invalid);
    for (const u of part.unchanged) {
      const key = `${u.farm.service}\n${u.farm.zone}`;
      const kept = firsts.get(key);
      if (!kept || farmKey(u.farm).localeCompare(farmKey(kept.farm)) < 0) firsts.set(key, u);
    }
  });
  // In the order a whole fleet's plan has (the fleet's order).
  plan.changes.sort((a, b) => byFleetOrder(a.farm, b.farm));
  plan.invalid.sort((a, b) => byFleetOrder(a.farm!, b.farm!));
  plan.unchanged = [...firsts.values()].sort((a, b) => byFleetOrder(a.farm, b.farm));
  return { plan, farmsChecked };
};

export const makePlanPolicy = (deps: { api: LoadBalancerApi }) => {
  const discover = makeDiscoverFleet(deps);
  const scan = makeScanFleet(deps);
  return async function planPolicy(input: PlanPolicyInput): Promise<PolicyPlan> {
    const policy = parsePolicy(input.policyText, input.policySource);
    if (input.decisionsOnly && input.lookAtPending)
      throw new Error('planPolicy: decisionsOnly keeps no compliant farm to look at pending changes for');
    const unreadable: Unreadable[] = [];
    const options: DiscoverOptions = {
      ...(input.services ? { services: input.services } : {}),
      ...(input.onSkipped ? { onSkipped: input.onSkipped } : {}),
      ...(input.partial
        ? { onFailed: (service, error) => unreadable.push(unreadableOf(service, error)) }
        : {}),
    };
    const fleet = input.decisionsOnly ? [] : await discover(options);
    const { plan, farmsChecked } = input.decisionsOnly
      ? await planAsRead(scan, options, policy)
      : { plan: planFromPolicy(fleet, policy), farmsChecked: fleet.length };
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
      farmsChecked,
      plan,
      unreadable,
      storedNotApplied,
      pendingUnread,
      pending,
      ...(overLimit ? { overLimit } : {}),
    };
  };
};
