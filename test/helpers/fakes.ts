/**
 * In-memory fakes of the ports, for use-case tests: each behaves like its real adapter (the
 * DynamoDB stores' conditions, OVH's stored/applied split) and can be told to fail, so every
 * failure branch is cheap to reach. The HTTP tests against dynalite, the simulator and AWS
 * endpoints stay the integration layer.
 */
import { type OutgoingEvent, type TerminalOutcome, terminalOf } from '../../lib/domain/audit-events';
import { AUDIT_SOURCE } from '../../lib/domain/events';
import { type Farm, type FarmRef, farmKey } from '../../lib/domain/farm';
import type { FarmOrder } from '../../lib/domain/request-rules';
import type { SavedPlanBody } from '../../lib/domain/saved-plan';
import type { FarmType, Stickiness } from '../../lib/domain/stickiness';
import type { RateSample, TrafficReading } from '../../lib/domain/traffic';
import { changeZoneSlots } from '../../lib/domain/zone-slots';
import type { PendingChange } from '../../lib/domain/zones';
import type { ChatProposal, ChatProposals, ProposalClaim } from '../../lib/ports/chat-proposals';
import type { Clock } from '../../lib/ports/clock';
import type { Deferral, DeferralScheduler } from '../../lib/ports/deferral-scheduler';
import type { DeliveryAnswer, DeliveryLog } from '../../lib/ports/delivery-log';
import type { EventPublisher, PublishFailure } from '../../lib/ports/event-publisher';
import type { FarmLedger, VersionedOrder } from '../../lib/ports/farm-ledger';
import type {
  ClaimFacts,
  ClaimResult,
  Decided,
  DeferredRequest,
  IdempotencyStore,
  RequestStatus,
  ZoneInFlight,
} from '../../lib/ports/idempotency-store';
import type { DefinedFarm, LoadBalancerApi, Task, TaskStatus } from '../../lib/ports/load-balancer-api';
import type { LoadBalancerTraffic, TrafficReadOptions } from '../../lib/ports/load-balancer-traffic';
import type { Log } from '../../lib/ports/log';
import type { PlanRegistry, RegisteredPlan } from '../../lib/ports/plan-registry';
import type { RolloutOutcome, RolloutState, RolloutStore } from '../../lib/ports/rollout-store';
import type { Lease, ServiceLeases } from '../../lib/ports/service-leases';
import type { SlackMessage, SlackResponder } from '../../lib/ports/slack-responder';
import type { UnappliedZone, UnappliedZones } from '../../lib/ports/unapplied-zones';
import type { WorkDispatcher } from '../../lib/ports/work-dispatcher';
import {
  type SlotChange,
  ZONE_SLOT_RETENTION_MS,
  type ZoneSlot,
  type ZoneSlots,
} from '../../lib/ports/zone-slots';

/** A clock that stands still unless a test (or a sleep) moves it. */
export class FakeClock implements Clock {
  constructor(public t = Date.parse('2026-11-25T10:00:00Z')) {}
  now = () => new Date(this.t);
  sleep = async (ms: number) => {
    this.t += ms;
  };
  advance(ms: number) {
    this.t += ms;
  }
}

/** Methods listed here throw `error` (a retryable outage unless said otherwise). */
class Failures<M extends string> {
  readonly failing = new Map<M, Error>();
  fail(method: M, error: Error = Object.assign(new Error(`${method} is unavailable`), { retryable: true })) {
    this.failing.set(method, error);
    return this;
  }
  heal(method: M) {
    this.failing.delete(method);
    return this;
  }
  check(method: M) {
    const error = this.failing.get(method);
    if (error) throw error;
  }
}

type StoredRecord = {
  acceptedAt?: number;
  contentHash?: string;
  /** The last time the key was deferred to (kept across states, as the DynamoDB item keeps it). */
  deferredUntil?: string;
  inFlight?: ZoneInFlight;
  terminal?: TerminalOutcome;
} & (
  | { state: 'in-progress'; heldUntil: number }
  | ({ state: 'decided' } & Decided)
  | ({ state: 'deferred'; until: string } & Omit<DeferredRequest, 'until'>)
  | { state: 'completed' }
  | { state: 'open' }
  | { state: 'dead-lettered' }
);

/** The DynamoDB store's semantics in memory: see lib/adapters/dynamodb/dynamodb-idempotency-store.ts. */
export class InMemoryIdempotencyStore implements IdempotencyStore {
  readonly records = new Map<string, StoredRecord>();
  readonly tickets = new Map<string, Set<string>>();
  readonly groups = new Map<string, Set<string>>();
  readonly failures = new Failures<
    | 'status'
    | 'claim'
    | 'members'
    | 'decide'
    | 'note'
    | 'defer'
    | 'complete'
    | 'release'
    | 'deadLetter'
    | 'deferred'
    | 'closeDeferred'
  >();

  async claim(key: string, now: Date, holdMs: number, facts: ClaimFacts): Promise<ClaimResult> {
    this.failures.check('claim');
    for (const group of facts.groups ?? []) {
      const members = this.groups.get(group) ?? new Set<string>();
      members.add(key);
      this.groups.set(group, members);
    }
    const r = this.records.get(key);
    const acceptedAt = r?.acceptedAt;
    if (facts.contentHash && r?.contentHash && r.contentHash !== facts.contentHash)
      return {
        state: 'reused',
        contentHash: r.contentHash,
        ...(acceptedAt !== undefined ? { acceptedAt: new Date(acceptedAt) } : {}),
      };
    const free =
      !r ||
      r.state === 'open' ||
      r.state === 'dead-lettered' ||
      (r.state === 'in-progress' && r.heldUntil <= now.getTime()) ||
      (r.state === 'deferred' && Date.parse(r.until) <= now.getTime());
    if (free) {
      const first = acceptedAt ?? facts.sentAt.getTime();
      const contentHash = r?.contentHash ?? facts.contentHash;
      this.records.set(key, {
        state: 'in-progress',
        heldUntil: now.getTime() + holdMs,
        acceptedAt: first,
        ...(contentHash ? { contentHash } : {}),
        ...(r?.deferredUntil ? { deferredUntil: r.deferredUntil } : {}),
      });
      return {
        state: 'claimed',
        acceptedAt: new Date(first),
        deadLettered: r?.state === 'dead-lettered',
        ...(r?.inFlight ? { inFlight: r.inFlight } : {}),
        ...(r?.deferredUntil ? { deferredUntil: r.deferredUntil } : {}),
      };
    }
    if (r.state === 'decided') return { state: 'decided', events: r.events };
    if (r.state === 'deferred') return { state: 'deferred', until: r.until };
    if (r.state === 'completed') return { state: 'completed' };
    return { state: 'in-progress' };
  }
  private keep(key: string, next: StoredRecord) {
    const r = this.records.get(key);
    this.records.set(key, {
      ...next,
      ...(r?.acceptedAt !== undefined ? { acceptedAt: r.acceptedAt } : {}),
      ...(r?.contentHash ? { contentHash: r.contentHash } : {}),
      ...((next.deferredUntil ?? r?.deferredUntil)
        ? { deferredUntil: next.deferredUntil ?? r?.deferredUntil }
        : {}),
      ...((r?.terminal ?? next.terminal) ? { terminal: r?.terminal ?? next.terminal } : {}),
    } as StoredRecord);
  }
  async status(keys: readonly string[]): Promise<Map<string, RequestStatus>> {
    this.failures.check('status');
    return new Map(
      keys.flatMap((k) => {
        const r = this.records.get(k);
        if (!r) return [];
        return [
          [
            k,
            {
              state: r.state,
              ...(r.terminal ? { terminal: structuredClone(r.terminal) } : {}),
              ...(r.state === 'deferred' ? { deferredUntil: r.until } : {}),
            },
          ] as const,
        ];
      }),
    );
  }
  async decide(key: string, decided: Decided, _now?: Date): Promise<void> {
    this.failures.check('decide');
    const terminal = terminalOf(decided.events);
    this.keep(key, { state: 'decided', ...structuredClone(decided), ...(terminal ? { terminal } : {}) });
  }
  async note(key: string, inFlight: ZoneInFlight, _now?: Date): Promise<void> {
    this.failures.check('note');
    const r = this.records.get(key);
    if (r?.state !== 'in-progress')
      throw Object.assign(new Error('not held'), { code: 'ConditionalCheckFailedException' });
    r.inFlight = structuredClone(inFlight);
  }
  async defer(
    key: string,
    until: string,
    _now: Date,
    waiting: Parameters<IdempotencyStore['defer']>[3],
  ): Promise<void> {
    this.failures.check('defer');
    this.keep(key, {
      state: 'deferred',
      until,
      deferredUntil: until,
      request: structuredClone(waiting.request),
      origin: waiting.origin,
    });
    if (waiting.ticket)
      this.tickets.set(waiting.ticket, new Set([...(this.tickets.get(waiting.ticket) ?? []), key]));
  }
  async complete(key: string): Promise<void> {
    this.failures.check('complete');
    this.keep(key, { state: 'completed' });
  }
  async release(key: string): Promise<void> {
    this.failures.check('release');
    if (this.records.get(key)?.state === 'in-progress') this.keep(key, { state: 'open' });
  }
  async deadLetter(key: string): Promise<void> {
    this.failures.check('deadLetter');
    this.keep(key, { state: 'dead-lettered' });
  }
  async deferred(key: string): Promise<DeferredRequest | undefined> {
    this.failures.check('deferred');
    const r = this.records.get(key);
    return r?.state === 'deferred' ? { request: r.request, origin: r.origin, until: r.until } : undefined;
  }
  async closeDeferred(key: string, events: OutgoingEvent[]): Promise<boolean> {
    this.failures.check('closeDeferred');
    if (this.records.get(key)?.state !== 'deferred') return false;
    const terminal = terminalOf(events);
    this.keep(key, { state: 'decided', events: structuredClone(events), ...(terminal ? { terminal } : {}) });
    return true;
  }
  async ticketDeferrals(ticket: string): Promise<string[]> {
    return [...(this.tickets.get(ticket) ?? [])].sort();
  }
  async members(group: string): Promise<string[]> {
    this.failures.check('members');
    return [...(this.groups.get(group) ?? [])].sort();
  }
}

/** The DynamoDB ledger's semantics in memory: a write holds only at the version read. */
export class InMemoryFarmLedger implements FarmLedger {
  readonly entries = new Map<string, VersionedOrder>();
  readonly failures = new Failures<'read' | 'write'>();

  async read(farmKeys: readonly string[]): Promise<Map<string, VersionedOrder>> {
    this.failures.check('read');
    return new Map(
      farmKeys.filter((k) => this.entries.has(k)).map((k) => [k, structuredClone(this.entries.get(k)!)]),
    );
  }
  async write(farmKey: string, order: FarmOrder, version: number): Promise<boolean> {
    this.failures.check('write');
    if ((this.entries.get(farmKey)?.version ?? 0) !== version) return false;
    this.entries.set(farmKey, { order: structuredClone(order), version: version + 1 });
    return true;
  }
  /** The farm's live request id, for assertions. */
  live(farmKey: string): string | undefined {
    return this.entries.get(farmKey)?.order.live?.requestId;
  }
}

export class InMemoryUnappliedZones implements UnappliedZones {
  readonly records = new Map<string, UnappliedZone>();
  readonly failures = new Failures<'read' | 'remember' | 'forget'>();

  async read(service: string, zones: readonly string[]): Promise<UnappliedZone[]> {
    this.failures.check('read');
    return [...new Set(zones)].flatMap((zone) => {
      const r = this.records.get(`${service}/${zone}`);
      return r ? [structuredClone(r)] : [];
    });
  }
  async remember(record: UnappliedZone): Promise<void> {
    this.failures.check('remember');
    this.records.set(`${record.service}/${record.zone}`, structuredClone(record));
  }
  async forget(service: string, zone: string): Promise<void> {
    this.failures.check('forget');
    this.records.delete(`${service}/${zone}`);
  }
}

/** Each zone's remembered quietest slot, as the DynamoDB adapter keeps them (expiry is left to the adapter's TTL). */
export class InMemoryZoneSlots implements ZoneSlots {
  /** By `service/zone`, each zone's slots by time. */
  readonly slots = new Map<string, ZoneSlot[]>();
  readonly failures = new Failures<'read' | 'get' | 'change'>();

  constructor(private readonly retainMs = ZONE_SLOT_RETENTION_MS) {}

  async read(service: string, zones: readonly string[]): Promise<Map<string, ZoneSlot[]>> {
    this.failures.check('read');
    const out = new Map<string, ZoneSlot[]>();
    for (const zone of new Set(zones)) {
      const kept = this.slots.get(`${service}/${zone}`);
      if (kept?.length) out.set(zone, structuredClone(kept));
    }
    return out;
  }
  async get(service: string, zone: string): Promise<ZoneSlot[]> {
    this.failures.check('get');
    return structuredClone(this.slots.get(`${service}/${zone}`) ?? []);
  }
  async change(service: string, zone: string, change: SlotChange, now: Date): Promise<void> {
    this.failures.check('change');
    const key = `${service}/${zone}`;
    const next = changeZoneSlots(this.slots.get(key) ?? [], change, now, this.retainMs);
    if (next.length > 0) this.slots.set(key, next);
    else this.slots.delete(key);
  }
}

/** Plans by digest, as the DynamoDB registry keeps them (expiry to the second); `plans` may be edited by a test. */
export class InMemoryPlanRegistry implements PlanRegistry {
  readonly plans = new Map<string, RegisteredPlan>();
  readonly failures = new Failures<'register' | 'read'>();

  async register(body: SavedPlanBody, digest: string, expiresAt: Date): Promise<'registered' | 'already'> {
    this.failures.check('register');
    const kept = this.plans.get(digest);
    if (kept && kept.expiresAt.getTime() > Date.now()) return 'already';
    const seconds = Math.floor(expiresAt.getTime() / 1000) * 1000;
    this.plans.set(digest, { body: JSON.stringify(body), expiresAt: new Date(seconds) });
    return 'registered';
  }
  async read(digest: string): Promise<RegisteredPlan | undefined> {
    this.failures.check('read');
    const kept = this.plans.get(digest);
    return kept ? { ...kept } : undefined;
  }
}

/** Keeps what it published; `refuse` decides per event whether the bus refuses it. */
export class RecordingPublisher implements EventPublisher {
  readonly published: OutgoingEvent[] = [];
  refuse: (event: OutgoingEvent) => boolean = () => false;
  /** Refusals look like a bus that did not answer (it may have the events) rather than a no. */
  maybe = false;
  async publish(
    events: readonly OutgoingEvent[],
  ): Promise<{ failed: OutgoingEvent[]; why: Map<OutgoingEvent, PublishFailure> }> {
    const failed = events.filter((e) => this.refuse(e));
    // The bus would refuse an entry over 256 KiB: a fake that took it would hide the bug.
    const tooBig = events.filter((e) => JSON.stringify(e.detail).length + AUDIT_SOURCE.length > 256 * 1024);
    const out = [...new Set([...failed, ...tooBig])];
    this.published.push(...events.filter((e) => !out.includes(e)));
    return {
      failed: out,
      why: new Map(
        out.map((e) => [
          e,
          this.maybe
            ? { code: 'TimeoutError', maybePublished: true }
            : { code: 'AccessDenied', maybePublished: false },
        ]),
      ),
    };
  }
}

export class RecordingDeferrals implements DeferralScheduler {
  readonly scheduled: Deferral[] = [];
  readonly cancelled: { requestId: string; until: string }[] = [];
  readonly failures = new Failures<'schedule' | 'cancel'>();
  async schedule(deferral: Deferral): Promise<void> {
    this.failures.check('schedule');
    if (!this.scheduled.some((d) => d.requestId === deferral.requestId && d.until === deferral.until))
      this.scheduled.push(deferral);
  }
  async cancel(deferral: { requestId: string; until: string }): Promise<void> {
    this.failures.check('cancel');
    const i = this.scheduled.findIndex(
      (d) => d.requestId === deferral.requestId && d.until === deferral.until,
    );
    if (i >= 0) this.scheduled.splice(i, 1);
    this.cancelled.push({ requestId: deferral.requestId, until: deferral.until });
  }
}

/** Leases in memory: `held` shows who holds what (a test can play another invocation by adding to it). */
export class InMemoryServiceLeases implements ServiceLeases {
  readonly failures = new Failures<'acquire' | 'release'>();
  readonly held = new Map<string, { owner: string; until: number }>();
  private n = 0;
  async acquire(services: readonly string[], now: Date, holdMs: number): Promise<Lease> {
    this.failures.check('acquire');
    const lease: Lease = { services: new Set(), token: `lease-${++this.n}` };
    for (const s of services) {
      const h = this.held.get(s);
      if (!h || h.until <= now.getTime()) {
        this.held.set(s, { owner: lease.token, until: now.getTime() + holdMs });
        lease.services.add(s);
      }
    }
    return lease;
  }
  async release(lease: Lease): Promise<void> {
    this.failures.check('release');
    for (const s of lease.services) if (this.held.get(s)?.owner === lease.token) this.held.delete(s);
  }
}

/** The DynamoDB rollout store's semantics in memory; `pause` yields between reads and writes, as a network does. */
export class InMemoryRolloutStore implements RolloutStore {
  readonly states = new Map<string, RolloutState>();
  readonly recorded = new Map<string, RolloutOutcome>();
  readonly locks = new Map<string, string>();
  readonly failures = new Failures<'update' | 'recordOutcome'>();
  private readonly pause = () => new Promise<void>((resolve) => setImmediate(resolve));
  async create(state: RolloutState) {
    await this.pause();
    if (this.states.has(state.key)) return false;
    this.states.set(state.key, structuredClone(state));
    return true;
  }
  async get(key: string) {
    await this.pause();
    const s = this.states.get(key);
    return s ? structuredClone(s) : undefined;
  }
  async update(state: RolloutState) {
    await this.pause();
    this.failures.check('update');
    if (this.states.get(state.key)?.version !== state.version - 1) return false;
    this.states.set(state.key, structuredClone(state));
    return true;
  }
  async recordOutcome(key: string, outcome: RolloutOutcome) {
    await this.pause();
    this.failures.check('recordOutcome');
    const id = `${key}:${outcome.requestId}`;
    if (!this.recorded.has(id)) this.recorded.set(id, structuredClone(outcome));
  }
  async outcomes(key: string, requestIds: readonly string[]) {
    await this.pause();
    return new Map(
      requestIds.flatMap((id) => {
        const o = this.recorded.get(`${key}:${id}`);
        return o ? [[id, structuredClone(o)] as const] : [];
      }),
    );
  }
  async lock(policy: string, key: string): Promise<{ held: true } | { held: false; holder: string }> {
    await this.pause();
    const holder = this.locks.get(policy);
    if (!holder || holder === key || this.states.get(holder)?.status !== 'running') {
      this.locks.set(policy, key);
      return { held: true };
    }
    return { held: false, holder };
  }
  async unlock(policy: string, key: string) {
    if (this.locks.get(policy) === key) this.locks.delete(policy);
  }
}

/** The delivery log in memory. */
export class InMemoryDeliveryLog implements DeliveryLog {
  readonly answers = new Map<string, DeliveryAnswer>();
  readonly transitions = new Map<string, number>();
  readonly failures = new Failures<'answered' | 'remember' | 'transition'>();
  async transition(ticket: string, sequence: number): Promise<'newest' | 'stale'> {
    this.failures.check('transition');
    if ((this.transitions.get(ticket) ?? Number.NEGATIVE_INFINITY) > sequence) return 'stale';
    this.transitions.set(ticket, sequence);
    return 'newest';
  }
  async answered(source: string, digest: string) {
    this.failures.check('answered');
    return structuredClone(this.answers.get(`${source}:${digest}`));
  }
  async remember(source: string, digest: string, answer: DeliveryAnswer) {
    this.failures.check('remember');
    this.answers.set(`${source}:${digest}`, structuredClone(answer));
  }
}

export const silentLog = (): Log & { lines: { level: string; message: string }[] } => {
  const lines: { level: string; message: string }[] = [];
  return {
    lines,
    info: (message) => void lines.push({ level: 'info', message }),
    warn: (message) => void lines.push({ level: 'warn', message }),
    error: (message) => void lines.push({ level: 'error', message }),
  };
};

interface FakeFarm {
  type: FarmType;
  farmId: number;
  zone: string;
  displayName: string | null;
  stored: Stickiness;
  applied: Stickiness;
}

/**
 * An OVH IP Load Balancer in memory: stored and applied configuration per farm, pending changes
 * per zone, refresh tasks that end `done` at once (or as `taskStatus` says). Counts calls.
 */
export class InMemoryLoadBalancerApi implements LoadBalancerApi {
  readonly services = new Map<string, Map<string, FakeFarm>>();
  readonly calls: Record<string, number> = {};
  readonly failures = new Failures<keyof LoadBalancerApi>();
  readonly refreshes: { service: string; zone: string }[] = [];
  taskStatus: TaskStatus = 'done';
  /** With a clock: refresh tasks run this long (clock time) before they end `taskStatus`. */
  taskMs = 0;
  /** Refreshes asked while another task of the same service was still running. */
  races = 0;
  private tasks = new Map<number, Task & { service: string; endsAt: number }>();
  private nextTask = 1;

  constructor(private readonly clock?: FakeClock) {}

  /** Ends the tasks whose time has come, applying their zone as OVH does. */
  private advanceTasks() {
    const now = this.clock?.t ?? 0;
    for (const t of this.tasks.values()) {
      if ((t.status === 'doing' || t.status === 'todo') && now >= t.endsAt) {
        t.status = this.taskStatus;
        t.doneDate = new Date(now).toISOString();
        if (t.status === 'done') {
          for (const f of this.services.get(t.service)?.values() ?? [])
            if (f.zone === t.zones[0]) f.applied = f.stored;
        }
      }
    }
  }

  addFarm(
    service: string,
    farm: Omit<FakeFarm, 'applied' | 'displayName'> & { displayName?: string | null },
  ) {
    const farms = this.services.get(service) ?? new Map<string, FakeFarm>();
    farms.set(`${farm.type}/${farm.farmId}`, { displayName: null, ...farm, applied: farm.stored });
    this.services.set(service, farms);
    return this;
  }
  farm(ref: FarmRef): FakeFarm | undefined {
    return this.services.get(ref.service)?.get(`${ref.type}/${ref.farmId}`);
  }
  private count(method: keyof LoadBalancerApi) {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
    this.failures.check(method);
  }

  async listServices() {
    this.count('listServices');
    return [...this.services.keys()];
  }
  async listFarms(service: string): Promise<DefinedFarm[]> {
    this.count('listFarms');
    return [...(this.services.get(service)?.values() ?? [])].map((f) => ({ type: f.type, farmId: f.farmId }));
  }
  async listZones(service: string): Promise<string[]> {
    this.count('listZones');
    return [...new Set([...(this.services.get(service)?.values() ?? [])].map((f) => f.zone))].sort();
  }
  async getFarm(ref: FarmRef): Promise<Farm> {
    this.count('getFarm');
    const f = this.farm(ref);
    if (!f) {
      const { NotFoundError } = await import('../../lib/domain/errors');
      throw new NotFoundError(`farm ${farmKey(ref)} was not found`);
    }
    return { ...ref, zone: f.zone, displayName: f.displayName, stickiness: f.stored };
  }
  async setStickiness(ref: FarmRef, stickiness: Stickiness) {
    this.count('setStickiness');
    this.farm(ref)!.stored = stickiness;
  }
  async pendingChanges(service: string): Promise<PendingChange[]> {
    this.count('pendingChanges');
    const zones = new Map<string, number>();
    for (const f of this.services.get(service)?.values() ?? [])
      if (f.stored !== f.applied) zones.set(f.zone, (zones.get(f.zone) ?? 0) + 1);
    return [...zones].map(([zone, number]) => ({ zone, number }));
  }
  async refresh(service: string, zone: string): Promise<Task> {
    this.count('refresh');
    this.advanceTasks();
    const running = [...this.tasks.values()].some(
      (t) => t.service === service && (t.status === 'doing' || t.status === 'todo'),
    );
    if (running) this.races++;
    this.refreshes.push({ service, zone });
    const now = this.clock?.t ?? 0;
    const task = {
      id: this.nextTask++,
      action: 'refreshIplb',
      status: 'doing' as TaskStatus,
      progress: 0,
      zones: [zone],
      creationDate: new Date(now).toISOString(),
      doneDate: null,
      service,
      endsAt: now + this.taskMs,
    };
    this.tasks.set(task.id, task);
    this.advanceTasks();
    return { ...task };
  }
  async listTasks(service: string, filter: { status?: TaskStatus }): Promise<number[]> {
    this.count('listTasks');
    this.advanceTasks();
    return [...this.tasks.values()]
      .filter((t) => t.service === service && (!filter.status || t.status === filter.status))
      .map((t) => t.id);
  }
  async getTask(_service: string, taskId: number): Promise<Task> {
    this.count('getTask');
    this.advanceTasks();
    return { ...this.tasks.get(taskId)! };
  }
}

/** Chat proposals in memory, with the adapter's rules: single-use claims, expiry at the click's time. */
export class InMemoryChatProposals implements ChatProposals {
  readonly items = new Map<
    string,
    { proposal: ChatProposal; state: 'open' | 'applied' | 'cancelled'; by?: string }
  >();
  readonly replies = new Map<string, { url: string; expiresAt: Date }>();
  readonly failures = new Failures<
    'save' | 'get' | 'claim' | 'release' | 'saveReplyTarget' | 'replyTarget'
  >();
  async save(proposal: ChatProposal) {
    this.failures.check('save');
    this.items.set(proposal.id, { proposal, state: 'open' });
  }
  async get(id: string) {
    this.failures.check('get');
    return this.items.get(id)?.proposal;
  }
  async claim(id: string, how: 'applied' | 'cancelled', by: string, now: Date): Promise<ProposalClaim> {
    this.failures.check('claim');
    const item = this.items.get(id);
    if (!item) return { kind: 'unknown' };
    if (item.state !== 'open') return { kind: 'spent', how: item.state, by: item.by ?? '?' };
    if (Date.parse(item.proposal.expiresAt) <= now.getTime()) return { kind: 'expired' };
    item.state = how;
    item.by = by;
    return { kind: 'claimed', proposal: item.proposal };
  }
  async release(id: string) {
    this.failures.check('release');
    const item = this.items.get(id);
    if (item?.state === 'applied') {
      item.state = 'open';
      delete item.by;
    }
  }
  async saveReplyTarget(requestId: string, url: string, expiresAt: Date) {
    this.failures.check('saveReplyTarget');
    this.replies.set(requestId, { url, expiresAt });
  }
  async replyTarget(requestId: string) {
    this.failures.check('replyTarget');
    return this.replies.get(requestId)?.url;
  }
}

/** Keeps what would have been posted to Slack, by response URL; allows one origin like the adapter. */
export class RecordingSlackResponder implements SlackResponder {
  readonly posted: { url: string; message: SlackMessage }[] = [];
  readonly failures = new Failures<'respond'>();
  constructor(private readonly origin = 'https://hooks.slack.com') {}
  allows(url: string) {
    try {
      return new URL(url).origin === this.origin;
    } catch {
      return false;
    }
  }
  async respond(url: string, message: SlackMessage) {
    this.failures.check('respond');
    if (!this.allows(url)) throw new Error('not Slack');
    this.posted.push({ url, message });
  }
  to(url: string) {
    return this.posted.filter((p) => p.url === url).map((p) => p.message);
  }
}

/** Keeps dispatched work instead of running it. */
export class RecordingDispatcher<W> implements WorkDispatcher<W> {
  readonly dispatched: W[] = [];
  readonly failures = new Failures<'dispatch'>();
  async dispatch(work: W) {
    this.failures.check('dispatch');
    this.dispatched.push(work);
  }
}

/**
 * Load-balancer traffic from a table: each service's rates, or a reason it is unknown; records
 * every read (service, time, whether the history was asked).
 */
export class FakeTraffic implements LoadBalancerTraffic {
  readonly reads: { service: string; at: string; history: boolean }[] = [];
  constructor(
    private readonly rates: Record<
      string,
      { requestsPerSecond: number; connectionsPerSecond: number; history?: RateSample[] } | string
    >,
  ) {}
  async read(service: string, at: Date, options: TrafficReadOptions = {}): Promise<TrafficReading> {
    const history = options.history !== false;
    this.reads.push({ service, at: at.toISOString(), history });
    const rate = this.rates[service] ?? 'no metrics for this load balancer';
    if (typeof rate === 'string') return { known: false, service, reason: rate };
    const { history: samples = [], ...now } = rate;
    return { known: true, service, measuredAt: at.toISOString(), now, history: history ? samples : [] };
  }
}
