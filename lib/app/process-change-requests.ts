/**
 * The queue worker's use case: a batch of queued `Stickiness Change Requested` records in, one
 * terminal audit event per request out, and the records the queue must deliver again.
 *
 * Phases, each returning decisions keyed by the request's idempotency key:
 * 1. claim: a request already completed (a redelivery) emits nothing new; one decided earlier
 *    resumes publishing; one held elsewhere, or whose claim failed, is unfinished;
 * 2. admit: malformed, replayed, implausibly timed or closed-window requests are refused; one
 *    whose window has not opened is deferred;
 * 3. lease: one invocation at a time per service; requests of a service another invocation
 *    holds are handed back with a short delay;
 * 4. order: latest per farm by the queue's own time; an older request than one already carried
 *    out for its farm is refused as superseded;
 * 5. defer: early requests are scheduled back onto the bus for when their window opens;
 * 6. apply: the rest together, one refresh per touched (service, zone); leases released after;
 * 7. finish: the outbox records, publishes and completes; unfinished requests are handed back
 *    with a short growing delay, or, on the queue's last receive, audited as failed and left to
 *    go to the dead-letter queue. Nothing reaches the dead-letter queue without an audit event
 *    (unless the bus itself refuses it, which is logged).
 */
import type { OutgoingEvent, RequestOrigin } from '../domain/audit-events';
import { farmRefOf } from '../domain/change-request';
import type { ChangeRequestedDetail, Outcome } from '../domain/events';
import {
  admit,
  DEFAULT_TIME_LIMITS,
  farmOf,
  isSupersededBy,
  latestPerFarm,
  ledgerEntryOf,
  type QueuedRequest,
  retryDelaySeconds,
  type TimeLimits,
  unfinishedDisposition,
} from '../domain/request-rules';
import { toWire } from '../domain/stickiness';
import type { Clock } from '../ports/clock';
import type { DeferralScheduler } from '../ports/deferral-scheduler';
import type { EventPublisher } from '../ports/event-publisher';
import type { FarmLedger } from '../ports/farm-ledger';
import type { IdempotencyStore, PendingLedgerWrite } from '../ports/idempotency-store';
import type { Log } from '../ports/log';
import type { Lease, ServiceLeases } from '../ports/service-leases';
import type { AppliedChange, ApplyOptions, Failure } from './apply-plan';
import type { RequestsResult } from './apply-requests';
import { auditDetail, auditEvent, type OutcomeFacts, outcomesByRequest, zoneAppliedEvents } from './audit';
import { type AfterPublish, flushOutbox, type Outbound } from './audit-outbox';
import type { IncomingRecord, ParsedRequest } from './incoming-record';

export type { IncomingRecord } from './incoming-record';

export interface ProcessDeps {
  applyRequests: (
    requests: readonly ChangeRequestedDetail[],
    options?: ApplyOptions,
  ) => Promise<RequestsResult>;
  publisher: EventPublisher;
  idempotency: IdempotencyStore;
  /** Newest request carried out per farm: an older request arriving later is refused. */
  ledger: FarmLedger;
  deferrals: DeferralScheduler;
  /** Per-service leases: no two invocations apply one service at once. */
  leases: ServiceLeases;
  clock: Clock;
  log: Log;
  applyOptions: ApplyOptions;
  /** The queue's maxReceiveCount: the receive on which an unfinished request becomes final. */
  maxReceiveCount: number;
  /** How long a claim (and a service lease) holds against a concurrent invocation: past the function timeout. */
  claimHoldMs: number;
  /**
   * When another invocation holds every load balancer of the batch, how long to wait for one of
   * them to be released before handing the requests back (each hand-back costs a receive of the
   * queue's maxReceiveCount). Bounded by the deadline, less one zone's budget. Default 0.
   */
  leaseWaitMs?: number;
  timeLimits?: TimeLimits;
}

export type RecordFate = Outcome | 'duplicate' | 'deferred' | 'retry' | 'audit-pending' | 'dead-letter';

export interface ProcessResult {
  /** Records the queue must deliver again; `delaySeconds` when sooner than its visibility timeout. */
  retry: { recordId: string; delaySeconds?: number }[];
  fates: Map<string, RecordFate>;
  published: OutgoingEvent[];
}

/** One request of the batch: its first record and any copies delivered with it. */
interface Group {
  key: string;
  primary: IncomingRecord;
  copies: IncomingRecord[];
}

/** What becomes of one request in this invocation. */
type Decision =
  /** Already completed, or a copy of a deferred request: nothing to do. */
  | { kind: 'duplicate' }
  /** A final outcome, decided now (`persisted`: already stored as decided, when its zone ended). */
  | {
      kind: 'outcome';
      fate: Outcome;
      events: OutgoingEvent[];
      ledger?: PendingLedgerWrite;
      persisted?: boolean;
    }
  /** Decided by an earlier delivery; what it left to do. */
  | { kind: 'resume'; events: OutgoingEvent[]; ledger?: PendingLedgerWrite }
  /** Scheduled back onto the bus for when its window opens. */
  | { kind: 'deferred'; until: string; events: OutgoingEvent[] }
  /** Not finished here: handed back, or dead-lettered on the last receive. */
  | { kind: 'unfinished'; reason: string; claimHeld: boolean; facts?: OutcomeFacts; delaySeconds?: number };

type Decisions = Map<string, Decision>;

const requestOf = (parsed: ParsedRequest): ChangeRequestedDetail | undefined =>
  parsed.ok ? parsed.request : undefined;
const originOf = (parsed: ParsedRequest): RequestOrigin | undefined => parsed.origin;

/** What is known of a request's farm, for an audit event. */
const refFacts = (parsed: ParsedRequest): OutcomeFacts['ref'] =>
  parsed.ok
    ? farmRefOf(parsed.request)
    : {
        ...(parsed.known.service !== undefined ? { service: parsed.known.service } : {}),
        ...(parsed.known.farmId !== undefined ? { farmId: parsed.known.farmId } : {}),
      };

function audit(group: Group, facts: OutcomeFacts, now: Date, deferredUntil?: string): OutgoingEvent {
  const { parsed } = group.primary;
  const request = requestOf(parsed);
  const origin = originOf(parsed);
  const detail = auditDetail(
    {
      requestId: group.key,
      ...(request ? { request } : {}),
      ...(origin ? { origin } : {}),
      now,
      ...(deferredUntil ? { deferredUntil } : {}),
    },
    facts,
  );
  if (!parsed.ok && parsed.known.ticket !== undefined) detail.ticket = parsed.known.ticket;
  return auditEvent(detail);
}

function refusal(group: Group, code: string, message: string, now: Date): Decision {
  const request = requestOf(group.primary.parsed);
  const facts: OutcomeFacts = {
    outcome: 'refused',
    ref: refFacts(group.primary.parsed),
    ...(request ? { after: toWire(request.stickiness) } : {}),
    code,
    message,
    retryable: false,
  };
  return { kind: 'outcome', fate: 'refused', events: [audit(group, facts, now)] };
}

/** Phase 0: one group per idempotency key; copies of a record in the same batch share its fate. */
function groupRecords(records: readonly IncomingRecord[]): Map<string, Group> {
  const groups = new Map<string, Group>();
  for (const record of records) {
    const existing = groups.get(record.parsed.key);
    if (existing) existing.copies.push(record);
    else groups.set(record.parsed.key, { key: record.parsed.key, primary: record, copies: [] });
  }
  return groups;
}

/** Phase 1: claims every key. */
async function claimPhase(
  deps: ProcessDeps,
  groups: readonly Group[],
  decisions: Decisions,
): Promise<Group[]> {
  const claimed: Group[] = [];
  await Promise.all(
    groups.map(async (group) => {
      const now = deps.clock.now();
      try {
        const claim = await deps.idempotency.claim(group.key, now, deps.claimHoldMs);
        switch (claim.state) {
          case 'claimed':
            claimed.push(group);
            return;
          case 'completed':
            decisions.set(group.key, { kind: 'duplicate' });
            return;
          case 'decided':
            decisions.set(group.key, {
              kind: 'resume',
              events: claim.events,
              ...(claim.ledger ? { ledger: claim.ledger } : {}),
            });
            return;
          case 'deferred': {
            // A copy published again before the window opens is a duplicate: the scheduled
            // re-publication carries the request out. One arriving just before `until` (a
            // schedule firing a little early) waits for it.
            const wait = Date.parse(claim.until) - now.getTime();
            decisions.set(
              group.key,
              wait > 0 && wait <= 120_000
                ? {
                    kind: 'unfinished',
                    reason: `its change window opens at ${claim.until}`,
                    claimHeld: false,
                    delaySeconds: Math.ceil(wait / 1000),
                  }
                : { kind: 'duplicate' },
            );
            return;
          }
          case 'in-progress':
            decisions.set(group.key, {
              kind: 'unfinished',
              reason: 'another invocation was working on it',
              claimHeld: false,
            });
            return;
        }
      } catch (error) {
        deps.log.error('idempotency claim failed; the record will be retried', {
          key: group.key,
          error: String(error),
        });
        decisions.set(group.key, {
          kind: 'unfinished',
          reason: `its idempotency record could not be claimed: ${String(error)}`,
          claimHeld: false,
        });
      }
    }),
  );
  return claimed;
}

interface Admitted extends QueuedRequest {
  group: Group;
}

/** Phase 2: refuses what can never be carried out, sets aside what must wait for its window. */
function admitPhase(deps: ProcessDeps, claimed: readonly Group[], decisions: Decisions) {
  const admitted: Admitted[] = [];
  const early: { admitted: Admitted; until: string }[] = [];
  for (const group of claimed) {
    const { parsed, sentAt } = group.primary;
    const now = deps.clock.now();
    if (!parsed.ok) {
      decisions.set(group.key, refusal(group, parsed.code, parsed.message, now));
      continue;
    }
    const queued: Admitted = { request: parsed.request, sentAt, group };
    const admission = admit(queued, now, deps.timeLimits ?? DEFAULT_TIME_LIMITS);
    if (admission.kind === 'refuse') {
      decisions.set(group.key, refusal(group, admission.code, `refused: ${admission.message}`, now));
    } else if (admission.kind === 'defer') early.push({ admitted: queued, until: admission.until });
    else admitted.push(queued);
  }
  return { admitted, early };
}

/**
 * Phase 3: takes the lease of every service the admitted requests touch; requests of a service
 * another invocation holds go back to the queue (the holder may be writing that service's zones).
 */
async function leasePhase(
  deps: ProcessDeps,
  admitted: readonly Admitted[],
  options: ProcessOptions,
  decisions: Decisions,
): Promise<{ leased: Admitted[]; lease?: Lease }> {
  if (admitted.length === 0) return { leased: [] };
  const wanted = [...new Set(admitted.map((q) => q.request.service))];
  let lease: Lease | undefined;
  let why = 'another invocation is applying its load balancer';
  // Everything held by another batch: wait a little for a release rather than hand it all back
  // (under a burst, batches would otherwise bounce each other's records, a receive each time).
  const zoneBudget = deps.applyOptions.zoneBudgetMs ?? deps.applyOptions.taskTimeoutMs;
  const waitUntil = Math.min(
    deps.clock.now().getTime() + (deps.leaseWaitMs ?? 0),
    (options.deadline ?? Number.POSITIVE_INFINITY) - zoneBudget,
  );
  try {
    lease = await deps.leases.acquire(wanted, deps.clock.now(), deps.claimHoldMs);
    for (let step = 250; lease.services.size === 0; step = Math.min(2 * step, 4_000)) {
      if (deps.clock.now().getTime() + step > waitUntil) break;
      await deps.clock.sleep(step);
      lease = await deps.leases.acquire(wanted, deps.clock.now(), deps.claimHoldMs);
    }
  } catch (error) {
    deps.log.error('could not take service leases; the requests will be retried', { error: String(error) });
    why = `its load balancer's lease could not be taken: ${String(error)}`;
  }
  const leased: Admitted[] = [];
  for (const q of admitted) {
    if (lease?.services.has(q.request.service)) leased.push(q);
    else decisions.set(q.group.key, { kind: 'unfinished', reason: why, claimHeld: true });
  }
  return { leased, ...(lease ? { lease } : {}) };
}

/** Phase 4: the latest request per farm wins, in the batch and against the farm ledger. */
async function orderPhase(
  deps: ProcessDeps,
  admitted: readonly Admitted[],
  decisions: Decisions,
): Promise<Admitted[]> {
  if (admitted.length === 0) return [];
  const { kept, superseded } = latestPerFarm(admitted);
  for (const { queued, by } of superseded) {
    const group = (queued as Admitted).group;
    decisions.set(
      group.key,
      refusal(
        group,
        'superseded',
        `superseded by request ${by.request.requestId} for the same farm (queued later, in the same batch)`,
        deps.clock.now(),
      ),
    );
  }
  let newest: Map<string, { requestId: string; sentAt: string }>;
  try {
    newest = await deps.ledger.latest(kept.map((q) => farmOf(q.request)));
  } catch (error) {
    deps.log.error('could not read the farm ledger; the requests will be retried', { error: String(error) });
    for (const q of kept as Admitted[]) {
      decisions.set(q.group.key, {
        kind: 'unfinished',
        reason: `the farm ledger could not be read: ${String(error)}`,
        claimHeld: true,
      });
    }
    return [];
  }
  const current: Admitted[] = [];
  for (const q of kept as Admitted[]) {
    const done = newest.get(farmOf(q.request));
    if (!isSupersededBy(q, done)) {
      current.push(q);
      continue;
    }
    decisions.set(
      q.group.key,
      refusal(
        q.group,
        'superseded',
        `superseded by request ${done!.requestId} (queued ${done!.sentAt}), already carried out for this farm`,
        deps.clock.now(),
      ),
    );
  }
  return current;
}

/**
 * A window opening sooner than this is waited for in the queue (a record delay), not scheduled:
 * a schedule must be created while its time is still ahead.
 */
const NEAR_WINDOW_MS = 5_000;

/** Phase 5: schedules early requests back onto the bus for when their window opens. */
async function deferPhase(
  deps: ProcessDeps,
  early: readonly { admitted: Admitted; until: string }[],
  decisions: Decisions,
): Promise<void> {
  await Promise.all(
    early.map(async ({ admitted, until }) => {
      const { group, request } = admitted;
      const wait = Date.parse(until) - deps.clock.now().getTime();
      if (wait <= NEAR_WINDOW_MS) {
        // Too close for a schedule to be worth it (or to be accepted): the queue holds it back instead.
        decisions.set(group.key, {
          kind: 'unfinished',
          reason: `its change window opens at ${until}`,
          claimHeld: true,
          delaySeconds: Math.max(1, Math.ceil(wait / 1000)),
        });
        return;
      }
      try {
        await deps.deferrals.schedule({
          requestId: request.requestId,
          until,
          source: group.primary.parsed.origin?.source ?? 'unknown',
          request,
        });
      } catch (error) {
        decisions.set(group.key, {
          kind: 'unfinished',
          reason: `it could not be deferred to ${until}: ${String(error)}`,
          claimHeld: true,
        });
        return;
      }
      const facts: OutcomeFacts = {
        outcome: 'deferred',
        ref: refFacts(group.primary.parsed),
        after: toWire(request.stickiness),
        code: 'window-not-open',
        message: `deferred: its change window opens at ${until}; it will be carried out then (same requestId), and its outcome reported then`,
      };
      decisions.set(group.key, {
        kind: 'deferred',
        until,
        events: [audit(group, facts, deps.clock.now(), until)],
      });
    }),
  );
}

/** The final decision for a request whose apply outcome is known. */
function outcomeDecision(
  q: Admitted,
  facts: OutcomeFacts,
  zoneEvents: readonly OutgoingEvent[],
  now: Date,
): Decision {
  const events = [audit(q.group, facts, now)];
  // A zone event travels with the first request it carried.
  for (const z of zoneEvents) {
    if ((z.detail as { requestIds: string[] }).requestIds[0] === q.request.requestId) events.push(z);
  }
  const carriedOut = facts.outcome === 'applied' || facts.outcome === 'unchanged';
  return {
    kind: 'outcome',
    fate: facts.outcome as Outcome,
    events,
    ...(carriedOut ? { ledger: { farmKey: farmOf(q.request), entry: ledgerEntryOf(q) } } : {}),
  };
}

/** Bounds for applying within one invocation: see ApplyOptions.zoneBudgetMs and RefreshTiming.deadline. */
export interface ProcessOptions {
  /** Epoch ms by which every wait ends (the invocation's end less a margin for the outbox). */
  deadline?: number;
}

/**
 * Phase 6: applies the current requests together and decides each one's outcome. A zone's
 * outcomes are recorded as soon as the zone ends, so that if the invocation is killed later
 * (its timeout), the redelivery publishes them instead of finding the farms "unchanged".
 */
async function applyPhase(
  deps: ProcessDeps,
  current: readonly Admitted[],
  options: ProcessOptions,
  decisions: Decisions,
): Promise<void> {
  if (current.length === 0) return;
  const byId = new Map(current.map((q) => [q.request.requestId, q]));
  const onZoneDone = async (zone: { applied: AppliedChange[]; failed: Failure[] }) => {
    const now = deps.clock.now();
    const facts = outcomesByRequest({
      applied: zone.applied,
      unchanged: [],
      refused: [],
      // A retryable failure is not an outcome: the request is handed back with the batch.
      failed: zone.failed.filter((f) => !f.retryable),
      refreshes: [],
    });
    const zoneEvents = zoneAppliedEvents(zone, now);
    await Promise.all(
      [...facts].map(async ([requestId, f]) => {
        const q = byId.get(requestId);
        if (!q) return;
        const decision = outcomeDecision(q, f, zoneEvents, now) as Extract<Decision, { kind: 'outcome' }>;
        try {
          await deps.idempotency.decide(
            q.group.key,
            { events: decision.events, ...(decision.ledger ? { ledger: decision.ledger } : {}) },
            now,
          );
          decisions.set(q.group.key, { ...decision, persisted: true });
        } catch (error) {
          deps.log.warn('could not record a zone outcome early; it is recorded with the batch', {
            key: q.group.key,
            error: String(error),
          });
        }
      }),
    );
  };
  let result: RequestsResult | undefined;
  try {
    // The deadline stops zones from starting when they (and the zone ahead of them) could not end
    // in time, and every wait at it: requests of zones not started come back as retryable failures
    // and are handed back; a started zone ends applied or failed.
    result = await deps.applyRequests(
      current.map((q) => q.request),
      {
        ...deps.applyOptions,
        ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
        onZoneDone,
      },
    );
  } catch (error) {
    deps.log.error('applying the batch failed; its requests will be retried', { error: String(error) });
  }
  const now = deps.clock.now();
  const outcomes = result ? outcomesByRequest(result.report) : new Map<string, OutcomeFacts>();
  const zoneEvents = result ? zoneAppliedEvents(result.report, now) : [];
  for (const q of current) {
    if (decisions.get(q.group.key)?.kind === 'outcome') continue; // recorded when its zone ended
    const facts = outcomes.get(q.request.requestId);
    if (!facts || (facts.outcome === 'failed' && facts.retryable === true)) {
      decisions.set(q.group.key, {
        kind: 'unfinished',
        reason: facts?.message ?? 'the batch could not be applied',
        claimHeld: true,
        ...(facts ? { facts } : {}),
      });
      continue;
    }
    decisions.set(q.group.key, outcomeDecision(q, facts, zoneEvents, now));
  }
}

/** Phase 7: the outbox for every decision; the records to hand back. */
async function finishPhase(
  deps: ProcessDeps,
  groups: readonly Group[],
  decisions: Decisions,
): Promise<ProcessResult> {
  const outbound: Outbound[] = [];
  const fateOf = new Map<string, RecordFate>();
  const retryOf = new Map<string, number | undefined>();
  const releases: Promise<unknown>[] = [];
  for (const group of groups) {
    const decision = decisions.get(group.key) ?? { kind: 'duplicate' };
    const { receiveCount } = group.primary;
    switch (decision.kind) {
      case 'duplicate':
        fateOf.set(group.key, 'duplicate');
        break;
      case 'outcome':
        fateOf.set(group.key, decision.fate);
        outbound.push({
          key: group.key,
          events: decision.events,
          after: { kind: 'complete' },
          persist: decision.persisted !== true,
          ...(decision.ledger ? { ledger: decision.ledger } : {}),
        });
        break;
      case 'resume': {
        const first = decision.events.find((e) => 'outcome' in e.detail)?.detail as { outcome?: Outcome };
        fateOf.set(group.key, first?.outcome ?? 'duplicate');
        outbound.push({
          key: group.key,
          events: decision.events,
          after: { kind: 'complete' },
          persist: false,
          ...(decision.ledger ? { ledger: decision.ledger } : {}),
        });
        break;
      }
      case 'deferred':
        fateOf.set(group.key, 'deferred');
        outbound.push({
          key: group.key,
          events: decision.events,
          after: { kind: 'defer', until: decision.until },
          persist: false,
        });
        break;
      case 'unfinished': {
        if (unfinishedDisposition(receiveCount, deps.maxReceiveCount) === 'retry') {
          deps.log.warn('change request not finished; handing it back to the queue', {
            key: group.key,
            receiveCount,
            reason: decision.reason,
          });
          if (decision.claimHeld) releases.push(deps.idempotency.release(group.key).catch(() => undefined));
          fateOf.set(group.key, 'retry');
          retryOf.set(group.key, decision.delaySeconds ?? retryDelaySeconds(receiveCount));
          break;
        }
        // The last receive: audit it as failed, then let the queue move it to the dead-letter queue.
        const facts: OutcomeFacts = {
          ...(decision.facts ?? { ref: refFacts(group.primary.parsed) }),
          outcome: 'failed',
          code: 'dead-lettered',
          message: `gave up after ${receiveCount} attempts (the queue's last receive), the message goes to the dead-letter queue; redrive it to try again: ${decision.reason}`,
          retryable: true,
        };
        const request = requestOf(group.primary.parsed);
        if (request && facts.after === undefined) facts.after = toWire(request.stickiness);
        const after: AfterPublish = decision.claimHeld ? { kind: 'release' } : { kind: 'leave' };
        outbound.push({
          key: group.key,
          events: [audit(group, facts, deps.clock.now())],
          after,
          persist: false,
        });
        fateOf.set(group.key, 'dead-letter');
        retryOf.set(group.key, 0);
        break;
      }
    }
  }
  await Promise.all(releases);
  const { finished, published } =
    outbound.length > 0 ? await flushOutbox(deps, outbound) : { finished: new Map(), published: [] };
  for (const [key, state] of finished) {
    if (state === 'pending') {
      fateOf.set(key, 'audit-pending');
      retryOf.set(key, retryDelaySeconds(groups.find((g) => g.key === key)!.primary.receiveCount));
    }
  }

  const fates = new Map<string, RecordFate>();
  const retry: ProcessResult['retry'] = [];
  for (const group of groups) {
    const fate = fateOf.get(group.key)!;
    const again = retryOf.has(group.key);
    for (const record of [group.primary, ...group.copies]) {
      fates.set(record.recordId, record === group.primary ? fate : 'duplicate');
      if (again) {
        const delaySeconds = retryOf.get(group.key);
        retry.push({ recordId: record.recordId, ...(delaySeconds !== undefined ? { delaySeconds } : {}) });
      }
    }
  }
  return { retry, fates, published };
}

/** Builds the use case: `processChangeRequests(records, { signal })`. */
export function makeProcessChangeRequests(deps: ProcessDeps) {
  return async function processChangeRequests(
    records: readonly IncomingRecord[],
    options: ProcessOptions = {},
  ): Promise<ProcessResult> {
    const groups = [...groupRecords(records).values()];
    const decisions: Decisions = new Map();
    const claimed = await claimPhase(deps, groups, decisions);
    const { admitted, early } = admitPhase(deps, claimed, decisions);

    /**
     * Leases what it can of `wanted`, applies that, and finishes `finishing`, except (unless it is
     * the last round) the requests of load balancers still held elsewhere: those are returned for
     * another round. Every group given is finished by its last round, so none is ever dropped.
     */
    const round = async (
      wanted: readonly Admitted[],
      roundEarly: Parameters<typeof deferPhase>[1],
      finishing: readonly Group[],
      last: boolean,
    ) => {
      const { leased, lease } = await leasePhase(deps, wanted, options, decisions);
      const busy = wanted.filter((q) => !lease?.services.has(q.request.service));
      // Requests of load balancers another batch holds get a second round when this one applied
      // others meanwhile (that batch may be done by then); otherwise they are finished (handed back) now.
      const again = !last && lease !== undefined && leased.length > 0 && busy.length > 0 ? busy : [];
      const later = new Set(again.map((q) => q.group.key));
      try {
        const current = await orderPhase(deps, leased, decisions);
        await Promise.all([
          deferPhase(deps, roundEarly, decisions),
          applyPhase(deps, current, options, decisions),
        ]);
        // The outbox writes the farm-ledger entries: done before the leases go, so that the batch
        // that takes a load balancer next sees what this one carried out (else an older request of
        // its own, not yet known as superseded, could undo a newer one just applied or found unchanged).
        const result = await finishPhase(
          deps,
          finishing.filter((g) => !later.has(g.key)),
          decisions,
        );
        return { result, again };
      } finally {
        if (lease)
          await deps.leases.release(lease).catch((error: unknown) =>
            deps.log.warn('could not release service leases; they expire on their own', {
              error: String(error),
            }),
          );
      }
    };

    const first = await round(admitted, early, groups, false);
    let result = first.result;
    if (first.again.length > 0) {
      const keys = new Set(first.again.map((q) => q.group.key));
      const second = await round(
        first.again,
        [],
        groups.filter((g) => keys.has(g.key)),
        true,
      );
      result = {
        retry: [...result.retry, ...second.result.retry],
        fates: new Map([...result.fates, ...second.result.fates]),
        published: [...result.published, ...second.result.published],
      };
    }
    // Never acknowledge a record nothing decided: the queue delivers it again.
    for (const record of records) {
      if (result.fates.has(record.recordId)) continue;
      deps.log.error('a record was left without a fate; handing it back', { recordId: record.recordId });
      result.fates.set(record.recordId, 'retry');
      result.retry.push({ recordId: record.recordId });
    }
    // Keep the queue's order of records in the answer.
    const order = new Map(records.map((r, i) => [r.recordId, i]));
    result.retry.sort((a, b) => order.get(a.recordId)! - order.get(b.recordId)!);
    return result;
  };
}
