/**
 * Applies explicit change requests (the CLI's `set`, the queue worker): the latest request per
 * farm wins and the others are refused as superseded; each remaining farm is read, invalid
 * targets are refused without a write, and the rest goes through applyPlan.
 */
import { type ChangeRequest, farmRefOf, selectLatestPerFarm } from '../domain/change-request';
import { NotFoundError } from '../domain/errors';
import { type FarmRef, farmKey } from '../domain/farm';
import { type FarmRead, type Plan, planFromRequests, requestOrigin } from '../domain/plan';
import { checkTarget, toWire } from '../domain/stickiness';
import {
  type ApplyOptions,
  type ApplyPlanDeps,
  type ApplyReport,
  apiWithin,
  type Failure,
  makeApplyPlan,
} from './apply-plan';
import { errorFacts } from './error-facts';

export interface RequestsResult {
  plan: Plan;
  report: ApplyReport;
}

export const makeApplyRequests = (deps: ApplyPlanDeps) => {
  const applyPlan = makeApplyPlan(deps);
  return async (requests: readonly ChangeRequest[], options?: ApplyOptions): Promise<RequestsResult> => {
    const api = apiWithin(deps.api, options?.deadline);
    const { kept, superseded } = selectLatestPerFarm(requests);
    const reads = new Map<string, FarmRead>();
    const readFailures: Failure[] = [];
    const failedKeys = new Set<string>();
    await Promise.all(
      kept.map(async (request) => {
        const ref: FarmRef = farmRefOf(request);
        if (!checkTarget(ref.type, toWire(request.stickiness)).ok) return; // refused by the plan, no read needed
        try {
          reads.set(farmKey(ref), { found: true, farm: await api.getFarm(ref) });
        } catch (error) {
          if (error instanceof NotFoundError) {
            reads.set(farmKey(ref), { found: false, reason: error.message });
            return;
          }
          failedKeys.add(farmKey(ref));
          const facts = errorFacts(error);
          readFailures.push({
            ref,
            to: toWire(request.stickiness),
            origin: requestOrigin(request),
            code: 'read-failed',
            ...facts,
            reason: `could not read the farm: ${facts.reason}`,
          });
        }
      }),
    );
    const plan = planFromRequests(
      kept.filter((r) => !failedKeys.has(farmKey(farmRefOf(r)))),
      reads,
    );
    const report = await applyPlan(plan, options);
    report.failed.push(...readFailures);
    report.refused.push(
      ...superseded.map(({ request, by }) => ({
        ref: farmRefOf(request),
        to: toWire(request.stickiness),
        origin: requestOrigin(request),
        code: 'superseded' as const,
        reason: `superseded by request ${by.requestId} for the same farm`,
      })),
    );
    return { plan, report };
  };
};
