/**
 * The queue worker's use case: a batch of queued `Stickiness Change Requested` records in, one
 * terminal audit event per request out, and the records the queue must deliver again.
 *
 * Phases, each deciding for the requests it is given:
 * 1. claim: the first claim of a request id writes its acceptance time (its first SentTimestamp)
 *    and its content's hash; a request already completed (a redelivery, a redrive) emits nothing
 *    new; one decided earlier resumes publishing; one held elsewhere is unfinished; another
 *    content under an id already used is refused (`id-reused`), the first kept;
 * 2. admit: malformed, replayed, implausibly timed or closed-window requests are refused; one
 *    whose window has not opened is to be deferred; one whose window prefers its quietest slot
 *    is to be deferred to that slot, the first time it is seen (quietestPhase);
 * 3. lease: one invocation at a time per service; requests of a service another invocation
 *    holds are handed back with a short delay (after a bounded wait for a release);
 * 4. order: the request accepted last wins, in the batch and against the farm ledger, which is
 *    written before anything else happens (a request accepted earlier than the farm's newest is
 *    refused `superseded`); a request still waiting for its window that a newer one supersedes is
 *    ended `superseded` and its schedule deleted;
 * 5. defer: early requests are scheduled back onto the bus for when their window opens;
 * 6. apply: the rest together, one refresh per touched (service, zone);
 * 7. finish: the outbox records, publishes and completes, then the leases go; unfinished requests
 *    are handed back with a short growing delay, or, on the queue's last receive, audited as
 *    failed and left to go to the dead-letter queue. Nothing reaches the dead-letter queue without
 *    an audit event (unless the bus itself refuses it, which is logged).
 */

import type { OutgoingEvent, RequestOrigin, TrafficAtApply } from '../domain/audit-events';
import { farmRefOf } from '../domain/change-request';
import { errorFields } from '../domain/errors';
import type { ChangeRequestedDetail, Outcome } from '../domain/events';
import { ALL_ZONES } from '../domain/farm';
import type { Change } from '../domain/plan';
import {
  acceptedBefore,
  admit,
  DEFAULT_TIME_LIMITS,
  type FarmOrder,
  farmKeyOfRequest,
  type LedgerEntry,
  latestPerFarm,
  ledgerEntryOf,
  orderRequest,
  type QueuedRequest,
  retryDelaySeconds,
  type TimeLimits,
  unfinishedDisposition,
} from '../domain/request-rules';
import { toWire, toWord } from '../domain/stickiness';
import type { Clock } from '../ports/clock';
import type { DeferralScheduler } from '../ports/deferral-scheduler';
import type { EventPublisher } from '../ports/event-publisher';
import type { FarmLedger, VersionedOrder } from '../ports/farm-ledger';
import type { IdempotencyStore, ZoneInFlight } from '../ports/idempotency-store';
import { type LoadBalancerApi, REFRESH_TASK_ACTION, type Task } from '../ports/load-balancer-api';
import type { LoadBalancerTraffic } from '../ports/load-balancer-traffic';
import type { Log } from '../ports/log';
import type { Lease, ServiceLeases } from '../ports/service-leases';
import type { AppliedChange, ApplyOptions, Failure } from './apply-plan';
import type { RequestsResult } from './apply-requests';
import {
  auditDetail,
  auditEvent,
  type OutcomeFacts,
  outcomesByRequest,
  trafficAtApply,
  zoneAppliedEvents,
  zoneKey,
} from './audit';
import { type AfterPublish, flushOutbox, type Outbound, type OutboxResult } from './audit-outbox';
import { TICKETING_EVENT_SOURCE } from './handle-ticket-webhook';
import type { IncomingRecord, ParsedRequest } from './incoming-record';
import { groupsOf } from './request-groups';
import {
  type ChosenSlot,
  chooseSlots,
  rememberSlots,
  type SlotDeps,
  slotCompanions,
} from './zone-slot-choice';

export type { IncomingRecord } from './incoming-record';

export interface ProcessDeps {
  applyRequests: (
    requests: readonly ChangeRequestedDetail[],
    options?: ApplyOptions,
  ) => Promise<RequestsResult>;
  publisher: EventPublisher;
  idempotency: IdempotencyStore;
  /** Per farm, the newest request accepted that went to OVH or waits for its window. */
  ledger: FarmLedger;
  deferrals: DeferralScheduler;
  /**
   * To look up the refresh an invocation asked before it was cut (its zone noted as in flight):
   * the request then gets that refresh's real outcome. Without it, such a request is planned again.
   */
  refreshTasks?: Pick<LoadBalancerApi, 'listTasks' | 'getTask' | 'bounded'>;
  /**
   * The load balancers' traffic, read as each zone's refresh is asked and carried by its audit
   * events (applied outcomes, Zone Configuration Applied). Without it, they carry none.
   */
  traffic?: LoadBalancerTraffic;
  /**
   * Each zone's remembered quietest slot, and the farm reads that name a request's zone: a request
   * preferring the quietest time whose window holds its zone's slot joins it (one refresh for the
   * zone). Without it, each request chooses its own slot.
   */
  zoneSlots?: SlotDeps['zoneSlots'];
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
  /** How long the batch waited for load balancers another batch held (ms), for the metrics. */
  leaseWaitMs?: number;
}
/** One request of the batch: its first record and any copies of the same content delivered with it. */
interface Group {
  /** The idempotency key: the request id (or, for a refused reuse of an id, a key of its own). */
  key: string;
  /** The request id its audit events name. */
  requestId: string;
  primary: IncomingRecord;
  copies: IncomingRecord[];
  /** Set by its claim: when stickler first accepted the request, and whether a redrive follows a dead-letter. */
  acceptedAt?: Date;
  deadLettered?: boolean;
  /** Set by its claim when an earlier delivery was cut while refreshing the request's zone. */
  inFlight?: ZoneInFlight;
  /** Set by its claim when the request was deferred before: the time it was deferred to. */
  deferredUntil?: string;
}

/** What becomes of one request in this invocation. */
type Decision =
  /** Already completed, or a copy of a deferred request: nothing to do. */
  | { kind: 'duplicate' }
  /**
   * A final outcome, decided now (`persisted`: already stored as decided, when its zone ended;
   * `publishedEarly`: its events that went out then, `events` being what is left to publish).
   */
  | {
      kind: 'outcome';
      fate: Outcome;
      events: OutgoingEvent[];
      persisted?: boolean;
      publishedEarly?: OutgoingEvent[];
    }
  /** Decided by an earlier delivery; what it left to do. */
  | { kind: 'resume'; events: OutgoingEvent[] }
  /**
   * Ended with no new event: a redrive of a request already audited `Failed dead-lettered`, which
   * a newer request has superseded meanwhile (it gets no second terminal event).
   */
  | { kind: 'closed'; reason: string }
  /** Scheduled back onto the bus for when its window opens. */
  | { kind: 'deferred'; until: string; events: OutgoingEvent[]; ticket?: string }
  /** Not finished here: handed back, or dead-lettered on the last receive. */
  | { kind: 'unfinished'; reason: string; claimHeld: boolean; facts?: OutcomeFacts; delaySeconds?: number };

type Decisions = Map<string, Decision>;

const requestOf = (parsed: ParsedRequest): ChangeRequestedDetail | undefined =>
  parsed.ok ? parsed.request : undefined;
const originOf = (parsed: ParsedRequest): RequestOrigin | undefined => parsed.origin;
const contentHashOf = (parsed: ParsedRequest): string | undefined =>
  parsed.ok ? parsed.contentHash : undefined;

/** What is known of a request's farm, for an audit event. */
const refFacts = (parsed: ParsedRequest): OutcomeFacts['ref'] =>
  parsed.ok
    ? farmRefOf(parsed.request)
    : {
        ...(parsed.known.service !== undefined ? { service: parsed.known.service } : {}),
        ...(parsed.known.farmId !== undefined ? { farmId: parsed.known.farmId } : {}),
      };

function audit(
  group: Group,
  facts: OutcomeFacts,
  now: Date,
  extra: { deferredUntil?: string; variant?: string } = {},
): OutgoingEvent {
  const { parsed } = group.primary;
  const request = requestOf(parsed);
  const origin = originOf(parsed);
  const detail = auditDetail(
    {
      requestId: group.requestId,
      ...(request ? { request } : {}),
      ...(origin ? { origin } : {}),
      now,
      ...(extra.deferredUntil ? { deferredUntil: extra.deferredUntil } : {}),
      ...(extra.variant ? { variant: extra.variant } : {}),
    },
    facts,
  );
  if (!parsed.ok && parsed.known.ticket !== undefined) detail.ticket = parsed.known.ticket;
  return auditEvent(detail);
}

function refusal(group: Group, code: string, message: string, now: Date, variant?: string): Decision {
  const request = requestOf(group.primary.parsed);
  const facts: OutcomeFacts = {
    outcome: 'refused',
    ref: refFacts(group.primary.parsed),
    ...(request ? { after: toWire(request.stickiness) } : {}),
    code,
    message,
    retryable: false,
  };
  return {
    kind: 'outcome',
    fate: 'refused',
    events: [audit(group, facts, now, variant ? { variant } : {})],
  };
}

/**
 * Phase 0: one group per request id and content; copies of a record in the same batch share its
 * fate. Two contents under one id make two groups: their claims tell which came first.
 */
function groupRecords(records: readonly IncomingRecord[]): Group[] {
  const groups = new Map<string, Group>();
  for (const record of records) {
    const id = `${record.parsed.key}\n${contentHashOf(record.parsed) ?? ''}`;
    const existing = groups.get(id);
    if (existing) existing.copies.push(record);
    else
      groups.set(id, { key: record.parsed.key, requestId: record.parsed.key, primary: record, copies: [] });
  }
  return [...groups.values()];
}

/** A short form of a content hash, for messages and keys. */
const short = (hash: string) => hash.slice(0, 16);

/** The refusal of another content under a request id already used, the first content kept. */
function reusedIdRefusal(
  group: Group,
  hash: string | undefined,
  reuse: { firstHash: string; firstAcceptedAt?: Date },
  now: Date,
): Decision {
  return refusal(
    group,
    'id-reused',
    `refused: request id ${group.requestId} was first used for other content (content ${short(reuse.firstHash)}${reuse.firstAcceptedAt ? `, accepted ${reuse.firstAcceptedAt.toISOString()}` : ''}); this content (${short(hash ?? '')}) is not carried out, and the first request stays as it was. A new intent needs a new requestId`,
    now,
    `id-reused:${short(hash ?? '')}`,
  );
}

/**
 * A copy published again before the window opens is a duplicate: the scheduled re-publication
 * carries the request out. One arriving just before `until` (a schedule firing a little early)
 * waits for it.
 */
function deferredCopy(until: string, now: Date): Decision {
  const wait = Date.parse(until) - now.getTime();
  return wait > 0 && wait <= 120_000
    ? {
        kind: 'unfinished',
        reason: `its change window opens at ${until}`,
        claimHeld: false,
        delaySeconds: Math.ceil(wait / 1000),
      }
    : { kind: 'duplicate' };
}

/**
 * Claims one group's key: undefined when this invocation now holds it (the claim's facts are set
 * on the group), else the group's decision. `reuse` when the group is the refusal of a reused id
 * (a key of its own).
 */
async function claimGroup(
  deps: ProcessDeps,
  group: Group,
  reuse?: { firstHash: string; firstAcceptedAt?: Date },
): Promise<Decision | undefined> {
  const now = deps.clock.now();
  const hash = contentHashOf(group.primary.parsed);
  try {
    const parsed = group.primary.parsed;
    const groups = parsed.ok && !reuse ? groupsOf(parsed.request, parsed.origin.source) : [];
    const claim = await deps.idempotency.claim(group.key, now, deps.claimHoldMs, {
      ...(hash ? { contentHash: hash } : {}),
      sentAt: group.primary.sentAt,
      ...(groups.length > 0 ? { groups } : {}),
    });
    switch (claim.state) {
      case 'claimed':
        if (reuse) return reusedIdRefusal(group, hash, reuse, now);
        group.acceptedAt = claim.acceptedAt;
        group.deadLettered = claim.deadLettered;
        if (claim.inFlight) group.inFlight = claim.inFlight;
        if (claim.deferredUntil) group.deferredUntil = claim.deferredUntil;
        return undefined;
      case 'reused':
        if (reuse || !hash) return { kind: 'duplicate' };
        // The refusal has a record of its own, so that a redelivery of this copy is not audited twice.
        group.key = `reused:${short(hash)}:${group.requestId}`;
        return await claimGroup(deps, group, {
          firstHash: claim.contentHash,
          ...(claim.acceptedAt ? { firstAcceptedAt: claim.acceptedAt } : {}),
        });
      case 'completed':
        return { kind: 'duplicate' };
      case 'decided':
        return { kind: 'resume', events: claim.events };
      case 'deferred':
        return deferredCopy(claim.until, now);
      case 'in-progress':
        return { kind: 'unfinished', reason: 'another invocation was working on it', claimHeld: false };
    }
  } catch (error) {
    deps.log.error('idempotency claim failed; the record will be retried', {
      key: group.key,
      error: errorFields(error),
    });
    return {
      kind: 'unfinished',
      reason: `its idempotency record could not be claimed: ${String(error)}`,
      claimHeld: false,
    };
  }
}

/**
 * Phase 1: claims every key. Groups of one id (other contents) are claimed one after another in
 * the order the queue received them, so the first content is the one kept.
 */
async function claimPhase(
  deps: ProcessDeps,
  groups: readonly Group[],
  decisions: Decisions,
): Promise<Group[]> {
  const claimed: Group[] = [];
  const byId = new Map<string, Group[]>();
  for (const g of groups) byId.set(g.key, [...(byId.get(g.key) ?? []), g]);
  await Promise.all(
    [...byId.values()].map(async (same) => {
      const ordered = [...same].sort((a, b) => a.primary.sentAt.getTime() - b.primary.sentAt.getTime());
      for (const group of ordered) {
        const decision = await claimGroup(deps, group);
        if (decision) decisions.set(group.key, decision);
        else claimed.push(group);
      }
    }),
  );
  return claimed;
}

/** A refresh created this long before the note was taken may still be the one (clocks drift). */
const CLOCK_SLACK_MS = 5_000;
/** How many of the load balancer's latest refresh tasks are looked at for the one asked. */
const TASKS_TO_LOOK_AT = 20;

/** The refresh task asked for the zone noted in flight (the first created since), if one is found. */
async function findRefresh(
  api: Pick<LoadBalancerApi, 'listTasks' | 'getTask'>,
  inFlight: ZoneInFlight,
): Promise<Task | undefined> {
  const ids = (await api.listTasks(inFlight.service, { action: REFRESH_TASK_ACTION }))
    .sort((a, b) => b - a)
    .slice(0, TASKS_TO_LOOK_AT);
  const since = Date.parse(inFlight.askedAt) - CLOCK_SLACK_MS;
  const tasks = await Promise.all(ids.map((id) => api.getTask(inFlight.service, id)));
  return tasks
    .filter(
      (t) =>
        Date.parse(t.creationDate) >= since &&
        (t.zones.length === 0 || t.zones.includes(inFlight.zone) || t.zones.includes('all')),
    )
    .sort((a, b) => a.id - b.id)[0];
}

/**
 * The traffic a refresh asked by a cut invocation cut: the load balancer's rates over the 5
 * minutes before it was asked, read now (as for any applied zone, never blocking the outcome
 * longer than the adapter's timeouts). Undefined without a traffic port.
 */
const trafficWhenAsked = (
  deps: Pick<ProcessDeps, 'traffic'>,
  inFlight: ZoneInFlight,
): Promise<TrafficAtApply | undefined> =>
  deps.traffic
    ? deps.traffic
        .read(inFlight.service, new Date(inFlight.askedAt), { history: false })
        .then(trafficAtApply, () => ({ known: false as const, reason: 'the traffic could not be read' }))
    : Promise.resolve(undefined);

/**
 * Phase 1b: a request whose earlier delivery was cut while refreshing its zone gets that
 * refresh's real outcome (applied, or failed with what to run), instead of being planned again
 * and found "unchanged"; one still refreshing is handed back for a moment. When the refresh cannot
 * be found or looked at, the request goes on as usual.
 */
async function settlePhase(
  deps: ProcessDeps,
  claimed: readonly Group[],
  options: ProcessOptions,
  decisions: Decisions,
): Promise<Group[]> {
  const rest: Group[] = [];
  const lookup =
    deps.refreshTasks && options.deadline !== undefined && deps.refreshTasks.bounded
      ? deps.refreshTasks.bounded(options.deadline)
      : deps.refreshTasks;
  await Promise.all(
    claimed.map(async (group) => {
      const { inFlight } = group;
      const request = requestOf(group.primary.parsed);
      if (!inFlight || !lookup || !request) {
        rest.push(group);
        return;
      }
      let task: Task | undefined;
      try {
        task = await findRefresh(lookup, inFlight);
      } catch (error) {
        deps.log.warn('could not look up the refresh of a zone cut in flight; the request is planned again', {
          key: group.key,
          error: errorFields(error),
        });
      }
      if (!task) {
        rest.push(group);
        return;
      }
      const now = deps.clock.now();
      const base: OutcomeFacts = {
        outcome: 'applied',
        ref: farmRefOf(request),
        before: toWire(inFlight.before),
        after: toWire(inFlight.after),
        refresh: {
          service: inFlight.service,
          zone: inFlight.zone,
          taskId: task.id,
          status: task.status,
          changes: 1,
          ...(task.doneDate ? { finishedAt: task.doneDate } : {}),
        },
      };
      if (task.status === 'done') {
        const traffic = await trafficWhenAsked(deps, inFlight);
        const facts = traffic ? { ...base, traffic } : base;
        decisions.set(group.key, { kind: 'outcome', fate: 'applied', events: [audit(group, facts, now)] });
        return;
      }
      if (task.status === 'todo' || task.status === 'doing') {
        await deps.idempotency.note(group.key, inFlight, now).catch(() => undefined);
        decisions.set(group.key, {
          kind: 'unfinished',
          reason: `the refresh of zone ${inFlight.zone} asked by an earlier delivery (task ${task.id}) is still running`,
          claimHeld: true,
          delaySeconds: 5,
        });
        return;
      }
      const facts: OutcomeFacts = {
        ...base,
        outcome: 'failed',
        code: 'refresh-failed',
        retryable: false,
        message: `stored but not applied in zone ${inFlight.zone} of ${inFlight.service}: the invocation was cut while its refresh ran, and that refresh (task ${task.id}) ended ${task.status}; once the cause is fixed, apply it with 'stickler refresh ${inFlight.service} ${inFlight.zone}'`,
      };
      decisions.set(group.key, { kind: 'outcome', fate: 'failed', events: [audit(group, facts, now)] });
    }),
  );
  return rest;
}

interface Admitted extends QueuedRequest {
  group: Group;
}

/** Phase 2: refuses what can never be carried out, sets aside what must wait for its window. */
function admitPhase(deps: ProcessDeps, claimed: readonly Group[], decisions: Decisions) {
  const admitted: Admitted[] = [];
  const early: Early[] = [];
  for (const group of claimed) {
    const { parsed } = group.primary;
    const now = deps.clock.now();
    if (!parsed.ok) {
      decisions.set(group.key, refusal(group, parsed.code, parsed.message, now));
      continue;
    }
    const queued: Admitted = {
      request: parsed.request,
      acceptedAt: group.acceptedAt ?? group.primary.sentAt,
      group,
    };
    const admission = admit(queued, now, deps.timeLimits ?? DEFAULT_TIME_LIMITS);
    if (admission.kind === 'refuse') {
      decisions.set(group.key, refusal(group, admission.code, `refused: ${admission.message}`, now));
    } else if (admission.kind === 'defer') early.push({ ...queued, until: admission.until });
    else admitted.push(queued);
  }
  return { admitted, early };
}

/** A request to be deferred until its window opens (or its quietest slot, when it prefers it). */
interface Early extends Admitted {
  until: string;
  quietest?: ChosenSlot;
}

const prefersQuietest = (q: Admitted) =>
  q.request.window?.prefer === 'quietest' &&
  q.request.window.notAfter !== undefined &&
  q.group.deferredUntil === undefined;

/**
 * Phase 2b: a request whose window says `prefer: quietest`, and that was never deferred, is
 * deferred to the start of the quietest 5 minutes of its window (from now, or from notBefore) by
 * its load balancer's last 7 days of traffic, or to the slot already chosen for its zone when its
 * window holds it (chooseSlots). One deferred before has reached its slot (a schedule fires at
 * the slot's start) and goes on. Without metrics, or without a traffic port, it goes on as any
 * request does: at once, or when its window opens. Requests of one zone in one slot come back,
 * and are applied, together.
 */
async function quietestPhase(
  deps: ProcessDeps,
  admitted: readonly Admitted[],
  early: readonly Early[],
): Promise<{ admitted: Admitted[]; early: Early[] }> {
  const candidates = [...admitted, ...early].filter(prefersQuietest);
  if (!deps.traffic || candidates.length === 0) return { admitted: [...admitted], early: [...early] };
  const now = deps.clock.now();
  const slots = await slotsOf(deps, deps.traffic, candidates, now);
  const out = { admitted: [] as Admitted[], early: [] as Early[] };
  for (const q of admitted) {
    const slot = slots.get(q);
    if (slot && slot.at > now.getTime() + NEAR_WINDOW_MS)
      out.early.push({ ...q, until: new Date(slot.at).toISOString(), quietest: slot });
    else out.admitted.push(q);
  }
  for (const e of early) {
    const slot = slots.get(e);
    out.early.push(
      // A window whose quietest slot is its opening is deferred to it as to its slot (remembered for its zone).
      slot && slot.at >= Date.parse(e.until)
        ? { ...e, until: new Date(slot.at).toISOString(), quietest: slot }
        : e,
    );
  }
  return out;
}

/**
 * The slots of the candidates, each searched in its window cut to what the worker can reach: a
 * slot must start early enough for the request, put back on the bus then, to wait out the queue's
 * batching window and still be written before notAfter (the margin admission asks of every
 * window): a slot in the window's last seconds would be refused outside-window.
 */
const slotsOf = (
  deps: ProcessDeps,
  traffic: LoadBalancerTraffic,
  candidates: readonly Admitted[],
  now: Date,
) => {
  const margin = (deps.timeLimits ?? DEFAULT_TIME_LIMITS).minWindowMs ?? 0;
  const windowOf = (q: Admitted) => {
    const { notBefore, notAfter } = q.request.window!;
    return {
      start: Math.max(now.getTime(), notBefore ? Date.parse(notBefore) : now.getTime()),
      end: Date.parse(notAfter!) - margin,
    };
  };
  return chooseSlots(deps, traffic, candidates, windowOf, now.getTime() + NEAR_WINDOW_MS, now);
};

/**
 * Phase 3: takes the lease of every service the admitted requests touch; requests of a service
 * another invocation holds go back to the queue (the holder may be writing that service's zones).
 */
async function leasePhase(
  deps: ProcessDeps,
  admitted: readonly Admitted[],
  options: ProcessOptions,
  decisions: Decisions,
): Promise<{ leased: Admitted[]; lease?: Lease; waitedMs: number }> {
  if (admitted.length === 0) return { leased: [], waitedMs: 0 };
  const startedAt = deps.clock.now().getTime();
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
    deps.log.error('could not take service leases; the requests will be retried', {
      error: errorFields(error),
    });
    why = `its load balancer's lease could not be taken: ${String(error)}`;
  }
  const leased: Admitted[] = [];
  for (const q of admitted) {
    if (lease?.services.has(q.request.service)) leased.push(q);
    else decisions.set(q.group.key, { kind: 'unfinished', reason: why, claimHeld: true });
  }
  return { leased, ...(lease ? { lease } : {}), waitedMs: deps.clock.now().getTime() - startedAt };
}

/** Phase 4: the latest request per farm wins, in the batch and against the farm ledger. */

/** A request waiting for its window that a newer one supersedes: ended now, its schedule deleted. */
interface SupersededDeferral {
  waiting: LedgerEntry & { until: string };
  by: LedgerEntry;
  /** The newer one waits for its own window. */
  byWaiting: boolean;
}

/** A deferred request ended while it waited: its outcome to publish, and its schedule's time. */
interface EndedDeferral {
  item: Outbound;
  until: string;
}

/** How many times a farm's order is read again when another writer moved it meanwhile. */
const ORDER_ATTEMPTS = 3;

const describeNewer = (by: LedgerEntry, waiting: boolean) =>
  `request ${by.requestId} (accepted ${by.acceptedAt})${waiting ? ', which waits for its change window' : ', already carried out or being carried out for this farm'}`;

/**
 * Phase 4: the request accepted last wins. In the batch, the latest request per farm to carry out
 * now and the latest to defer are kept; then, per farm and in acceptance order, each against the
 * farm ledger (lib/domain/request-rules.ts orderRequest), whose new order is written before any
 * write to OVH or any schedule. A request accepted earlier than the farm's newest is refused
 * `superseded`; a redrive already audited dead-lettered is ended without a second event.
 */
async function orderPhase(
  deps: ProcessDeps,
  now: readonly Admitted[],
  later: readonly Early[],
  decisions: Decisions,
): Promise<{ current: Admitted[]; deferring: Early[]; cancels: SupersededDeferral[] }> {
  const out = { current: [] as Admitted[], deferring: [] as Early[], cancels: [] as SupersededDeferral[] };
  if (now.length + later.length === 0) return out;
  const supersede = (q: Admitted, by: LedgerEntry, why: string) => {
    if (q.group.deadLettered) {
      deps.log.info('a redriven request was superseded meanwhile; it already had its dead-lettered event', {
        key: q.group.key,
        by: by.requestId,
      });
      decisions.set(q.group.key, { kind: 'closed', reason: `superseded by ${by.requestId}` });
      return;
    }
    decisions.set(q.group.key, refusal(q.group, 'superseded', `superseded by ${why}`, deps.clock.now()));
  };
  const inBatch = (list: readonly Admitted[]) => {
    const { kept, superseded } = latestPerFarm(list);
    for (const { queued, by } of superseded)
      supersede(
        queued,
        ledgerEntryOf(by),
        `request ${by.request.requestId} for the same farm (accepted later, in the same batch)`,
      );
    return kept;
  };
  const byFarm = new Map<string, Admitted[]>();
  for (const q of [...inBatch(now), ...inBatch(later)])
    byFarm.set(farmKeyOfRequest(q.request), [...(byFarm.get(farmKeyOfRequest(q.request)) ?? []), q]);

  const unfinished = (list: readonly Admitted[], reason: string) => {
    for (const q of list) decisions.set(q.group.key, { kind: 'unfinished', reason, claimHeld: true });
  };
  let stored: Map<string, VersionedOrder>;
  try {
    stored = await deps.ledger.read([...byFarm.keys()]);
  } catch (error) {
    deps.log.error('could not read the farm ledger; the requests will be retried', {
      error: errorFields(error),
    });
    unfinished([...byFarm.values()].flat(), `the farm ledger could not be read: ${String(error)}`);
    return out;
  }
  await Promise.all(
    [...byFarm].map(async ([farm, requests]) => {
      const sorted = [...requests].sort((a, b) =>
        acceptedBefore(ledgerEntryOf(a), ledgerEntryOf(b)) ? -1 : 1,
      );
      for (let attempt = 1; ; attempt++) {
        const base = stored.get(farm) ?? { order: {}, version: 0 };
        let order: FarmOrder = base.order;
        const going: Admitted[] = [];
        const gone = new Map<Admitted, { by: LedgerEntry; waiting: boolean }>();
        const cancels: SupersededDeferral[] = [];
        for (const q of sorted) {
          const entry = ledgerEntryOf(q);
          const verdict = orderRequest(order, entry, (q as Partial<Early>).until, q.request.ifStoresAt);
          if (verdict.kind === 'superseded') {
            gone.set(q, { by: verdict.by, waiting: verdict.waiting });
            continue;
          }
          order = verdict.next;
          going.push(q);
          if (!verdict.cancels) continue;
          const mine = going.find((g) => g.request.requestId === verdict.cancels!.requestId);
          if (mine) {
            going.splice(going.indexOf(mine), 1);
            gone.set(mine, { by: entry, waiting: (q as Partial<Early>).until !== undefined });
          } else
            cancels.push({
              waiting: verdict.cancels,
              by: entry,
              byWaiting: (q as Partial<Early>).until !== undefined,
            });
        }
        let written = going.length === 0;
        if (!written) {
          try {
            written = await deps.ledger.write(farm, order, base.version, deps.clock.now());
            if (!written) {
              if (attempt >= ORDER_ATTEMPTS) {
                unfinished(requests, 'the farm ledger kept changing under this batch');
                return;
              }
              const again = await deps.ledger.read([farm]);
              stored.set(farm, again.get(farm) ?? { order: {}, version: 0 });
              continue;
            }
          } catch (error) {
            deps.log.error('could not write the farm ledger; the requests will be retried', {
              farm,
              error: errorFields(error),
            });
            unfinished(requests, `the farm ledger could not be written: ${String(error)}`);
            return;
          }
        }
        for (const [q, { by, waiting }] of gone) supersede(q, by, describeNewer(by, waiting));
        for (const q of going) {
          if ((q as Partial<Early>).until !== undefined) out.deferring.push(q as Early);
          else out.current.push(q);
        }
        out.cancels.push(...cancels);
        return;
      }
    }),
  );
  return out;
}

/**
 * Ends the stored deferrals a newer request superseded: each still deferred gets its `Refused
 * superseded` (stored with it first, so that its schedule, if it fires anyway, only publishes it),
 * to go out with the batch's outbox; its schedule is deleted once the event is out.
 */
async function supersededDeferrals(
  deps: ProcessDeps,
  cancels: readonly SupersededDeferral[],
): Promise<EndedDeferral[]> {
  const items = await Promise.all(
    cancels.map(async ({ waiting, by, byWaiting }): Promise<EndedDeferral | undefined> => {
      try {
        const stored = await deps.idempotency.deferred(waiting.requestId);
        if (!stored) return undefined; // its window opened meanwhile: the ledger refuses it then
        const now = deps.clock.now();
        const event = auditEvent(
          auditDetail(
            {
              requestId: waiting.requestId,
              request: stored.request,
              ...(stored.origin ? { origin: stored.origin } : {}),
              now,
            },
            {
              outcome: 'refused',
              ref: farmRefOf(stored.request),
              after: toWire(stored.request.stickiness),
              code: 'superseded',
              message: `superseded by ${describeNewer(by, byWaiting)}, while this one waited for its own change window (${stored.until}): it will not be carried out`,
              retryable: false,
            },
          ),
        );
        if (!(await deps.idempotency.closeDeferred(waiting.requestId, [event], now))) return undefined;
        return {
          item: { key: waiting.requestId, events: [event], after: { kind: 'complete' }, persist: false },
          until: stored.until,
        };
      } catch (error) {
        deps.log.warn('could not end a superseded deferral now; the farm ledger refuses it when it fires', {
          requestId: waiting.requestId,
          error: errorFields(error),
        });
        return undefined;
      }
    }),
  );
  return items.filter((i): i is EndedDeferral => i !== undefined);
}

/**
 * A window opening sooner than this is waited for in the queue (a record delay), not scheduled:
 * a schedule must be created while its time is still ahead.
 */
const NEAR_WINDOW_MS = 5_000;

/** The ticket a deferred request is listed under, so that the ticket's withdrawal can cancel it. */
const ticketIndexOf = (
  request: ChangeRequestedDetail,
  origin: RequestOrigin | undefined,
): string | undefined =>
  origin?.source === TICKETING_EVENT_SOURCE && request.notify?.kind === 'ticket' && request.ticket
    ? `${request.notify.system}:${request.ticket}`
    : undefined;

/** Whose slot a request joined: its zone's, zone `all`'s (whose refresh covers its zone), or a zone's its `all` farm covers. */
const joinedWhere = (quietest: ChosenSlot): string => {
  const { joinedZone, farmZone } = quietest;
  if (joinedZone === undefined || joinedZone === farmZone) return `its zone ${joinedZone ?? quietest.zone}`;
  if (joinedZone === ALL_ZONES)
    return `zone all of its load balancer (whose refresh covers every zone, its zone ${farmZone} too)`;
  if (farmZone === ALL_ZONES)
    return `zone ${joinedZone} of its load balancer (its farm is in zone all, whose refresh covers that zone too)`;
  return `zone ${joinedZone} of its load balancer (with a farm of zone all among this batch's requests, one refresh of zone all carries them, its zone ${farmZone} too)`;
};

/** What a `Deferred` event says: when, and, for a slot, how it was chosen and the rate expected. */
const deferralMessage = (until: string, quietest: ChosenSlot | undefined): string => {
  const then =
    'it will be carried out then (same requestId), and its outcome reported then, unless a newer request for the farm or a cancel comes first';
  if (!quietest) return `deferred: its change window opens at ${until}; ${then}`;
  const rate = `(typically ${Math.round(quietest.typicalRate * 10) / 10} requests/s)`;
  const traffic = "by the load balancer's last 7 days of traffic";
  switch (quietest.joined) {
    case 'zone':
      return `deferred to the slot already chosen for ${joinedWhere(quietest)} (the quietest 5 minutes of an earlier request's window ${traffic}, chosen at ${quietest.chosenAt}), which its own change window holds, so that the zone is refreshed once: ${until} ${rate}; ${then}`;
    case 'batch':
      return `deferred to the quietest 5 minutes its change window shares with other requests for ${
        quietest.zone === ALL_ZONES && quietest.farmZone !== ALL_ZONES
          ? `its load balancer (with a farm of zone all, whose refresh covers every zone, its zone ${quietest.farmZone} too)`
          : `its zone ${quietest.zone}`
      }, ${traffic}, so that the zone is refreshed once: ${until} ${rate}; ${then}`;
    default:
      return `deferred to the quietest 5 minutes of its change window ${traffic}: ${until} ${rate}; ${then}`;
  }
};

/** Phase 5: schedules early requests back onto the bus for when their window opens. */
async function deferPhase(deps: ProcessDeps, early: readonly Early[], decisions: Decisions): Promise<void> {
  await Promise.all(
    early.map(async ({ group, request, until, quietest }) => {
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
        code: quietest ? 'quietest-slot' : 'window-not-open',
        message: deferralMessage(until, quietest),
        ...(quietest
          ? {
              quietest: {
                at: until,
                typicalRequestsPerSecond: quietest.typicalRate,
                ...(quietest.joined ? { joined: quietest.joined } : {}),
              },
            }
          : {}),
      };
      const ticket = ticketIndexOf(request, group.primary.parsed.origin);
      decisions.set(group.key, {
        kind: 'deferred',
        until,
        events: [audit(group, facts, deps.clock.now(), { deferredUntil: until })],
        ...(ticket ? { ticket } : {}),
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
): Extract<Decision, { kind: 'outcome' }> {
  const events = [audit(q.group, facts, now)];
  // A zone event travels with the first request it carried.
  for (const z of zoneEvents) {
    if ((z.detail as { requestIds: string[] }).requestIds[0] === q.request.requestId) events.push(z);
  }
  return { kind: 'outcome', fate: facts.outcome as Outcome, events };
}

type TrafficOf = (service: string, zone: string) => TrafficAtApply | undefined;

/**
 * Traffic read once per (service, zone) as its refresh is asked, never awaited there (a refresh
 * never waits for metrics), and awaited when the zone's outcomes are written: by then the read has
 * usually ended (a refresh task takes seconds); the adapter's timeouts bound it otherwise.
 */
function zoneTraffic(deps: Pick<ProcessDeps, 'traffic' | 'clock'>) {
  const reads = new Map<string, Promise<TrafficAtApply>>();
  return {
    start(service: string, zone: string): void {
      const key = zoneKey(service, zone);
      if (!deps.traffic || reads.has(key)) return;
      reads.set(
        key,
        deps.traffic.read(service, deps.clock.now(), { history: false }).then(trafficAtApply, () => ({
          known: false as const,
          reason: 'the traffic could not be read',
        })),
      );
    },
    async of(applied: readonly AppliedChange[]): Promise<TrafficOf> {
      const keys = [...new Set(applied.map((a) => zoneKey(a.refresh.service, a.refresh.zone)))];
      const known = new Map<string, TrafficAtApply>();
      await Promise.all(
        keys.map(async (key) => {
          const read = reads.get(key);
          if (read) known.set(key, await read);
        }),
      );
      return (service, zone) => known.get(zoneKey(service, zone));
    },
  };
}

/** Applied outcomes with the traffic their zone carried as it was applied. */
const withTraffic = (facts: Map<string, OutcomeFacts>, trafficOf: TrafficOf): Map<string, OutcomeFacts> => {
  for (const f of facts.values()) {
    const traffic =
      f.outcome === 'applied' && f.refresh ? trafficOf(f.refresh.service, f.refresh.zone) : undefined;
    if (traffic) f.traffic = traffic;
  }
  return facts;
};

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
  const traffic = zoneTraffic(deps);
  const onZoneDone = async (zone: { applied: AppliedChange[]; failed: Failure[] }) => {
    const trafficOf = await traffic.of(zone.applied);
    const now = deps.clock.now();
    const facts = withTraffic(
      outcomesByRequest({
        applied: zone.applied,
        unchanged: [],
        refused: [],
        // A retryable failure is not an outcome: the request is handed back with the batch.
        failed: zone.failed.filter((f) => !f.retryable),
        refreshes: [],
      }),
      trafficOf,
    );
    const zoneEvents = zoneAppliedEvents(zone, now, trafficOf);
    await Promise.all(
      [...facts].map(async ([requestId, f]) => {
        const q = byId.get(requestId);
        if (!q) return;
        const decision = outcomeDecision(q, f, zoneEvents, now);
        try {
          await deps.idempotency.decide(q.group.key, { events: decision.events }, now);
        } catch (error) {
          deps.log.warn('could not record a zone outcome early; it is recorded with the batch', {
            key: q.group.key,
            error: errorFields(error),
          });
          return;
        }
        // Stored, then published at once: a zone's audit goes out as the zone ends, not with the batch.
        const { failed } = await deps.publisher
          .publish(decision.events)
          .catch(() => ({ failed: decision.events }));
        const unsent = decision.events.filter((e) => failed.some((x) => x.dedupeKey === e.dedupeKey));
        const sent = decision.events.filter((e) => !unsent.includes(e));
        if (sent.length > 0)
          await (unsent.length === 0
            ? deps.idempotency.complete(q.group.key, deps.clock.now())
            : deps.idempotency.decide(q.group.key, { events: unsent }, deps.clock.now())
          ).catch(() => undefined);
        decisions.set(q.group.key, { ...decision, events: unsent, persisted: true, publishedEarly: sent });
      }),
    );
  };
  // Noted before each refresh is asked: a delivery after a kill then looks the refresh up.
  const onZoneRefreshing = async (zone: {
    service: string;
    zone: string;
    changes: Change[];
    askedAt: string;
  }) => {
    traffic.start(zone.service, zone.zone);
    await Promise.all(
      zone.changes.map(async (change) => {
        const q = change.origin.kind === 'request' ? byId.get(change.origin.requestId) : undefined;
        if (!q) return;
        await deps.idempotency
          .note(
            q.group.key,
            {
              service: zone.service,
              zone: zone.zone,
              before: toWord(change.from),
              after: toWord(change.to),
              displayName: change.farm.displayName,
              askedAt: zone.askedAt,
            },
            deps.clock.now(),
          )
          .catch((error: unknown) =>
            deps.log.warn('could not note the zone about to be refreshed', {
              key: q.group.key,
              error: errorFields(error),
            }),
          );
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
        onZoneRefreshing,
      },
    );
  } catch (error) {
    deps.log.error('applying the batch failed; its requests will be retried', { error: errorFields(error) });
  }
  const trafficOf = await traffic.of(result?.report.applied ?? []);
  const now = deps.clock.now();
  const outcomes = result
    ? withTraffic(outcomesByRequest(result.report), trafficOf)
    : new Map<string, OutcomeFacts>();
  const zoneEvents = result ? zoneAppliedEvents(result.report, now, trafficOf) : [];
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

/**
 * What finishing one group's decision means: its fate, its outbox item, and, when its records go
 * back to the queue, after how long (`delaySeconds` undefined: the queue's own timeout).
 */
interface Finish {
  fate: RecordFate;
  item?: Outbound;
  retry?: { delaySeconds: number | undefined };
  /** Its claim is to be released before it is handed back. */
  release?: boolean;
}

/**
 * An unfinished request: handed back to the queue, or, on its last receive, audited as failed and
 * left to go to the dead-letter queue.
 */
function unfinishedFinish(
  deps: ProcessDeps,
  group: Group,
  decision: Extract<Decision, { kind: 'unfinished' }>,
): Finish {
  const { receiveCount } = group.primary;
  if (unfinishedDisposition(receiveCount, deps.maxReceiveCount) === 'retry') {
    deps.log.warn('change request not finished; handing it back to the queue', {
      key: group.key,
      receiveCount,
      reason: decision.reason,
    });
    return {
      fate: 'retry',
      retry: { delaySeconds: decision.delaySeconds ?? retryDelaySeconds(receiveCount) },
      ...(decision.claimHeld ? { release: true } : {}),
    };
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
  const after: AfterPublish = decision.claimHeld ? { kind: 'dead-letter' } : { kind: 'leave' };
  return {
    fate: 'dead-letter',
    item: { key: group.key, events: [audit(group, facts, deps.clock.now())], after, persist: false },
    retry: { delaySeconds: 0 },
  };
}

/** One group's decision as its fate and outbox item. */
function finishOf(deps: ProcessDeps, group: Group, decision: Decision): Finish {
  const complete = { kind: 'complete' } as const;
  switch (decision.kind) {
    case 'duplicate':
      return { fate: 'duplicate' };
    case 'closed':
      return { fate: 'duplicate', item: { key: group.key, events: [], after: complete, persist: false } };
    case 'outcome':
      return {
        fate: decision.fate,
        item: {
          key: group.key,
          events: decision.events,
          after: complete,
          persist: decision.persisted !== true,
        },
      };
    case 'resume': {
      const first = decision.events.find((e) => 'outcome' in e.detail)?.detail as { outcome?: Outcome };
      return {
        fate: first?.outcome ?? 'duplicate',
        item: { key: group.key, events: decision.events, after: complete, persist: false },
      };
    }
    case 'deferred': {
      const request = requestOf(group.primary.parsed)!;
      const waiting = {
        request,
        origin: originOf(group.primary.parsed) ?? null,
        ...(decision.ticket ? { ticket: decision.ticket } : {}),
      };
      return {
        fate: 'deferred',
        item: {
          key: group.key,
          events: decision.events,
          after: { kind: 'defer', until: decision.until, waiting },
          persist: false,
        },
      };
    }
    case 'unfinished':
      return unfinishedFinish(deps, group, decision);
  }
}

/**
 * A superseded deferral whose event went out: its schedule is not needed any more (if deleting it
 * fails, it fires and finds its request ended). One whose event did not go out keeps its
 * schedule, which publishes the event when it fires.
 */
async function deleteEndedSchedules(
  deps: ProcessDeps,
  ended: readonly EndedDeferral[],
  finished: OutboxResult['finished'],
): Promise<void> {
  await Promise.all(
    ended
      .filter(({ item }) => finished.get(item.key) === 'done')
      .map(({ item, until }) =>
        deps.deferrals.cancel({ requestId: item.key, until }).catch((error: unknown) =>
          deps.log.warn('could not delete the schedule of an ended deferral; it fires and changes nothing', {
            requestId: item.key,
            error: errorFields(error),
          }),
        ),
      ),
  );
}

/** Each record's fate (a copy's: duplicate), and the records to hand back, group by group. */
function recordFates(
  groups: readonly Group[],
  fateOf: ReadonlyMap<string, RecordFate>,
  retryOf: ReadonlyMap<string, number | undefined>,
): Pick<ProcessResult, 'retry' | 'fates'> {
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
  return { retry, fates };
}

/**
 * Phase 7: the outbox for every decision (and for the deferrals a newer request superseded); the
 * records to hand back. Superseded deferrals' schedules are deleted once their event is out.
 */
async function finishPhase(
  deps: ProcessDeps,
  groups: readonly Group[],
  decisions: Decisions,
  ended: readonly EndedDeferral[] = [],
): Promise<ProcessResult> {
  const finishes = groups.map((g) => finishOf(deps, g, decisions.get(g.key) ?? { kind: 'duplicate' }));
  // Keyed like the decisions: of groups sharing a key, the last one's says.
  const fateOf = new Map(groups.map((g, i) => [g.key, finishes[i]!.fate]));
  const retryOf = new Map(
    groups.flatMap((g, i) => {
      const again = finishes[i]!.retry;
      return again ? [[g.key, again.delaySeconds] as const] : [];
    }),
  );
  await Promise.all(
    groups.flatMap((g, i) =>
      finishes[i]!.release ? [deps.idempotency.release(g.key).catch(() => undefined)] : [],
    ),
  );
  const outbound: Outbound[] = [
    ...ended.map((e) => e.item),
    ...finishes.flatMap((f) => (f.item ? [f.item] : [])),
  ];
  const flushed =
    outbound.length > 0 ? await flushOutbox(deps, outbound) : { finished: new Map(), published: [] };
  const { finished } = flushed;
  const published = [
    ...groups.flatMap((g) => {
      const d = decisions.get(g.key);
      return d?.kind === 'outcome' ? (d.publishedEarly ?? []) : [];
    }),
    ...flushed.published,
  ];
  for (const [key, state] of finished) {
    const group = groups.find((g) => g.key === key);
    if (state === 'pending' && group) {
      fateOf.set(key, 'audit-pending');
      retryOf.set(key, retryDelaySeconds(group.primary.receiveCount));
    }
  }
  await deleteEndedSchedules(deps, ended, finished);
  return { ...recordFates(groups, fateOf, retryOf), published };
}

/** Builds the use case: `processChangeRequests(records, { deadline })`. */
export function makeProcessChangeRequests(deps: ProcessDeps) {
  const processAll = makeProcessRecords(deps);
  /**
   * The batch, with the requests sharing a slot with those of it coming back at theirs (taken
   * from the store: slotCompanions), so that a slot's zone is refreshed once; only the queue's own
   * records are answered for.
   */
  return async function processChangeRequests(
    records: readonly IncomingRecord[],
    options: ProcessOptions = {},
  ): Promise<ProcessResult> {
    const companions = await slotCompanions(deps, records, deps.clock.now());
    const result = await processAll([...records, ...companions], options);
    if (companions.length === 0) return result;
    const own = new Set(records.map((r) => r.recordId));
    return {
      ...result,
      retry: result.retry.filter((r) => own.has(r.recordId)),
      fates: new Map([...result.fates].filter(([id]) => own.has(id))),
    };
  };
}

function makeProcessRecords(deps: ProcessDeps) {
  return async function processRecords(
    records: readonly IncomingRecord[],
    options: ProcessOptions = {},
  ): Promise<ProcessResult> {
    const groups = groupRecords(records);
    const decisions: Decisions = new Map();
    const claimed = await settlePhase(deps, await claimPhase(deps, groups, decisions), options, decisions);
    const admission = admitPhase(deps, claimed, decisions);
    const { admitted, early } = await quietestPhase(deps, admission.admitted, admission.early);
    let leaseWaitMs = 0;

    /**
     * Leases what it can of `wanted`, orders, defers and applies that, and finishes `finishing`,
     * except (unless it is the last round) the requests of load balancers still held elsewhere:
     * those are returned for another round. Every group given is finished by its last round, so
     * none is ever dropped.
     */
    const round = async (
      wanted: readonly Admitted[],
      roundEarly: readonly Early[],
      finishing: readonly Group[],
      last: boolean,
    ) => {
      const { leased, lease, waitedMs } = await leasePhase(deps, wanted, options, decisions);
      leaseWaitMs += waitedMs;
      const busy = wanted.filter((q) => !lease?.services.has(q.request.service));
      // Requests of load balancers another batch holds get a second round when this one applied
      // others meanwhile (that batch may be done by then); otherwise they are finished (handed back) now.
      const again = !last && lease !== undefined && leased.length > 0 && busy.length > 0 ? busy : [];
      const later = new Set(again.map((q) => q.group.key));
      try {
        const { current, deferring, cancels } = await orderPhase(deps, leased, roundEarly, decisions);
        const [ended] = await Promise.all([
          supersededDeferrals(deps, cancels),
          deferPhase(deps, deferring, decisions).then(() =>
            rememberSlots(
              deps,
              deferring.map((e) => ({ ...e, deferred: decisions.get(e.group.key)?.kind === 'deferred' })),
              deps.clock.now(),
            ),
          ),
          applyPhase(deps, current, options, decisions),
        ]);
        // The outbox stores the outcomes before the leases go, so that the batch that takes a load
        // balancer next finds every request of this one decided.
        const result = await finishPhase(
          deps,
          finishing.filter((g) => !later.has(g.key)),
          decisions,
          ended,
        );
        return { result, again };
      } finally {
        if (lease)
          await deps.leases.release(lease).catch((error: unknown) =>
            deps.log.warn('could not release service leases; they expire on their own', {
              error: errorFields(error),
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
    return { ...result, leaseWaitMs };
  };
}
