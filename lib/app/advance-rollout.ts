/**
 * Advances a zone-by-zone compliance rollout on each terminal outcome of its requests: once every
 * request of the zone in flight has ended, the next zone's requests are published if all of them
 * were applied or unchanged; otherwise the rollout stops, and the zones not reached are reported,
 * not applied (`Compliance Rollout Stopped`). The last zone ends it (`Compliance Rollout
 * Finished`), and the policy's lock is given back.
 *
 * Outcome events arrive together (a hundred at once), twice, and out of order, and any write may
 * fail; none is lost and no step is skipped or doubled:
 * - each outcome is kept as an item of its own, with no contention, before anything else;
 * - whether the zone in flight is complete is read from those items, and the state moves on with
 *   optimistic concurrency (a writer that loses reads again and decides again);
 * - what a state calls for (the zone's requests, the summary event) is published after the state
 *   is written, and marked `announced` once out: whoever finds a state not announced publishes it
 *   again (same request ids and audit ids: the worker and consumers see one), so a failure between
 *   the write and the publishing never stalls a rollout. A failure throws: the event is retried,
 *   then lands in the function's dead-letter queue.
 * Every request a rollout publishes goes through the intake again.
 */
import type { ComplianceRolloutDetail, OutgoingEvent } from '../domain/audit-events';
import { SticklerError } from '../domain/errors';
import { AUDIT_SCHEMA_VERSION, DETAIL_TYPES } from '../domain/events';
import type { Clock } from '../ports/clock';
import type { EventPublisher } from '../ports/event-publisher';
import type { Log } from '../ports/log';
import type { RolloutOutcome, RolloutState, RolloutStore, RolloutZone } from '../ports/rollout-store';
import { buildAll, changeRequestedEvent, draftOfRequest } from './request-changes';
import { COMPLIANCE_EVENT_SOURCE, complianceEvent, rolloutKeyOf } from './run-compliance';

export type { RolloutOutcome } from '../ports/rollout-store';

/** Reads and writes of the state before giving up (the event is then retried). */
const MAX_ROUNDS = 25;

const zoneRef = (z: RolloutZone) => ({ service: z.service, zone: z.zone, farms: z.requests.length });

export interface AdvanceRolloutDeps {
  rollouts: RolloutStore;
  publisher: EventPublisher;
  clock: Clock;
  log: Log;
}

/** The events a state calls for: the zone in flight's requests, or the summary of an ended rollout. */
function dueEvents(deps: AdvanceRolloutDeps, state: RolloutState): OutgoingEvent[] {
  if (state.status === 'running') {
    const zone = state.zones[state.current]!;
    const requests = buildAll(
      zone.requests.map(draftOfRequest),
      deps.clock.now(),
      `rollout ${state.key} zone ${zone.service}/${zone.zone}`,
    );
    return requests.map((r) => changeRequestedEvent(r, COMPLIANCE_EVENT_SOURCE));
  }
  const type = state.status;
  const detail: ComplianceRolloutDetail = {
    schemaVersion: AUDIT_SCHEMA_VERSION,
    auditId: `compliance:${state.runId}:rollout:${type}`,
    runId: state.runId,
    mode: 'enforce',
    policy: state.policy,
    done: state.zones.slice(0, state.current + (type === 'finished' ? 1 : 0)).map(zoneRef),
    stoppedAt: type === 'stopped' ? zoneRef(state.zones[state.current]!) : null,
    failures: state.failures,
    remaining: type === 'stopped' ? state.zones.slice(state.current + 1).map(zoneRef) : [],
    at: deps.clock.now().toISOString(),
  };
  return [
    complianceEvent(
      type === 'finished' ? DETAIL_TYPES.rolloutFinished : DETAIL_TYPES.rolloutStopped,
      detail,
      detail.auditId,
    ),
  ];
}

/**
 * Publishes what `state` calls for and marks it announced (a lost race there is harmless: the
 * state was moved by someone who read it announced or announces it). An ended rollout gives its
 * policy's lock back.
 */
export async function announce(deps: AdvanceRolloutDeps, state: RolloutState): Promise<void> {
  const events = dueEvents(deps, state);
  const { failed } = await deps.publisher.publish(events);
  if (failed.length > 0)
    throw new SticklerError(
      'publish-failed',
      `rollout ${state.key}: ${failed.length} event(s) could not be published`,
      {
        retryable: true,
      },
    );
  await deps.rollouts.update({ ...state, announced: true, version: state.version + 1 });
  if (state.status !== 'running') await deps.rollouts.unlock(state.policy.source, state.key);
}

/**
 * The zone whose turn has come: with `quietestDelayMs`, its requests prefer their load
 * balancer's quietest slot from `now` to that delay later (the first zone's carry the run's own).
 */
const zoneTurn = (zone: RolloutZone, delayMs: number | undefined, now: Date): RolloutZone =>
  delayMs === undefined
    ? zone
    : {
        ...zone,
        requests: zone.requests.map((r) => ({
          ...r,
          window: {
            notBefore: now.toISOString(),
            notAfter: new Date(now.getTime() + delayMs).toISOString(),
            prefer: 'quietest' as const,
          },
        })),
      };

/** The state after the zone in flight ended with these outcomes (at `now`). */
const next = (state: RolloutState, outcomes: Map<string, RolloutOutcome>, now: Date): RolloutState => {
  const failures = [...outcomes.values()]
    .filter((o) => o.outcome !== 'applied' && o.outcome !== 'unchanged')
    .map((o) => ({ requestId: o.requestId, outcome: o.outcome, code: o.code }));
  const base = { ...state, pending: [], failures, announced: false, version: state.version + 1 };
  if (failures.length > 0) return { ...base, status: 'stopped' };
  if (state.current + 1 < state.zones.length)
    return {
      ...base,
      zones: state.zones.map((z, i) =>
        i === state.current + 1 ? zoneTurn(z, state.quietestDelayMs, now) : z,
      ),
      current: state.current + 1,
      pending: state.zones[state.current + 1]!.requests.map((r) => r.requestId),
      failures: [],
    };
  return { ...base, status: 'finished' };
};

export const makeAdvanceRollout = (deps: AdvanceRolloutDeps) =>
  async function advanceRollout(outcome: RolloutOutcome): Promise<'advanced' | 'recorded' | 'ignored'> {
    const key = rolloutKeyOf(outcome.requestId);
    if (!key) return 'ignored';
    let state = await deps.rollouts.get(key);
    if (!state?.zones.some((z) => z.requests.some((r) => r.requestId === outcome.requestId)))
      return 'ignored';
    await deps.rollouts.recordOutcome(key, outcome);
    let result: 'advanced' | 'recorded' | 'ignored' = state.status === 'running' ? 'recorded' : 'ignored';
    for (let round = 0; round < MAX_ROUNDS; round++) {
      state = (await deps.rollouts.get(key))!;
      if (state.announced === false) {
        await announce(deps, state);
        continue;
      }
      if (state.status !== 'running') return result;
      const zone = state.zones[state.current]!;
      const outcomes = await deps.rollouts.outcomes(
        key,
        zone.requests.map((r) => r.requestId),
      );
      if (outcomes.size < zone.requests.length) {
        const pending = zone.requests.map((r) => r.requestId).filter((id) => !outcomes.has(id));
        // Said for whoever reads the state (best effort: the outcomes are the truth).
        if (pending.length !== state.pending.length)
          await deps.rollouts.update({ ...state, pending, version: state.version + 1 }).catch(() => false);
        return result;
      }
      const moved = next(state, outcomes, deps.clock.now());
      if (!(await deps.rollouts.update(moved))) continue; // someone else moved it: read again
      deps.log.info('compliance rollout advanced', {
        runId: state.runId,
        status: moved.status,
        zone: moved.current,
      });
      result = 'advanced';
      await announce(deps, moved);
      return result;
    }
    throw new SticklerError(
      'rollout-contended',
      `rollout ${key}: the state kept changing under this update`,
      {
        retryable: true,
      },
    );
  };
