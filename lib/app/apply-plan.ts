/**
 * Carries out a plan with as few zone applies as possible and gives every change one outcome.
 *
 * Per service (services run in parallel, sharing the OVH client's concurrency limit):
 * 1. read pendingChanges (and the refresh tasks running) and refuse changes whose zone already
 *    holds someone else's edits (with an UnappliedZones store, a zone left holding only this
 *    tool's own unapplied writes by an earlier failed refresh is not someone else's: own-unapplied.ts);
 * 2. wait for any refresh task already running, so that stickler never races one;
 * 3. PUT only the farms that differ;
 * 4. refresh each touched zone once, as soon as its writes are stored (one zone at a time per
 *    service, the next zone's writes going on meanwhile), and poll the task: `done` applies its changes; `error`, `cancelled`, `blocked`
 *    or a timeout fail them.
 * Services are started in bounded groups (CHANGES_IN_FLIGHT): what a run holds in flight follows
 * its largest services, not the fleet. What a service's apply keeps (its unapplied changes as
 * read, its writes) lives in its ServiceRun and is released with it.
 */
import { ALL_ZONES, type Farm, type FarmRef, farmKey, formatFarmRef } from '../domain/farm';
import {
  type Change,
  type ChangeOrigin,
  type Plan,
  type Rejection,
  type Unchanged,
  windowClosed,
} from '../domain/plan';
import { type Stickiness, toWord } from '../domain/stickiness';
import {
  batchByZone,
  guardPendingChanges,
  type PendingChange,
  unappliedCountIn,
  type ZoneBatch,
} from '../domain/zones';
import type { Clock } from '../ports/clock';
import type { LoadBalancerApi } from '../ports/load-balancer-api';
import type { UnappliedFarm, UnappliedZones } from '../ports/unapplied-zones';
import { errorFacts, isAmbiguous } from './error-facts';
import { makeOwnUnapplied, type OwnUnapplied, type OwnZone, withoutOwn } from './own-unapplied';
import {
  makeZoneRefresher,
  type RefreshProgress,
  type RefreshResult,
  type RefreshTiming,
  type ZoneRefreshOutcome,
} from './refresh-zone';

export interface ApplyOptions extends RefreshTiming {
  /** Apply zones even when they hold unapplied changes stickler did not make. */
  allowForeignPending: boolean;
  /**
   * Zones (`service zone`) to refresh for the plan's compliant farms too, not only for requests,
   * if they still hold only stickler's own unapplied writes (by `unapplied`'s records) when the
   * service is applied: the CLI's direct apply, which showed them and asked. A compliant farm in
   * any other zone is reported unchanged, as without it.
   */
  refreshOwnZones?: ReadonlySet<string>;
  /**
   * What a zone holding someone else's unapplied changes does to the changes in it (without
   * `allowForeignPending`): `refuse` them (an operator at a terminal decides, the default), or fail
   * them as retryable (`retry`: the worker hands them back and tries again later, since another
   * operator's apply usually ends within seconds; its last attempt reports the reason).
   */
  foreignPending?: 'refuse' | 'retry';
  /**
   * Stops the run gracefully: no zone whose writes have not started is touched; a zone whose
   * writes have started is still applied, so nothing is left stored but not applied.
   */
  signal?: AbortSignal;
  /**
   * With `deadline` (RefreshTiming): the time one zone needs, from its first write to its task's
   * end (a task's timeout and a margin). A zone's writes start only if it, and the zone of the
   * same service still being refreshed ahead of it, can both end before the deadline.
   */
  zoneBudgetMs?: number;
  /** Called as soon as a zone's outcome is known (applied or failed), before the next zone's. */
  onZoneDone?: (zone: { applied: AppliedChange[]; failed: Failure[] }) => Promise<void>;
  /**
   * Called just before a zone's refresh is asked, with the changes it carries (the worker notes
   * them, so that a delivery after a kill looks the refresh up). Its failure does not stop the zone.
   */
  onZoneRefreshing?: (zone: {
    service: string;
    zone: string;
    changes: Change[];
    askedAt: string;
  }) => Promise<void>;
}

export const DEFAULT_APPLY_OPTIONS: ApplyOptions = {
  allowForeignPending: false,
  taskTimeoutMs: 10 * 60_000,
  pollIntervalMs: 2_000,
};

export type { RefreshResult } from './refresh-zone';

export interface Failure {
  ref: FarmRef;
  /** The farm as read, when it could be read. */
  farm?: Farm;
  from?: Stickiness;
  to: Stickiness;
  origin: ChangeOrigin;
  code:
    | 'read-failed'
    | 'write-failed'
    | 'refresh-failed'
    | 'precheck-failed'
    | 'interrupted'
    | 'foreign-pending'
    /** A write or a refresh that may or may not have been carried out, and could not be told. */
    | 'outcome-unknown';
  reason: string;
  /** True when running the same request again later may succeed. */
  retryable: boolean;
  queryId?: string;
}

export interface AppliedChange {
  change: Change;
  refresh: RefreshResult;
}

export interface ApplyReport {
  applied: AppliedChange[];
  unchanged: Unchanged[];
  refused: Rejection[];
  failed: Failure[];
  refreshes: RefreshResult[];
}

export type ApplyProgress =
  | { kind: 'written'; change: Change; done: number; total: number }
  | { kind: 'waiting-for-running-tasks'; service: string; taskIds: number[] }
  | RefreshProgress;

export interface ApplyPlanDeps {
  api: LoadBalancerApi;
  clock: Clock;
  onProgress?: (event: ApplyProgress) => void;
  /**
   * Where zones left holding stickler's own unapplied writes are recorded (the worker): a later
   * run applies such a zone instead of taking its changes for someone else's (own-unapplied.ts).
   */
  unapplied?: UnappliedZones;
}

const refreshOnlyChange = (u: Unchanged): Change => ({
  farm: u.farm,
  from: u.farm.stickiness,
  to: u.farm.stickiness,
  origin: u.origin,
});

const failureOf = (change: Change) => ({
  ref: change.farm,
  farm: change.farm,
  from: change.from,
  to: change.to,
  origin: change.origin,
});

/** The API a run uses: bounded by the run's deadline when it has one (no call outlives it). */
export const apiWithin = (api: LoadBalancerApi, deadline: number | undefined): LoadBalancerApi =>
  deadline !== undefined && api.bounded ? api.bounded(deadline) : api;

/** The most changes of started services not yet finished, before another service is started. */
export const CHANGES_IN_FLIGHT = 4_000;

/** What every phase of one run shares: its ports, its options, and the report it fills. */
interface ApplyRun {
  api: LoadBalancerApi;
  clock: Clock;
  onProgress: ((event: ApplyProgress) => void) | undefined;
  options: ApplyOptions;
  report: ApplyReport;
  refresher: ReturnType<typeof makeZoneRefresher>;
  ownUnapplied: OwnUnapplied | undefined;
  progress: { written: number; total: number };
}

/** One service's part of the run: what it read before writing, and what it wrote. */
interface ServiceRun {
  service: string;
  /** Its zones' unapplied changes when this run read them, and which were stickler's own. */
  pending: PendingChange[];
  own: Map<string, OwnZone>;
  /** Zones with a record of stickler's own unapplied writes (forgotten once applied). */
  recorded: Set<string>;
  /** This run's stored writes (for the check before each refresh). */
  written: Change[];
  /** Per zone, the farms this run wrote and the value each stores now. */
  storedIn: Map<string, Map<string, UnappliedFarm>>;
}

/** A service's share of the plan. */
interface ServiceWork {
  service: string;
  changes: Change[];
  /** Requests whose farm already stores the target: their zone may still hold it unapplied. */
  stillUnchanged: Unchanged[];
}

export const makeApplyPlan = ({ api, clock, onProgress, unapplied }: ApplyPlanDeps) =>
  async function applyPlan(plan: Plan, options: ApplyOptions = DEFAULT_APPLY_OPTIONS): Promise<ApplyReport> {
    const run = startRun({ api, clock, onProgress, unapplied }, plan, options);
    await inServiceGroups(workByService(plan, run.report, options), (work) => applyService(run, work));
    return run.report;
  };

function startRun(deps: ApplyPlanDeps, plan: Plan, options: ApplyOptions): ApplyRun {
  const api = apiWithin(deps.api, options.deadline);
  return {
    api,
    clock: deps.clock,
    onProgress: deps.onProgress,
    options,
    report: { applied: [], unchanged: [], refused: [...plan.invalid], failed: [], refreshes: [] },
    refresher: makeZoneRefresher({ api, clock: deps.clock, onProgress: deps.onProgress }),
    ownUnapplied: deps.unapplied
      ? makeOwnUnapplied({ api, store: deps.unapplied, clock: deps.clock })
      : undefined,
    progress: { written: 0, total: plan.changes.length },
  };
}

/**
 * The plan split by service (in name order). Requests whose farm already stores the target still
 * need a look at pendingChanges (the value may be stored but never applied, say after a refresh
 * that failed); other unchanged farms go to the report as they are.
 */
function workByService(plan: Plan, report: ApplyReport, options: ApplyOptions): ServiceWork[] {
  const byService = new Map<string, ServiceWork>();
  const workOf = (service: string) => {
    const work = byService.get(service) ?? { service, changes: [], stillUnchanged: [] };
    byService.set(service, work);
    return work;
  };
  for (const change of plan.changes) workOf(change.farm.service).changes.push(change);
  for (const u of plan.unchanged) {
    if (u.origin.kind === 'request' || options.refreshOwnZones?.has(`${u.farm.service} ${u.farm.zone}`))
      workOf(u.farm.service).stillUnchanged.push(u);
    else report.unchanged.push(u);
  }
  return [...byService.values()].sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
}

/**
 * Runs `apply` over the services, starting one while fewer than CHANGES_IN_FLIGHT changes of
 * started services are unfinished (always at least one service).
 */
async function inServiceGroups(works: ServiceWork[], apply: (work: ServiceWork) => Promise<void>) {
  const sizeOf = (w: ServiceWork) => w.changes.length + w.stillUnchanged.length;
  let next = 0;
  let inFlight = 0;
  let failure: { error: unknown } | undefined;
  const running = new Set<Promise<void>>();
  const start = (work: ServiceWork) => {
    inFlight += sizeOf(work);
    const done: Promise<void> = apply(work)
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => {
        inFlight -= sizeOf(work);
        running.delete(done);
      });
    running.add(done);
  };
  while (!failure && (next < works.length || running.size > 0)) {
    while (
      next < works.length &&
      (running.size === 0 || inFlight + sizeOf(works[next]!) <= CHANGES_IN_FLIGHT)
    )
      start(works[next++]!);
    await Promise.race(running);
  }
  // As Promise.all would: the first failure fails the run (services already started go on).
  if (failure) throw failure.error;
}

/** Phase 1 to 4 for one service: read, decide, wait for running refreshes, then write and refresh zone by zone. */
async function applyService(run: ApplyRun, work: ServiceWork): Promise<void> {
  const read = await readService(run, work);
  if (!read) return;
  const { svc, running } = read;
  const { accepted, refreshOnly } = sortChanges(run, svc, work);
  if (accepted.length === 0 && refreshOnly.size === 0) return;
  if (run.options.signal?.aborted) {
    interrupt(run, [...accepted, ...refreshOnly]);
    return;
  }
  if (!(await waitForRunningTasks(run, svc.service, running, [...accepted, ...refreshOnly]))) return;
  await applyZones(run, svc, batchByZone([...accepted, ...refreshOnly]), refreshOnly);
}

/**
 * Phase 1: the service's unapplied changes and running refreshes, before any write (both reads
 * go together), and which zones hold only stickler's own unapplied writes. Undefined: they could
 * not be read, and every change of the service failed `precheck-failed`.
 */
async function readService(
  run: ApplyRun,
  work: ServiceWork,
): Promise<{ svc: ServiceRun; running: number[] } | undefined> {
  let pending: PendingChange[];
  let running: number[];
  try {
    [pending, running] = await Promise.all([
      run.api.pendingChanges(work.service),
      run.refresher.runningRefreshes(work.service),
    ]);
  } catch (error) {
    failAll(run, work.changes, 'precheck-failed', error);
    failAll(run, work.stillUnchanged.map(refreshOnlyChange), 'precheck-failed', error);
    return undefined;
  }
  // Zones holding only stickler's own unapplied writes (a refresh of an earlier run failed)
  // count as clean: applying them pushes nobody else's change.
  const { own, recorded } = run.ownUnapplied
    ? await run.ownUnapplied.trusted(work.service, pending)
    : { own: new Map<string, OwnZone>(), recorded: new Set<string>() };
  return {
    svc: { service: work.service, pending, own, recorded, written: [], storedIn: new Map() },
    running,
  };
}

/**
 * Phase 2: the changes to write, and the requests whose zone only needs a refresh; changes in a
 * zone holding someone else's unapplied changes are refused (or, for the worker, failed to be
 * tried again later). A stored-but-maybe-not-live target is refreshed only when the operator
 * allows foreign changes, or when the zone holds stickler's own unapplied writes only.
 */
function sortChanges(
  run: ApplyRun,
  svc: ServiceRun,
  work: ServiceWork,
): { accepted: Change[]; refreshOnly: Set<Change> } {
  const { options } = run;
  const others = withoutOwn(svc.pending, svc.own);
  const { accepted, refused } = guardPendingChanges(
    work.changes,
    new Map([[svc.service, others]]),
    options.allowForeignPending,
  );
  for (const r of refused) foreign(run, r);
  const count = unappliedCountIn(others);
  const refreshOnly = new Set<Change>();
  for (const u of work.stillUnchanged) {
    const n = count(u.farm.zone);
    // Stored by stickler but not applied yet (or, for an `all` farm, maybe not): refresh it.
    const ownUnappliedHere = svc.own.has(u.farm.zone) || (u.farm.zone === ALL_ZONES && svc.own.size > 0);
    // A compliant farm of a plan (refreshOwnZones): its own zone's refresh only, never `all`'s.
    if (u.origin.kind !== 'request') {
      if (n === 0 && svc.own.has(u.farm.zone)) refreshOnly.add(refreshOnlyChange(u));
      else run.report.unchanged.push(u);
      continue;
    }
    if (n === 0 && ownUnappliedHere) refreshOnly.add(refreshOnlyChange(u));
    else if (n === 0) run.report.unchanged.push(u);
    else if (options.allowForeignPending) refreshOnly.add(refreshOnlyChange(u));
    else
      foreign(run, {
        ref: u.farm,
        farm: u.farm,
        to: u.farm.stickiness,
        origin: u.origin,
        code: 'foreign-pending',
        reason: `${formatFarmRef(u.farm)} already stores this stickiness, but ${u.farm.zone === ALL_ZONES ? 'its service' : `zone ${u.farm.zone}`} holds ${n} unapplied change(s), so it may not be live; apply that zone or allow foreign pending changes`,
      });
  }
  return { accepted, refreshOnly };
}

/** Someone else's unapplied changes in the zone: refused, or (worker) tried again later. */
function foreign(run: ApplyRun, r: Rejection) {
  if (run.options.foreignPending !== 'retry') {
    run.report.refused.push(r);
    return;
  }
  run.report.failed.push({
    ref: r.ref,
    ...(r.farm ? { farm: r.farm } : {}),
    ...(r.farm ? { from: r.farm.stickiness } : {}),
    to: r.to ?? null,
    origin: r.origin,
    code: 'foreign-pending',
    reason: `${r.reason}; waiting for them to be applied, then trying again`,
    retryable: true,
  });
}

/** Phase 3: never race a refresh already in flight; if it does not end, nothing is written (false). */
async function waitForRunningTasks(
  run: ApplyRun,
  service: string,
  running: number[],
  changes: Change[],
): Promise<boolean> {
  if (running.length === 0) return true;
  run.onProgress?.({ kind: 'waiting-for-running-tasks', service, taskIds: running });
  const ends = await Promise.all(
    running.map((id) => run.refresher.waitForTask(service, id, run.options).catch(() => 'timeout' as const)),
  );
  if (!ends.includes('timeout')) return true;
  failAll(run, changes, 'precheck-failed', {
    message: `refresh task(s) ${running.join(', ')} already running did not finish in time; nothing was written`,
    retryable: true,
  });
  return false;
}

/** A zone whose task outlived its wait: it may still be running, so nothing may race it. */
type Lingering = { batch: ZoneBatch; outcome: ZoneRefreshOutcome };

/**
 * Phase 4: writes go zone by zone: a zone's writes are queued once the previous zone's are
 * stored, so every service's first zone is ready early; each zone is then refreshed while the
 * next zone's writes proceed (zones of one service refresh one at a time).
 */
async function applyZones(run: ApplyRun, svc: ServiceRun, batches: ZoneBatch[], refreshOnly: Set<Change>) {
  const writeBatch = (batch: ZoneBatch, zonesAhead: number) => {
    if (!mayStart(run, zonesAhead)) return undefined;
    return Promise.all(
      batch.changes.map((c) => (refreshOnly.has(c) ? Promise.resolve(true) : write(run, svc, c))),
    );
  };
  let writes = batches[0] ? writeBatch(batches[0], 0) : undefined;
  let lingering: Lingering | undefined;
  for (let i = 0; i < batches.length; i++) {
    const batch = batches[i]!;
    if (!writes) {
      interrupt(run, batch.changes);
      continue;
    }
    const ok = await writes;
    // The next zone's writes overlap this zone's refresh: one zone ahead of it in flight.
    writes = batches[i + 1] ? writeBatch(batches[i + 1]!, 1) : undefined;
    const written = batch.changes.filter((_, j) => ok[j]);
    // A window that closed while the zone waited its turn: the write is undone and the request
    // refused; the zone is refreshed only for what is still within its window.
    const changesStored = await undoClosed(run, svc, written);
    if (changesStored.length === 0) {
      // Every write of the zone was undone: it holds only stickler's own changes, applying nothing new.
      if (written.length > 0) await rememberOwn(run, svc, batch.zone);
      continue;
    }
    lingering = await refreshStored(run, svc, { ...batch, changes: changesStored }, lingering);
  }
  if (lingering) await settleLingering(run, svc, lingering);
}

/**
 * One zone whose writes are stored: after the zone ahead's lingering task (if any), the check
 * before its refresh, then the refresh. Answers the zone if its own task outlived its wait.
 */
async function refreshStored(
  run: ApplyRun,
  svc: ServiceRun,
  stored: ZoneBatch,
  lingering: Lingering | undefined,
): Promise<Lingering | undefined> {
  if (lingering) {
    const stillRunning = await settleLingering(run, svc, lingering);
    if (stillRunning !== undefined) {
      await recordZone(
        run,
        svc,
        stored,
        {
          applied: false,
          attempts: [],
          error: `not asked: task ${stillRunning} of the same load balancer is still running, and a refresh now would race it`,
        },
        { notAsked: true },
      );
      return undefined;
    }
  }
  // Someone else may have written, or refreshed, this zone since this run read it.
  const check = await recheckZone(run, svc, stored);
  if (check.kind !== 'refresh') {
    await recordZone(run, svc, stored, checkedOutcome(run, stored, check), {
      notAsked: check.kind === 'foreign',
    });
    return undefined;
  }
  await run.options
    .onZoneRefreshing?.({
      service: stored.service,
      zone: stored.zone,
      changes: stored.changes,
      askedAt: run.clock.now().toISOString(),
    })
    .catch(() => undefined);
  const outcome = await run.refresher.refreshZone(
    stored.service,
    stored.zone,
    stored.changes.length,
    run.options,
  );
  if (!outcome.applied && outcome.attempts.at(-1)?.status === 'timeout') return { batch: stored, outcome };
  await recordZone(run, svc, stored, outcome);
  return undefined;
}

type ZoneCheck = { kind: 'refresh' } | { kind: 'applied' } | { kind: 'foreign'; reason: string };

/** The outcome of a zone not refreshed after its check: already applied, or not asked. */
function checkedOutcome(run: ApplyRun, stored: ZoneBatch, check: Exclude<ZoneCheck, { kind: 'refresh' }>) {
  return check.kind === 'applied'
    ? {
        applied: true,
        attempts: [
          {
            service: stored.service,
            zone: stored.zone,
            taskId: null,
            status: 'done' as const,
            changes: stored.changes.length,
            finishedAt: run.clock.now().toISOString(),
          },
        ],
      }
    : { applied: false, attempts: [], error: check.reason };
}

/**
 * Just before a zone's refresh: waits for a refresh already running on the load balancer (a
 * second operator's), then reads the zone's unapplied changes again. None left: that refresh
 * carried this run's writes too, and asking for another would only drop sessions twice. More
 * than this run made (beyond what the zone held when it was read): someone else wrote
 * meanwhile, and a refresh now would push their change by surprise.
 */
async function recheckZone(run: ApplyRun, svc: ServiceRun, batch: ZoneBatch): Promise<ZoneCheck> {
  try {
    // One round trip in the usual case: both reads at once; the zone is read again only after
    // waiting for someone else's refresh.
    const [running, pendingNow] = await Promise.all([
      run.refresher.runningRefreshes(batch.service),
      run.api.pendingChanges(batch.service),
    ]);
    let now = unappliedCountIn(pendingNow)(batch.zone);
    if (running.length > 0) {
      run.onProgress?.({ kind: 'waiting-for-running-tasks', service: batch.service, taskIds: running });
      const ends = await Promise.all(
        running.map((id) =>
          run.refresher.waitForTask(batch.service, id, run.options).catch(() => 'timeout' as const),
        ),
      );
      if (ends.includes('timeout'))
        return {
          kind: 'foreign',
          reason: `not asked: refresh task(s) ${running.join(', ')} of this load balancer, started by someone else, did not finish in time`,
        };
      now = unappliedCountIn(await run.api.pendingChanges(batch.service))(batch.zone);
    }
    if (now === 0) return { kind: 'applied' };
    const counts = (farmZone: string) =>
      batch.zone === ALL_ZONES || farmZone === batch.zone || farmZone === ALL_ZONES;
    const ours = svc.written.filter((c) => counts(c.farm.zone)).length;
    const before = unappliedCountIn(svc.pending)(batch.zone);
    // How OVH counts a change to an `all` farm is not documented (once, or once per zone), so
    // for zone `all` only "already applied" can be told, not "someone else wrote".
    if (batch.zone !== ALL_ZONES && now > before + ours)
      return {
        kind: 'foreign',
        reason: `not asked: zone ${batch.zone} holds ${now} unapplied change(s), ${now - before - ours} more than this run made since it read the zone: someone else changed it meanwhile (review with 'stickler show ${batch.service}')`,
      };
  } catch {
    // The check could not be made: refresh as before (refresh-zone.ts handles a failing OVH).
  }
  return { kind: 'refresh' };
}

function mayStart(run: ApplyRun, zonesAhead: number): boolean {
  const { options } = run;
  if (options.signal?.aborted) return false;
  if (options.deadline === undefined) return true;
  const budget = options.zoneBudgetMs ?? options.taskTimeoutMs;
  return run.clock.now().getTime() + (zonesAhead + 1) * budget <= options.deadline;
}

/**
 * Waits once more (within the deadline) for the task of a zone whose wait timed out: OVH may
 * finish it just after. Records the zone either way; returns the task id if it still runs.
 */
async function settleLingering(run: ApplyRun, svc: ServiceRun, { batch, outcome }: Lingering) {
  const last = outcome.attempts.at(-1)!;
  let end: Awaited<ReturnType<ApplyRun['refresher']['waitForTask']>> = 'timeout';
  if (last.taskId !== null)
    end = await run.refresher
      .waitForTask(batch.service, last.taskId, run.options)
      .catch(() => 'timeout' as const);
  if (end === 'done') {
    last.status = 'done';
    last.finishedAt = run.clock.now().toISOString();
    delete last.error;
    await recordZone(run, svc, batch, { applied: true, attempts: outcome.attempts });
    return undefined;
  }
  await recordZone(run, svc, batch, outcome);
  return end === 'timeout' ? (last.taskId ?? undefined) : undefined;
}

/**
 * The changes whose window is still open; the others' writes are put back (their farm's value
 * before this run) and refused `window-closed`. A write that cannot be put back is failed,
 * with what to do. The zone then holds a change that applies nothing new (stored, put back).
 */
async function undoClosed(run: ApplyRun, svc: ServiceRun, changes: readonly Change[]): Promise<Change[]> {
  const open: Change[] = [];
  await Promise.all(
    changes.map(async (change) => {
      const closedAt = windowClosed(change.origin, run.clock.now());
      if (!closedAt) {
        open.push(change);
        return;
      }
      if (change.from === change.to) {
        refuseClosed(run, change, closedAt, false); // a refresh only: nothing was written
        return;
      }
      try {
        await run.api.setStickiness(change.farm, change.from);
        noteWrite(svc, change, change.from);
        refuseClosed(run, change, closedAt, true);
      } catch (error) {
        const facts = errorFacts(error);
        run.report.failed.push({
          ...failureOf(change),
          code: 'write-failed',
          ...facts,
          retryable: false,
          reason: `its change window closed at ${closedAt} before its zone could be applied, and its write could not be undone (${facts.reason}): zone ${change.farm.zone} of ${change.farm.service} holds it unapplied; put ${formatFarmRef(change.farm)} back to ${toWord(change.from)} ('stickler set'), or apply it deliberately ('stickler refresh')`,
        });
      }
    }),
  );
  return changes.filter((c) => open.includes(c));
}

function noteWrite(svc: ServiceRun, change: Change, value: Stickiness) {
  svc.written.push(change);
  const farms = svc.storedIn.get(change.farm.zone) ?? new Map<string, UnappliedFarm>();
  farms.set(farmKey(change.farm), { type: change.farm.type, farmId: change.farm.farmId, stickiness: value });
  svc.storedIn.set(change.farm.zone, farms);
}

/**
 * After a zone was left unapplied: recorded as stickler's own if OVH counts exactly what the
 * zone held when this run read it (nothing, or stickler's own) plus this run's writes there.
 */
async function rememberOwn(run: ApplyRun, svc: ServiceRun, zone: string): Promise<boolean> {
  if (!run.ownUnapplied) return false;
  const { service } = svc;
  const before = unappliedCountIn(svc.pending)(zone);
  // The zone held someone else's changes before this run wrote (--allow-foreign-pending): its
  // unapplied changes are not all stickler's own, whatever OVH counts after.
  if (before > 0 && !svc.own.has(zone)) {
    await run.ownUnapplied.forget(service, zone);
    return false;
  }
  const ours = svc.written.filter((c) => c.farm.zone === zone).length;
  const farms = new Map<string, UnappliedFarm>();
  for (const f of svc.own.get(zone)?.farms ?? [])
    farms.set(farmKey({ service, type: f.type, farmId: f.farmId }), f);
  for (const [k, f] of svc.storedIn.get(zone) ?? []) farms.set(k, f);
  return run.ownUnapplied.remember(service, zone, before + ours, [...farms.values()]);
}

/** A request whose window has closed is refused where the write would happen: never written. */
function refuseClosed(run: ApplyRun, change: Change, closedAt: string, written: boolean) {
  run.report.refused.push({
    ref: change.farm,
    farm: change.farm,
    to: change.to,
    origin: change.origin,
    code: 'window-closed',
    reason: `its change window closed at ${closedAt}${written ? ' before its zone could be applied: its write was undone' : ', before it could be written'}; nothing of it goes live. To carry it out, publish it again with a new window and a new requestId`,
  });
}

/** Stores one change; false when it is not stored (failed, refused, or its outcome unknown). */
async function write(run: ApplyRun, svc: ServiceRun, change: Change): Promise<boolean> {
  const closedAt = windowClosed(change.origin, run.clock.now());
  if (closedAt) {
    refuseClosed(run, change, closedAt, false);
    return false;
  }
  try {
    await run.api.setStickiness(change.farm, change.to);
  } catch (error) {
    if (!(await writeFailed(run, svc, change, error))) return false;
  }
  noteWrite(svc, change, change.to);
  run.onProgress?.({ kind: 'written', change, done: ++run.progress.written, total: run.progress.total });
  return true;
}

/**
 * A write whose call failed: true when the farm, read again, stores the target all the same.
 * Otherwise the failure is reported (its outcome unknown when the farm cannot be read again).
 */
async function writeFailed(run: ApplyRun, svc: ServiceRun, change: Change, error: unknown): Promise<boolean> {
  const facts = errorFacts(error);
  // The write may have been carried out (no answer, a 5xx, a success answer that cannot be
  // read): the farm is read again before anything is decided.
  const stored = isAmbiguous(error) ? await storesTarget(run, change) : false;
  if (stored === true) return true;
  if (stored === false) {
    run.report.failed.push({
      ...failureOf(change),
      code: 'write-failed',
      ...facts,
      reason: `could not store the new stickiness: ${facts.reason}${isAmbiguous(error) ? '; the farm, read again, does not store it' : ''}`,
    });
    return false;
  }
  // Perhaps stored: counted as this run's write, so that the zone's check before its
  // refresh does not take it for someone else's; never reported as applied.
  noteWrite(svc, change, change.to);
  run.report.failed.push({
    ...failureOf(change),
    code: 'outcome-unknown',
    ...facts,
    retryable: false,
    reason:
      `outcome unknown: the write's answer could not be read (${facts.reason}), nor the farm read again ` +
      `(${errorFacts(stored).reason}); zone ${change.farm.zone} of ${change.farm.service} may hold it stored, and applied ` +
      `if that zone was refreshed: check with 'stickler show ${change.farm.service}', then run again or ` +
      `'stickler refresh ${change.farm.service} ${change.farm.zone}'`,
  });
  return false;
}

/** Whether the farm stores the change's target, read again; the read's error when it cannot be told. */
async function storesTarget(run: ApplyRun, change: Change): Promise<boolean | Error> {
  try {
    return (await run.api.getFarm(change.farm)).stickiness === change.to;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** Records one zone's outcome in the report, and tells the caller at once. */
async function recordZone(
  run: ApplyRun,
  svc: ServiceRun,
  batch: ZoneBatch,
  outcome: ZoneRefreshOutcome,
  why: { notAsked?: boolean } = {},
) {
  const { options } = run;
  // A refresh not asked because of someone else (their changes, their running task): the
  // worker tries the zone again later; at a terminal, the operator is told what to run.
  const waiting = why.notAsked === true && options.foreignPending === 'retry';
  // A refresh that failed after this run's writes: recorded as stickler's own unapplied
  // writes (when a store is wired), so that the next request in the zone applies them along.
  // The failure itself is final and reported at once (a zone whose tasks keep failing is not
  // refreshed again and again from the queue).
  const remembered = !outcome.applied && !why.notAsked ? await rememberOwn(run, svc, batch.zone) : false;
  if (remembered) svc.recorded.add(batch.zone);
  else if (outcome.applied) {
    // Applied: the records of the zones this refresh covered no longer hold.
    const covered = [...svc.recorded].filter((z) => batch.zone === ALL_ZONES || z === batch.zone);
    await Promise.all(covered.map((z) => run.ownUnapplied?.forget(batch.service, z)));
  }
  run.report.refreshes.push(...outcome.attempts);
  // The worker waits out others' changes; the CLI's direct mode refuses them (and is told so).
  const byWorker = options.foreignPending === 'retry';
  const zone = zoneOutcome(batch, outcome, { waiting, remembered, byWorker });
  run.report.applied.push(...zone.applied);
  run.report.failed.push(...zone.failed);
  // The caller's bookkeeping must never stop the next zone from being applied.
  await options.onZoneDone?.(zone).catch(() => undefined);
}

/** What a zone's outcome means for each of its changes: applied, or failed with what to do. */
function zoneOutcome(
  batch: ZoneBatch,
  outcome: ZoneRefreshOutcome,
  { waiting, remembered, byWorker }: { waiting: boolean; remembered: boolean; byWorker: boolean },
): { applied: AppliedChange[]; failed: Failure[] } {
  if (outcome.applied) {
    const refresh = outcome.attempts[outcome.attempts.length - 1]!;
    return { applied: batch.changes.map((change) => ({ change, refresh })), failed: [] };
  }
  const queryId = outcome.queryId ? { queryId: outcome.queryId } : {};
  if (outcome.outcomeUnknown && !remembered)
    // The refresh was asked and may have applied the zone: said so, never "not applied".
    return {
      applied: [],
      failed: batch.changes.map((change) => ({
        ...failureOf(change),
        code: 'outcome-unknown' as const,
        reason:
          `outcome unknown in zone ${batch.zone} of ${batch.service}: stored, and refreshed, but whether the refresh ` +
          `applied it could not be told (${outcome.error}); 'stickler show ${batch.service}' tells: a zone with no ` +
          `unapplied changes left was applied; if not, 'stickler refresh ${batch.service} ${batch.zone}' applies it`,
        retryable: false,
        ...queryId,
      })),
    };
  const reason =
    `stored but not applied in zone ${batch.zone} of ${batch.service}: refresh ${outcome.error}; ` +
    (waiting
      ? 'the zone now holds these unapplied changes; trying again later'
      : remembered
        ? byWorker
          ? "the zone now holds these unapplied changes, recorded as stickler's own: the next change request in this zone applies them along " +
            `(or, once the cause is fixed, 'stickler refresh ${batch.service} ${batch.zone}')`
          : "the zone now holds these unapplied changes, recorded as this machine's own: the next direct 'stickler apply' or 'set' " +
            `here applies them along, after asking (or, once the cause is fixed, 'stickler refresh ${batch.service} ${batch.zone}')`
        : `the zone now holds these unapplied changes: once the cause is fixed, apply it with ` +
          `'stickler refresh ${batch.service} ${batch.zone}'`);
  return {
    applied: [],
    failed: batch.changes.map((change) => ({
      ...failureOf(change),
      code: waiting ? ('foreign-pending' as const) : ('refresh-failed' as const),
      reason,
      retryable: waiting,
      ...queryId,
    })),
  };
}

function failAll(run: ApplyRun, list: Change[], code: Failure['code'], error: unknown) {
  run.report.failed.push(...list.map((change) => ({ ...failureOf(change), code, ...errorFacts(error) })));
}

function interrupt(run: ApplyRun, changes: readonly Change[]) {
  run.report.failed.push(
    ...changes.map((change) => ({
      ...failureOf(change),
      code: 'interrupted' as const,
      reason: 'not started: the run was interrupted before this zone (nothing written for it)',
      retryable: true,
    })),
  );
}
