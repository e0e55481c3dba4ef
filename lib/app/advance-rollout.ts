/**
 * Advances a zone-by-zone compliance rollout on each terminal outcome of its requests: once every
 * request of the zone in flight has ended, the next zone's requests are published if all of them
 * were applied or unchanged; otherwise the rollout stops, and the zones not reached are reported,
 * not applied (`Compliance Rollout Stopped`). The last zone ends it (`Compliance Rollout Finished`).
 *
 * Outcome events may arrive together or twice: the state is written with optimistic concurrency
 * and the next zone's request ids are fixed, so a zone is never requested twice in effect.
 */
import type { ComplianceRolloutDetail, OutgoingEvent } from '../domain/audit-events';
import { SticklerError } from '../domain/errors';
import { AUDIT_SCHEMA_VERSION, DETAIL_TYPES } from '../domain/events';
import type { Clock } from '../ports/clock';
import type { EventPublisher } from '../ports/event-publisher';
import type { Log } from '../ports/log';
import type { RolloutState, RolloutStore, RolloutZone } from '../ports/rollout-store';
import { buildAll, changeRequestedEvent, draftOfRequest } from './request-changes';
import { COMPLIANCE_EVENT_SOURCE, complianceEvent, rolloutKeyOf } from './run-compliance';

export interface RolloutOutcome {
  requestId: string;
  outcome: string;
  code: string | null;
}

const zoneRef = (z: RolloutZone) => ({ service: z.service, zone: z.zone, farms: z.requests.length });

export const makeAdvanceRollout = (deps: {
  rollouts: RolloutStore;
  publisher: EventPublisher;
  clock: Clock;
  log: Log;
}) =>
  async function advanceRollout(outcome: RolloutOutcome): Promise<'advanced' | 'ignored'> {
    const key = rolloutKeyOf(outcome.requestId);
    if (!key) return 'ignored';
    for (let attempt = 1; attempt <= 8; attempt++) {
      const state = await deps.rollouts.get(key);
      if (state?.status !== 'running' || !state.pending.includes(outcome.requestId)) return 'ignored';
      const ok = outcome.outcome === 'applied' || outcome.outcome === 'unchanged';
      const next: RolloutState = {
        ...state,
        pending: state.pending.filter((id) => id !== outcome.requestId),
        failures: ok
          ? state.failures
          : [
              ...state.failures,
              { requestId: outcome.requestId, outcome: outcome.outcome, code: outcome.code },
            ],
        version: state.version + 1,
      };
      const events: OutgoingEvent[] = [];
      if (next.pending.length === 0) {
        const summary = (type: 'finished' | 'stopped'): ComplianceRolloutDetail => ({
          schemaVersion: AUDIT_SCHEMA_VERSION,
          auditId: `compliance:${state.runId}:rollout:${type}`,
          runId: state.runId,
          mode: 'enforce',
          policy: state.policy,
          done: state.zones.slice(0, state.current + (type === 'finished' ? 1 : 0)).map(zoneRef),
          stoppedAt: type === 'stopped' ? zoneRef(state.zones[state.current]!) : null,
          failures: next.failures,
          remaining: type === 'stopped' ? state.zones.slice(state.current + 1).map(zoneRef) : [],
          at: deps.clock.now().toISOString(),
        });
        if (next.failures.length > 0) {
          next.status = 'stopped';
          const detail = summary('stopped');
          events.push(complianceEvent(DETAIL_TYPES.rolloutStopped, detail, detail.auditId));
        } else if (state.current + 1 < state.zones.length) {
          next.current = state.current + 1;
          const zone = state.zones[next.current]!;
          next.pending = zone.requests.map((r) => r.requestId);
          next.failures = [];
          // Checked again by the intake: the state was stored earlier, maybe by an older version.
          const requests = buildAll(
            zone.requests.map((r) => draftOfRequest(r)),
            deps.clock.now(),
            `rollout ${key} zone ${zone.service}/${zone.zone}`,
          );
          for (const request of requests) events.push(changeRequestedEvent(request, COMPLIANCE_EVENT_SOURCE));
        } else {
          next.status = 'finished';
          const detail = summary('finished');
          events.push(complianceEvent(DETAIL_TYPES.rolloutFinished, detail, detail.auditId));
        }
      }
      // Published before the state moves on: if this fails, the outcome event is retried and
      // finds the same state (the request ids are fixed, so a second publication is a no-op).
      if (events.length > 0) {
        const { failed } = await deps.publisher.publish(events);
        if (failed.length > 0)
          throw new SticklerError(
            'publish-failed',
            `rollout ${key}: ${failed.length} event(s) could not be published`,
            { retryable: true },
          );
      }
      if (await deps.rollouts.update(next)) {
        deps.log.info('compliance rollout advanced', {
          runId: state.runId,
          status: next.status,
          zone: next.current,
          pending: next.pending.length,
        });
        return 'advanced';
      }
    }
    throw new SticklerError(
      'rollout-contended',
      `rollout ${key}: the state kept changing under this update`,
      { retryable: true },
    );
  };
