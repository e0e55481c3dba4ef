import type { ComplianceDriftDetail, OutgoingEvent } from '../domain/audit-events';
import { errorFields, SticklerError } from '../domain/errors';
import { AUDIT_SCHEMA_VERSION, type ChangeRequestedDetail, DETAIL_TYPES } from '../domain/events';
import { ALL_ZONES, farmKey } from '../domain/farm';
import type { RequestDraft } from '../domain/intake';
import type { Change, Rejection, Unchanged } from '../domain/plan';
import { quietestWindowOf } from '../domain/policy';
import { toWord } from '../domain/stickiness';
import type { Clock } from '../ports/clock';
import type { EventPublisher } from '../ports/event-publisher';
import type { LoadBalancerApi } from '../ports/load-balancer-api';
import type { Log } from '../ports/log';
import type { PolicyDocument, PolicySource } from '../ports/policy-source';
import type { RolloutStore, RolloutZone } from '../ports/rollout-store';
import type { RunSummarySink } from '../ports/run-summary';
import type { UnappliedZones } from '../ports/unapplied-zones';
import { errorFacts } from './error-facts';
import type { PlanPolicyInput, PolicyPlan } from './plan-policy';
import { buildAll, changeRequestedEvent } from './request-changes';
import { COMPLIANCE_EVENT_SOURCE, complianceRequestId } from './request-groups';

export const COMPLIANCE_MODES = ['report', 'enforce'] as const;
export type ComplianceMode = (typeof COMPLIANCE_MODES)[number];

export { COMPLIANCE_EVENT_SOURCE, complianceRequestId };

/** Farms per `Compliance Drift Detected` event: each stays far under EventBridge's 256 KiB. */
const FARMS_PER_DRIFT_EVENT = 100;

export interface ComplianceDeps {
  policySource: PolicySource;
  planPolicy: (input: PlanPolicyInput) => Promise<PolicyPlan>;
  publisher: EventPublisher;
  /** Where a zone-by-zone rollout keeps its state between outcome events. */
  rollouts: RolloutStore;
  /** Where report runs post a summary (a Slack channel), when configured. */
  summary?: RunSummarySink;
  /**
   * To find zones holding stickler's own unapplied writes: OVH's pending changes and the worker's
   * records of them. Without it, a run does not look.
   */
  unapplied?: { api: Pick<LoadBalancerApi, 'pendingChanges'>; zones: Pick<UnappliedZones, 'read'> };
  clock: Clock;
  log: Log;
}

export interface ComplianceResult {
  runId: string;
  mode: ComplianceMode;
  policy: { source: string; version: string | null };
  farmsChecked: number;
  drifted: number;
  cannotApply: number;
  requested: number;
  blocked: boolean;
  /** Zones of a zone-by-zone rollout (null when all requests go at once). */
  rolloutZones: number | null;
  /** Zones of the policy's farms holding stickler's own unapplied writes (a failed worker refresh). */
  unappliedZones: number;
}

/** A run that could not read or plan its policy (its `Compliance Run Failed` went out first, if it could). */
export class ComplianceRunError extends SticklerError {}

const ruleOf = (c: Change | Rejection | Unchanged) => (c.origin.kind === 'rule' ? c.origin.rule : 'request');

/**
 * Per zone holding stickler's own unapplied writes, one compliant farm of the policy in it (the
 * first by farm key): a request for its stored target makes the worker apply the zone. A load
 * balancer that cannot be looked at is logged and skipped: this never fails a run.
 */
const unappliedZonesOf = async (
  deps: NonNullable<ComplianceDeps['unapplied']>,
  compliant: readonly Unchanged[],
  log: Log,
): Promise<Unchanged[]> => {
  const byService = new Map<string, Unchanged[]>();
  for (const u of compliant) {
    if (u.origin.kind !== 'rule' || u.farm.zone === ALL_ZONES) continue;
    byService.set(u.farm.service, [...(byService.get(u.farm.service) ?? []), u]);
  }
  const found = await Promise.all(
    [...byService].map(async ([service, farms]) => {
      try {
        const pending = await deps.api.pendingChanges(service);
        const dirty = [...new Set(pending.filter((p) => p.number > 0).map((p) => p.zone))];
        if (dirty.length === 0) return [];
        const recorded = new Set((await deps.zones.read(service, dirty)).map((r) => r.zone));
        return [...recorded].sort().flatMap((zone) => {
          const here = farms
            .filter((u) => u.farm.zone === zone)
            .sort((a, b) => farmKey(a.farm).localeCompare(farmKey(b.farm)));
          return here.length > 0 ? [here[0]!] : [];
        });
      } catch (error) {
        log.warn('could not look for unapplied writes of a load balancer; its zones are not checked', {
          service,
          error: String((error as Error)?.message ?? error),
        });
        return [];
      }
    }),
  );
  return found.flat();
};

/** An event a compliance run (or its rollout) publishes: its own source, deduplicated by `key`. */
export const complianceEvent = (
  detailType: OutgoingEvent['detailType'],
  detail: OutgoingEvent['detail'],
  key: string,
): OutgoingEvent => ({ detailType, detail, dedupeKey: key, source: COMPLIANCE_EVENT_SOURCE });

/** The rollout a compliance request belongs to, or undefined for any other request. */
export const rolloutKeyOf = (requestId: string): string | undefined =>
  /^cmp-([0-9a-f]{16})-[0-9a-f]{24}$/.exec(requestId)?.[1];

/** What every event of one run carries. */
interface RunContext {
  deps: ComplianceDeps;
  runId: string;
  mode: ComplianceMode;
  /** Where its requests' change windows start: when it was scheduled for, the same in its retries. */
  windowStart: Date;
  base: { schemaVersion: typeof AUDIT_SCHEMA_VERSION; runId: string; mode: ComplianceMode };
  now: () => string;
}

/** Phase 1: the policy read and planned; on failure, `Compliance Run Failed` (if it can go out) and a throw. */
async function loadAndPlan(run: RunContext): Promise<{ document: PolicyDocument; planned: PolicyPlan }> {
  const { deps, runId, base } = run;
  let document: PolicyDocument | undefined;
  try {
    document = await deps.policySource.load();
    return {
      document,
      planned: await deps.planPolicy({
        policyText: document.text,
        policySource: document.source,
        decisionsOnly: true,
      }),
    };
  } catch (error) {
    const e = error as SticklerError;
    const message = (e?.message ?? String(error)).slice(0, 4000);
    deps.log.error('compliance run failed: the policy could not be read or planned', {
      runId,
      error: errorFields(error),
    });
    const key = `compliance:${runId}:failed`;
    await deps.publisher
      .publish([
        complianceEvent(
          DETAIL_TYPES.complianceFailed,
          {
            ...base,
            auditId: key,
            policy: document ? { source: document.source, version: document.version } : null,
            code: e instanceof SticklerError ? e.code : 'unexpected',
            message,
            failedAt: run.now(),
          },
          key,
        ),
      ])
      .catch(() => undefined);
    throw new ComplianceRunError('compliance-run-failed', `compliance run ${runId} failed: ${message}`, {
      cause: error,
      // An outage (OVH, S3) may pass; a policy that does not parse will not.
      retryable: errorFacts(error).retryable,
    });
  }
}

type Drifted = ComplianceDriftDetail['drifted'];
type CannotApply = ComplianceDriftDetail['cannotApply'];

/** Phase 2: the drift and what the policy cannot apply, in `Compliance Drift Detected` parts of at most 100 farms. */
function driftOf(run: RunContext, ref: PolicyRef, plan: PolicyPlan['plan']) {
  const drifted: Drifted = plan.changes.map((c) => ({
    service: c.farm.service,
    farmType: c.farm.type,
    farmId: c.farm.farmId,
    zone: c.farm.zone,
    displayName: c.farm.displayName?.slice(0, 256) ?? null,
    before: toWord(c.from),
    wanted: toWord(c.to),
    rule: ruleOf(c).slice(0, 256),
  }));
  const cannotApply: CannotApply = plan.invalid.map((r) => ({
    service: r.ref.service,
    farmType: r.ref.type ?? null,
    farmId: r.ref.farmId,
    wanted: r.to === undefined ? null : toWord(r.to),
    rule: ruleOf(r).slice(0, 256),
    reason: r.reason.slice(0, 500),
  }));
  const events: OutgoingEvent[] = [];
  const parts = Math.max(1, Math.ceil(Math.max(drifted.length, cannotApply.length) / FARMS_PER_DRIFT_EVENT));
  if (drifted.length + cannotApply.length > 0) {
    for (let part = 0; part < parts; part++) {
      const slice = <T>(list: T[]) =>
        list.slice(part * FARMS_PER_DRIFT_EVENT, (part + 1) * FARMS_PER_DRIFT_EVENT);
      const key = `compliance:${run.runId}:drift:${part + 1}`;
      events.push(
        complianceEvent(
          DETAIL_TYPES.complianceDrift,
          {
            ...run.base,
            auditId: key,
            policy: ref,
            part: part + 1,
            parts,
            drifted: slice(drifted),
            cannotApply: slice(cannotApply),
            detectedAt: run.now(),
          },
          key,
        ),
      );
    }
  }
  return { drifted, cannotApply, events };
}

type PolicyRef = { source: string; version: string | null };

const blockedEvent = (
  run: RunContext,
  ref: PolicyRef,
  drifted: number,
  max: number | null,
  message: string,
) => {
  const key = `compliance:${run.runId}:blocked`;
  return complianceEvent(
    DETAIL_TYPES.complianceBlocked,
    { ...run.base, auditId: key, policy: ref, drifted, maxChangesPerRun: max, message, blockedAt: run.now() },
    key,
  );
};

/** The run's change requests, through the intake like every door's (a planner bug fails the run). */
function requestsOf(
  run: RunContext,
  ref: PolicyRef,
  changes: readonly Change[],
  limits: PolicyPlan['policy']['limits'],
): ChangeRequestedDetail[] {
  // limits.prefer: quietest — every request may wait up to maxDelay for its load balancer's quietest slot.
  // From the time the run was scheduled for, not now: a retried run asks exactly what the first
  // asked (a later window would be another request under the same id, refused id-reused).
  const window = quietestWindowOf(limits, run.windowStart);
  const drafts: RequestDraft[] = changes.map((change) => ({
    requestId: complianceRequestId(run.runId, farmKey(change.farm)),
    target: {
      service: change.farm.service,
      farmType: change.farm.type,
      farmId: change.farm.farmId,
      stickiness: toWord(change.to),
    },
    actor: { kind: 'compliance', id: `${ref.source}@${ref.version ?? 'unversioned'}`, name: ruleOf(change) },
    reason:
      change.from === change.to
        ? `compliance run ${run.runId}: policy rule '${ruleOf(change)}'; the farm stores it, but its zone holds stickler's own unapplied writes`
        : `compliance run ${run.runId}: policy rule '${ruleOf(change)}'`,
    requestedAt: run.now(),
    ...(window ? { window } : {}),
  }));
  return buildAll(drafts, run.deps.clock.now(), `compliance run ${run.runId}`);
}

/**
 * A rollout's zones in order, each with its requests. With `prefer: quietest`, only the first
 * zone's requests carry the run's window: the rollout starts at the quietest time of it; each
 * later zone gets a window of the same length from when its turn comes (advance-rollout), since a
 * window chosen when the run began could have closed by then.
 */
function rolloutZones(changes: readonly Change[], requests: readonly ChangeRequestedDetail[]): RolloutZone[] {
  const byZone = new Map<string, RolloutZone>();
  changes.forEach((change, i) => {
    const id = `${change.farm.service}\n${change.farm.zone}`;
    const zone = byZone.get(id) ?? { service: change.farm.service, zone: change.farm.zone, requests: [] };
    zone.requests.push(requests[i]!);
    byZone.set(id, zone);
  });
  const zones = [...byZone.values()].sort(
    (a, b) => a.service.localeCompare(b.service) || a.zone.localeCompare(b.zone),
  );
  return zones.map((zone, i) =>
    i === 0 ? zone : { ...zone, requests: zone.requests.map(({ window: _later, ...request }) => request) },
  );
}

/** The rollout's `quietestDelayMs`: the length of the first zone's quietest window, if it has one. */
const quietestDelayOf = (first: ChangeRequestedDetail): { quietestDelayMs?: number } => {
  const w = first.window;
  return w?.prefer === 'quietest' && w.notBefore && w.notAfter
    ? { quietestDelayMs: Date.parse(w.notAfter) - Date.parse(w.notBefore) }
    : {};
};

/**
 * Phase 3 (enforce): the requests to publish now: all of them, or, zone by zone, the first zone's
 * (or, for a retried run, the zone in flight's), unless another rollout of the policy is running.
 */
async function enforce(
  run: RunContext,
  ref: PolicyRef,
  policy: PolicyPlan['policy'],
  changes: readonly Change[],
  drifted: number,
): Promise<{
  first: ChangeRequestedDetail[];
  rolloutZones: number | null;
  blocked?: OutgoingEvent;
  rolloutKey?: string;
}> {
  const { deps } = run;
  const requests = requestsOf(run, ref, changes, policy.limits);
  if (policy.limits.rollout !== 'zone-by-zone') return { first: requests, rolloutZones: null };
  const zones = rolloutZones(changes, requests);
  const key = rolloutKeyOf(zones[0]!.requests[0]!.requestId)!;
  // One rollout per policy at a time: another one still running blocks this run.
  const lock = await deps.rollouts.lock(ref.source, key);
  if (!lock.held) {
    const holder = await deps.rollouts.get(lock.holder).catch(() => undefined);
    const where = holder
      ? ` (zone ${holder.current + 1} of ${holder.zones.length}, ${holder.zones[holder.current]?.service}/${holder.zones[holder.current]?.zone})`
      : '';
    return {
      first: [],
      rolloutZones: zones.length,
      blocked: blockedEvent(
        run,
        ref,
        drifted,
        policy.limits.maxChangesPerRun ?? null,
        `the zone-by-zone rollout of run ${holder?.runId ?? lock.holder} for this policy is still running${where}: one rollout per policy at a time; nothing was requested`,
      ),
    };
  }
  const created = await deps.rollouts.create({
    key,
    runId: run.runId,
    policy: ref,
    zones,
    current: 0,
    pending: zones[0]!.requests.map((r) => r.requestId),
    failures: [],
    status: 'running',
    announced: false,
    ...quietestDelayOf(zones[0]!.requests[0]!),
    version: 1,
  });
  // A retried run finds its rollout started: it publishes again the zone in flight (same ids).
  const state = created ? undefined : await deps.rollouts.get(key);
  const first = state
    ? state.status === 'running'
      ? state.zones[state.current]!.requests
      : []
    : zones[0]!.requests;
  return { first, rolloutZones: zones.length, rolloutKey: key };
}

/** Phase 5 (report runs): the Slack summary, when configured; it never fails the run. */
async function postSummary(run: RunContext, ref: PolicyRef, result: ComplianceResult, drifted: Drifted) {
  const { deps } = run;
  if (result.mode !== 'report' || !deps.summary) return;
  const lines = drifted
    .slice(0, 15)
    .map(
      (d) =>
        `• ${d.service} ${d.farmType}/${d.farmId}${d.displayName ? ` (${d.displayName})` : ''}: ${d.before} → ${d.wanted} (${d.rule})`,
    );
  const text =
    `stickler compliance report (${ref.source} @ ${ref.version ?? 'unversioned'}): ${result.farmsChecked} farms checked, ` +
    `${result.drifted} drifted, ${result.cannotApply} the policy cannot apply.` +
    (result.unappliedZones > 0
      ? ` ${result.unappliedZones} zone(s) hold stickler's own unapplied writes (a refresh that failed): their farms store the policy's value but may not run it; an enforce run applies them, or 'stickler refresh'.`
      : '') +
    (lines.length
      ? `\n${lines.join('\n')}${drifted.length > lines.length ? `\n… and ${drifted.length - lines.length} more` : ''}`
      : '');
  // A summary that cannot be posted never fails the run: its events are out already.
  await deps.summary.post(text).catch((error: unknown) =>
    deps.log.warn('could not post the report summary', {
      runId: run.runId,
      error: String((error as Error)?.message ?? error),
    }),
  );
}

/** What phase 3 decided: the events it adds (blocked, or the requests), and what the result says of it. */
interface Requesting {
  events: OutgoingEvent[];
  requested: number;
  blocked: boolean;
  rolloutZones: number | null;
  rolloutKey?: string;
}

/**
 * Phase 3: an enforce run over the policy's limit is blocked; any other enforce run requests the
 * drifted farms' changes and the zones holding stickler's own unapplied writes. A report run
 * requests nothing.
 */
async function decideRequests(
  run: RunContext,
  ref: PolicyRef,
  planned: PolicyPlan,
  reapply: readonly Unchanged[],
  drifted: number,
): Promise<Requesting> {
  const { plan, overLimit, policy } = planned;
  if (run.mode === 'enforce' && overLimit !== undefined) {
    const blocked = blockedEvent(run, ref, drifted, policy.limits.maxChangesPerRun ?? null, overLimit);
    return { events: [blocked], requested: 0, blocked: true, rolloutZones: null };
  }
  if (run.mode !== 'enforce' || plan.changes.length + reapply.length === 0)
    return { events: [], requested: 0, blocked: false, rolloutZones: null };
  // A re-apply asks for what the farm stores: the worker finds it unchanged and applies its zone.
  const changes: Change[] = [
    ...plan.changes,
    ...reapply.map((u) => ({
      farm: u.farm,
      from: u.farm.stickiness,
      to: u.farm.stickiness,
      origin: u.origin,
    })),
  ];
  const enforced = await enforce(run, ref, policy, changes, drifted);
  return {
    events: [
      ...(enforced.blocked ? [enforced.blocked] : []),
      ...enforced.first.map((request) => changeRequestedEvent(request, COMPLIANCE_EVENT_SOURCE)),
    ],
    requested: enforced.first.length,
    blocked: enforced.blocked !== undefined,
    rolloutZones: enforced.rolloutZones,
    rolloutKey: enforced.rolloutKey,
  };
}

/**
 * Phase 4: every event of the run, `Compliance Run Completed` last, published at once (a failure
 * throws, for the run to be retried); then the rollout's zone in flight is marked announced.
 */
async function publishRun(
  run: RunContext,
  started: Date,
  result: ComplianceResult,
  events: readonly OutgoingEvent[],
  rolloutKey: string | undefined,
): Promise<void> {
  const { deps, runId } = run;
  const key = `compliance:${runId}:completed`;
  const completed = complianceEvent(
    DETAIL_TYPES.complianceCompleted,
    {
      ...run.base,
      auditId: key,
      ...result,
      durationMs: Math.max(0, deps.clock.now().getTime() - started.getTime()),
      completedAt: run.now(),
    },
    key,
  );
  const { failed } = await deps.publisher.publish([...events, completed]);
  if (failed.length > 0)
    throw new SticklerError(
      'publish-failed',
      `${failed.length} event(s) of compliance run ${runId} could not be published`,
      {
        retryable: true,
      },
    );
  if (rolloutKey) {
    // The zone in flight is out: the rollout's state says so (else the next outcome publishes it again).
    const state = await deps.rollouts.get(rolloutKey);
    if (state?.announced === false && state.status === 'running')
      await deps.rollouts.update({ ...state, announced: true, version: state.version + 1 });
  }
}

export const makeRunCompliance = (deps: ComplianceDeps) =>
  async function runCompliance(input: {
    mode: ComplianceMode;
    runId: string;
    /** When the run was scheduled for: its change windows start then (now, without it). */
    scheduledAt?: Date;
  }): Promise<ComplianceResult> {
    const { mode, runId } = input;
    const started = deps.clock.now();
    const run: RunContext = {
      deps,
      runId,
      mode,
      windowStart: input.scheduledAt ?? started,
      base: { schemaVersion: AUDIT_SCHEMA_VERSION, runId, mode },
      now: () => deps.clock.now().toISOString(),
    };
    const { document, planned } = await loadAndPlan(run);
    const { plan } = planned;
    const ref = { source: document.source, version: document.version };
    const reapply = deps.unapplied ? await unappliedZonesOf(deps.unapplied, plan.unchanged, deps.log) : [];
    const { drifted, cannotApply, events } = driftOf(run, ref, plan);
    const requesting = await decideRequests(run, ref, planned, reapply, drifted.length);
    const result: ComplianceResult = {
      runId,
      mode,
      policy: ref,
      farmsChecked: planned.farmsChecked,
      drifted: drifted.length,
      cannotApply: cannotApply.length,
      requested: requesting.requested,
      blocked: requesting.blocked,
      rolloutZones: requesting.rolloutZones,
      unappliedZones: reapply.length,
    };
    await publishRun(run, started, result, [...events, ...requesting.events], requesting.rolloutKey);
    deps.log.info('compliance run completed', { ...result });
    await postSummary(run, ref, result, drifted);
    return result;
  };
