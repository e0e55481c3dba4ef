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
  dirtyZones,
  guardPendingChanges,
  type PendingChange,
  type ZoneBatch,
} from '../domain/zones';
import type { Clock } from '../ports/clock';
import type { LoadBalancerApi } from '../ports/load-balancer-api';
import type { UnappliedFarm, UnappliedZones } from '../ports/unapplied-zones';
import { errorFacts, isAmbiguous } from './error-facts';
import { makeOwnUnapplied, type OwnZone, withoutOwn } from './own-unapplied';
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

export const makeApplyPlan = ({ api: baseApi, clock, onProgress, unapplied }: ApplyPlanDeps) => {
  return async (plan: Plan, options: ApplyOptions = DEFAULT_APPLY_OPTIONS): Promise<ApplyReport> => {
    const api = apiWithin(baseApi, options.deadline);
    const { refreshZone, waitForTask, runningRefreshes } = makeZoneRefresher({ api, clock, onProgress });
    const ownUnapplied = unapplied ? makeOwnUnapplied({ api, store: unapplied, clock }) : undefined;
    const report: ApplyReport = {
      applied: [],
      unchanged: [],
      refused: [...plan.invalid],
      failed: [],
      refreshes: [],
    };
    const total = plan.changes.length;
    let written = 0;
    const interrupt = (changes: readonly Change[]) =>
      report.failed.push(
        ...changes.map((change) => ({
          ...failureOf(change),
          code: 'interrupted' as const,
          reason: 'not started: the run was interrupted before this zone (nothing written for it)',
          retryable: true,
        })),
      );

    // Requests whose farm already stores the target still need a look at pendingChanges:
    // the value may be stored but never applied (say, a refresh that failed earlier).
    const unchangedRequests = plan.unchanged.filter((u) => u.origin.kind === 'request');
    report.unchanged.push(...plan.unchanged.filter((u) => u.origin.kind !== 'request'));

    const services = [...new Set([...plan.changes, ...unchangedRequests].map((c) => c.farm.service))].sort();
    /** Per service, the zones with a record of stickler's own unapplied writes (forgotten once applied). */
    const recordedZones = new Map<string, Set<string>>();
    /** Per service, its zones' unapplied changes when this run read them, and which were stickler's own. */
    const atStart = new Map<string, { pending: PendingChange[]; own: Map<string, OwnZone> }>();

    const applyService = async (service: string) => {
      const changes = plan.changes.filter((c) => c.farm.service === service);
      const stillUnchanged = unchangedRequests.filter((u) => u.farm.service === service);
      const failAll = (list: Change[], code: Failure['code'], error: unknown) =>
        report.failed.push(...list.map((change) => ({ ...failureOf(change), code, ...errorFacts(error) })));

      // Both reads come before any write; they are independent, so they go together.
      let pending: PendingChange[];
      let running: number[];
      try {
        [pending, running] = await Promise.all([api.pendingChanges(service), runningRefreshes(service)]);
      } catch (error) {
        failAll(changes, 'precheck-failed', error);
        failAll(stillUnchanged.map(refreshOnlyChange), 'precheck-failed', error);
        return;
      }

      // Zones holding only stickler's own unapplied writes (a refresh of an earlier run failed)
      // count as clean: applying them pushes nobody else's change.
      const { own, recorded } = ownUnapplied
        ? await ownUnapplied.trusted(service, pending)
        : { own: new Map<string, OwnZone>(), recorded: new Set<string>() };
      recordedZones.set(service, recorded);
      atStart.set(service, { pending, own });
      const others = withoutOwn(pending, own);
      const { accepted, refused } = guardPendingChanges(
        changes,
        new Map([[service, others]]),
        options.allowForeignPending,
      );
      const waitForeign = options.foreignPending === 'retry';
      /** Someone else's unapplied changes in the zone: refused, or (worker) tried again later. */
      const foreign = (r: Rejection) => {
        if (!waitForeign) report.refused.push(r);
        else
          report.failed.push({
            ref: r.ref,
            ...(r.farm ? { farm: r.farm } : {}),
            ...(r.farm ? { from: r.farm.stickiness } : {}),
            to: r.to ?? null,
            origin: r.origin,
            code: 'foreign-pending',
            reason: `${r.reason}; waiting for them to be applied, then trying again`,
            retryable: true,
          });
      };
      refused.forEach(foreign);

      // A stored-but-maybe-not-live target: applied only when the operator allows foreign changes.
      const count = dirtyZones(others);
      const refreshOnly = new Set<Change>();
      for (const u of stillUnchanged) {
        const n = count(u.farm.zone);
        // Stored by stickler but not applied yet (or, for an `all` farm, maybe not): refresh it.
        const ownUnappliedHere = own.has(u.farm.zone) || (u.farm.zone === ALL_ZONES && own.size > 0);
        if (n === 0 && ownUnappliedHere) refreshOnly.add(refreshOnlyChange(u));
        else if (n === 0) report.unchanged.push(u);
        else if (options.allowForeignPending) refreshOnly.add(refreshOnlyChange(u));
        else {
          foreign({
            ref: u.farm,
            farm: u.farm,
            to: u.farm.stickiness,
            origin: u.origin,
            code: 'foreign-pending',
            reason: `${formatFarmRef(u.farm)} already stores this stickiness, but ${u.farm.zone === ALL_ZONES ? 'its service' : `zone ${u.farm.zone}`} holds ${n} unapplied change(s), so it may not be live; apply that zone or allow foreign pending changes`,
          });
        }
      }
      if (accepted.length === 0 && refreshOnly.size === 0) return;
      if (options.signal?.aborted) {
        interrupt([...accepted, ...refreshOnly]);
        return;
      }

      // Never race a refresh already in flight; if it does not end, write nothing.
      if (running.length > 0) {
        onProgress?.({ kind: 'waiting-for-running-tasks', service, taskIds: running });
        const ends = await Promise.all(
          running.map((id) => waitForTask(service, id, options).catch(() => 'timeout' as const)),
        );
        if (ends.includes('timeout')) {
          failAll([...accepted, ...refreshOnly], 'precheck-failed', {
            message: `refresh task(s) ${running.join(', ')} already running did not finish in time; nothing was written`,
            retryable: true,
          });
          return;
        }
      }

      // Writes go zone by zone: a zone's writes are queued once the previous zone's are stored,
      // so every service's first zone is ready early; each zone is then refreshed while the next
      // zone's writes proceed (zones of one service refresh one at a time).
      const batches = batchByZone([...accepted, ...refreshOnly]);
      const writeBatch = (batch: ZoneBatch, zonesAhead: number) => {
        if (!mayStart(zonesAhead)) return undefined;
        return Promise.all(batch.changes.map((c) => (refreshOnly.has(c) ? Promise.resolve(true) : write(c))));
      };
      let writes = batches[0] ? writeBatch(batches[0], 0) : undefined;
      /** A zone whose task outlived its wait: it may still be running, so nothing may race it. */
      let lingering: { batch: ZoneBatch; outcome: ZoneRefreshOutcome } | undefined;
      for (let i = 0; i < batches.length; i++) {
        const batch = batches[i]!;
        if (!writes) {
          interrupt(batch.changes);
          continue;
        }
        const ok = await writes;
        // The next zone's writes overlap this zone's refresh: one zone ahead of it in flight.
        writes = batches[i + 1] ? writeBatch(batches[i + 1]!, 1) : undefined;
        const written = batch.changes.filter((_, j) => ok[j]);
        // A window that closed while the zone waited its turn: the write is undone and the request
        // refused; the zone is refreshed only for what is still within its window.
        const changesStored = await undoClosed(written);
        if (changesStored.length === 0) {
          // Every write of the zone was undone: it holds only stickler's own changes, applying nothing new.
          if (written.length > 0) await rememberOwn(batch.service, batch.zone);
          continue;
        }
        const stored = { ...batch, changes: changesStored };
        if (lingering) {
          const stillRunning = await settleLingering(lingering);
          lingering = undefined;
          if (stillRunning !== undefined) {
            await recordZone(
              stored,
              {
                applied: false,
                attempts: [],
                error: `not asked: task ${stillRunning} of the same load balancer is still running, and a refresh now would race it`,
              },
              { notAsked: true },
            );
            continue;
          }
        }
        // Someone else may have written, or refreshed, this zone since this run read it.
        const check = await recheckZone(stored, pending);
        if (check.kind !== 'refresh') {
          await recordZone(
            stored,
            check.kind === 'applied'
              ? {
                  applied: true,
                  attempts: [
                    {
                      service: stored.service,
                      zone: stored.zone,
                      taskId: null,
                      status: 'done',
                      changes: stored.changes.length,
                      finishedAt: clock.now().toISOString(),
                    },
                  ],
                }
              : { applied: false, attempts: [], error: check.reason },
            { notAsked: check.kind === 'foreign' },
          );
          continue;
        }
        await options
          .onZoneRefreshing?.({
            service: stored.service,
            zone: stored.zone,
            changes: stored.changes,
            askedAt: clock.now().toISOString(),
          })
          .catch(() => undefined);
        const outcome = await refreshZone(stored.service, stored.zone, stored.changes.length, options);
        if (!outcome.applied && outcome.attempts.at(-1)?.status === 'timeout')
          lingering = { batch: stored, outcome };
        else await recordZone(stored, outcome);
      }
      if (lingering) await settleLingering(lingering);
    };

    /**
     * Just before a zone's refresh: waits for a refresh already running on the load balancer (a
     * second operator's), then reads the zone's unapplied changes again. None left: that refresh
     * carried this run's writes too, and asking for another would only drop sessions twice. More
     * than this run made (beyond what the zone held when it was read): someone else wrote
     * meanwhile, and a refresh now would push their change by surprise.
     */
    const recheckZone = async (
      batch: ZoneBatch,
      pendingAtStart: PendingChange[],
    ): Promise<{ kind: 'refresh' } | { kind: 'applied' } | { kind: 'foreign'; reason: string }> => {
      try {
        // One round trip in the usual case: both reads at once; the zone is read again only after
        // waiting for someone else's refresh.
        const [running, pendingNow] = await Promise.all([
          runningRefreshes(batch.service),
          api.pendingChanges(batch.service),
        ]);
        let now = dirtyZones(pendingNow)(batch.zone);
        if (running.length > 0) {
          onProgress?.({ kind: 'waiting-for-running-tasks', service: batch.service, taskIds: running });
          const ends = await Promise.all(
            running.map((id) => waitForTask(batch.service, id, options).catch(() => 'timeout' as const)),
          );
          if (ends.includes('timeout'))
            return {
              kind: 'foreign',
              reason: `not asked: refresh task(s) ${running.join(', ')} of this load balancer, started by someone else, did not finish in time`,
            };
          now = dirtyZones(await api.pendingChanges(batch.service))(batch.zone);
        }
        if (now === 0) return { kind: 'applied' };
        const counts = (farmZone: string) =>
          batch.zone === ALL_ZONES || farmZone === batch.zone || farmZone === ALL_ZONES;
        const ours = (writtenBy.get(batch.service) ?? []).filter((c) => counts(c.farm.zone)).length;
        const before = dirtyZones(pendingAtStart)(batch.zone);
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
    };

    const mayStart = (zonesAhead: number) => {
      if (options.signal?.aborted) return false;
      if (options.deadline === undefined) return true;
      const budget = options.zoneBudgetMs ?? options.taskTimeoutMs;
      return clock.now().getTime() + (zonesAhead + 1) * budget <= options.deadline;
    };

    /**
     * Waits once more (within the deadline) for the task of a zone whose wait timed out: OVH may
     * finish it just after. Records the zone either way; returns the task id if it still runs.
     */
    const settleLingering = async ({ batch, outcome }: { batch: ZoneBatch; outcome: ZoneRefreshOutcome }) => {
      const last = outcome.attempts.at(-1)!;
      let end: Awaited<ReturnType<typeof waitForTask>> = 'timeout';
      if (last.taskId !== null)
        end = await waitForTask(batch.service, last.taskId, options).catch(() => 'timeout' as const);
      if (end === 'done') {
        last.status = 'done';
        last.finishedAt = clock.now().toISOString();
        delete last.error;
        await recordZone(batch, { applied: true, attempts: outcome.attempts });
        return undefined;
      }
      await recordZone(batch, outcome);
      return end === 'timeout' ? (last.taskId ?? undefined) : undefined;
    };

    /**
     * The changes whose window is still open; the others' writes are put back (their farm's value
     * before this run) and refused `window-closed`. A write that cannot be put back is failed,
     * with what to do. The zone then holds a change that applies nothing new (stored, put back).
     */
    const undoClosed = async (changes: readonly Change[]): Promise<Change[]> => {
      const open: Change[] = [];
      await Promise.all(
        changes.map(async (change) => {
          const closedAt = windowClosed(change.origin, clock.now());
          if (!closedAt) {
            open.push(change);
            return;
          }
          if (change.from === change.to) {
            refuseClosed(change, closedAt, false); // a refresh only: nothing was written
            return;
          }
          try {
            await api.setStickiness(change.farm, change.from);
            noteWrite(change, change.from);
            refuseClosed(change, closedAt, true);
          } catch (error) {
            const facts = errorFacts(error);
            report.failed.push({
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
    };

    /** This run's stored writes, per load balancer (for the check before each refresh). */
    const writtenBy = new Map<string, Change[]>();
    /** Per `service zone`, the farms this run wrote and the value each stores now. */
    const storedIn = new Map<string, Map<string, UnappliedFarm>>();
    const noteWrite = (change: Change, value: Stickiness) => {
      writtenBy.set(change.farm.service, [...(writtenBy.get(change.farm.service) ?? []), change]);
      const key = `${change.farm.service} ${change.farm.zone}`;
      const farms = storedIn.get(key) ?? new Map<string, UnappliedFarm>();
      farms.set(farmKey(change.farm), {
        type: change.farm.type,
        farmId: change.farm.farmId,
        stickiness: value,
      });
      storedIn.set(key, farms);
    };
    /**
     * After a zone was left unapplied: recorded as stickler's own if OVH counts exactly what the
     * zone held when this run read it (nothing, or stickler's own) plus this run's writes there.
     */
    const rememberOwn = async (service: string, zone: string): Promise<boolean> => {
      if (!ownUnapplied) return false;
      const start = atStart.get(service);
      const before = start ? dirtyZones(start.pending)(zone) : 0;
      const ours = (writtenBy.get(service) ?? []).filter((c) => c.farm.zone === zone).length;
      const farms = new Map<string, UnappliedFarm>();
      for (const f of start?.own.get(zone)?.farms ?? [])
        farms.set(farmKey({ service, type: f.type, farmId: f.farmId }), f);
      for (const [k, f] of storedIn.get(`${service} ${zone}`) ?? []) farms.set(k, f);
      return ownUnapplied.remember(service, zone, before + ours, [...farms.values()]);
    };
    /** A request whose window has closed is refused where the write would happen: never written. */
    const refuseClosed = (change: Change, closedAt: string, written: boolean) =>
      report.refused.push({
        ref: change.farm,
        farm: change.farm,
        to: change.to,
        origin: change.origin,
        code: 'window-closed',
        reason: `its change window closed at ${closedAt}${written ? ' before its zone could be applied: its write was undone' : ', before it could be written'}; nothing of it goes live. To carry it out, publish it again with a new window and a new requestId`,
      });
    const write = async (change: Change): Promise<boolean> => {
      const closedAt = windowClosed(change.origin, clock.now());
      if (closedAt) {
        refuseClosed(change, closedAt, false);
        return false;
      }
      try {
        await api.setStickiness(change.farm, change.to);
      } catch (error) {
        const facts = errorFacts(error);
        // The write may have been carried out (no answer, a 5xx, a success answer that cannot be
        // read): the farm is read again before anything is decided.
        const stored = isAmbiguous(error) ? await storesTarget(change) : false;
        if (stored === false) {
          report.failed.push({
            ...failureOf(change),
            code: 'write-failed',
            ...facts,
            reason: `could not store the new stickiness: ${facts.reason}${isAmbiguous(error) ? '; the farm, read again, does not store it' : ''}`,
          });
          return false;
        }
        if (stored instanceof Error) {
          // Perhaps stored: counted as this run's write, so that the zone's check before its
          // refresh does not take it for someone else's; never reported as applied.
          noteWrite(change, change.to);
          report.failed.push({
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
      }
      noteWrite(change, change.to);
      onProgress?.({ kind: 'written', change, done: ++written, total });
      return true;
    };
    /** Whether the farm stores the change's target, read again; the read's error when it cannot be told. */
    const storesTarget = async (change: Change): Promise<boolean | Error> => {
      try {
        return (await api.getFarm(change.farm)).stickiness === change.to;
      } catch (error) {
        return error instanceof Error ? error : new Error(String(error));
      }
    };

    /** Records one zone's outcome in the report, and tells the caller at once. */
    const recordZone = async (
      batch: ZoneBatch,
      outcome: ZoneRefreshOutcome,
      why: { notAsked?: boolean } = {},
    ) => {
      // A refresh not asked because of someone else (their changes, their running task): the
      // worker tries the zone again later; at a terminal, the operator is told what to run.
      const waiting = why.notAsked === true && options.foreignPending === 'retry';
      // A refresh that failed after this run's writes: recorded as stickler's own unapplied
      // writes (when a store is wired), so that the next request in the zone applies them along.
      // The failure itself is final and reported at once (a zone whose tasks keep failing is not
      // refreshed again and again from the queue).
      const remembered =
        !outcome.applied && !why.notAsked ? await rememberOwn(batch.service, batch.zone) : false;
      const recorded = recordedZones.get(batch.service);
      if (remembered) recorded?.add(batch.zone);
      else if (outcome.applied) {
        // Applied: the records of the zones this refresh covered no longer hold.
        const covered = [...(recorded ?? [])].filter((z) => batch.zone === ALL_ZONES || z === batch.zone);
        await Promise.all(covered.map((z) => ownUnapplied?.forget(batch.service, z)));
      }
      report.refreshes.push(...outcome.attempts);
      const zone: { applied: AppliedChange[]; failed: Failure[] } = { applied: [], failed: [] };
      if (outcome.applied) {
        const refresh = outcome.attempts[outcome.attempts.length - 1]!;
        zone.applied = batch.changes.map((change) => ({ change, refresh }));
      } else if (outcome.outcomeUnknown && !remembered) {
        // The refresh was asked and may have applied the zone: said so, never "not applied".
        zone.failed = batch.changes.map((change) => ({
          ...failureOf(change),
          code: 'outcome-unknown' as const,
          reason:
            `outcome unknown in zone ${batch.zone} of ${batch.service}: stored, and refreshed, but whether the refresh ` +
            `applied it could not be told (${outcome.error}); 'stickler show ${batch.service}' tells: a zone with no ` +
            `unapplied changes left was applied; if not, 'stickler refresh ${batch.service} ${batch.zone}' applies it`,
          retryable: false,
          ...(outcome.queryId ? { queryId: outcome.queryId } : {}),
        }));
      } else {
        const reason =
          `stored but not applied in zone ${batch.zone} of ${batch.service}: refresh ${outcome.error}; ` +
          (waiting
            ? 'the zone now holds these unapplied changes; trying again later'
            : remembered
              ? "the zone now holds these unapplied changes, recorded as stickler's own: the next change request in this zone applies them along " +
                `(or, once the cause is fixed, 'stickler refresh ${batch.service} ${batch.zone}')`
              : `the zone now holds these unapplied changes: once the cause is fixed, apply it with ` +
                `'stickler refresh ${batch.service} ${batch.zone}'`);
        zone.failed = batch.changes.map((change) => ({
          ...failureOf(change),
          code: waiting ? ('foreign-pending' as const) : ('refresh-failed' as const),
          reason,
          retryable: waiting,
          ...(outcome.queryId ? { queryId: outcome.queryId } : {}),
        }));
      }
      report.applied.push(...zone.applied);
      report.failed.push(...zone.failed);
      // The caller's bookkeeping must never stop the next zone from being applied.
      await options.onZoneDone?.(zone).catch(() => undefined);
    };
    await Promise.all(services.map(applyService));
    return report;
  };
};
