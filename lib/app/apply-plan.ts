/**
 * Carries out a plan with as few zone applies as possible and gives every change one outcome.
 *
 * Per service (services run in parallel, sharing the OVH client's concurrency limit):
 * 1. read pendingChanges (and the refresh tasks running) and refuse changes whose zone already
 *    holds someone else's edits;
 * 2. wait for any refresh task already running, so that stickler never races one;
 * 3. PUT only the farms that differ;
 * 4. refresh each touched zone once, as soon as its writes are stored (one zone at a time per
 *    service, the next zone's writes going on meanwhile), and poll the task: `done` applies its changes; `error`, `cancelled`, `blocked`
 *    or a timeout fail them.
 */
import { ALL_ZONES, type Farm, type FarmRef, formatFarmRef } from '../domain/farm';
import type { Change, ChangeOrigin, Plan, Rejection, Unchanged } from '../domain/plan';
import type { Stickiness } from '../domain/stickiness';
import {
  batchByZone,
  dirtyZones,
  guardPendingChanges,
  type PendingChange,
  type ZoneBatch,
} from '../domain/zones';
import type { Clock } from '../ports/clock';
import type { LoadBalancerApi, Task, TaskStatus } from '../ports/load-balancer-api';

export interface ApplyOptions {
  /** Apply zones even when they hold unapplied changes stickler did not make. */
  allowForeignPending: boolean;
  /** How long to wait for one refresh task (and for tasks already running) before failing. */
  taskTimeoutMs: number;
  pollIntervalMs: number;
  /** Refresh attempts per zone when a task ends in error, cancelled or blocked (default 3). */
  refreshAttempts?: number;
  /**
   * Stops the run gracefully: no zone whose writes have not started is touched; a zone whose
   * writes have started is still applied, so nothing is left stored but not applied.
   */
  signal?: AbortSignal;
}

export const DEFAULT_APPLY_OPTIONS: ApplyOptions = {
  allowForeignPending: false,
  taskTimeoutMs: 10 * 60_000,
  pollIntervalMs: 2_000,
};

export interface RefreshResult {
  service: string;
  zone: string;
  taskId: number | null;
  status: TaskStatus | 'timeout' | 'not-started';
  error?: string;
  /** Number of changes this refresh carried. */
  changes: number;
}

export interface Failure {
  ref: FarmRef;
  /** The farm as read, when it could be read. */
  farm?: Farm;
  from?: Stickiness;
  to: Stickiness;
  origin: ChangeOrigin;
  code: 'read-failed' | 'write-failed' | 'refresh-failed' | 'precheck-failed' | 'interrupted';
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
  | { kind: 'refresh-started'; service: string; zone: string; taskId: number; changes: number }
  | { kind: 'refresh-finished'; result: RefreshResult };

export interface ApplyPlanDeps {
  api: LoadBalancerApi;
  clock: Clock;
  onProgress?: (event: ApplyProgress) => void;
}

const TERMINAL: readonly TaskStatus[] = ['done', 'error', 'cancelled', 'blocked'];

const refreshOnlyChange = (u: Unchanged): Change => ({
  farm: u.farm,
  from: u.farm.stickiness,
  to: u.farm.stickiness,
  origin: u.origin,
});

/** A failure after which the request may or may not have been carried out (timeout, network, 5xx). */
const isAmbiguous = (error: unknown): boolean => {
  const e = error as { code?: unknown; status?: unknown };
  return e?.code === 'timeout' || e?.code === 'network' || (typeof e?.status === 'number' && e.status >= 500);
};

const failureOf = (change: Change) => ({
  ref: change.farm,
  farm: change.farm,
  from: change.from,
  to: change.to,
  origin: change.origin,
});

export const errorFacts = (error: unknown): { reason: string; retryable: boolean; queryId?: string } => {
  const e = error as { message?: unknown; retryable?: unknown; queryId?: unknown };
  return {
    reason: typeof e?.message === 'string' ? e.message : String(error),
    // Errors that do not say otherwise (network, unknown) are worth another try.
    retryable: typeof e?.retryable === 'boolean' ? e.retryable : true,
    ...(typeof e?.queryId === 'string' ? { queryId: e.queryId } : {}),
  };
};

export const makeApplyPlan = ({ api, clock, onProgress }: ApplyPlanDeps) => {
  const waitForTask = async (service: string, taskId: number, timeoutMs: number, intervalMs: number) => {
    const deadline = clock.now().getTime() + timeoutMs;
    for (;;) {
      await clock.sleep(intervalMs);
      const task: Task = await api.getTask(service, taskId);
      if (TERMINAL.includes(task.status)) return task.status;
      if (clock.now().getTime() >= deadline) return 'timeout' as const;
    }
  };

  /** Ids of the service's refresh tasks that are todo or doing (two filtered reads: the API takes one status). */
  const runningRefreshes = async (service: string): Promise<number[]> => {
    const [todo, doing] = await Promise.all([
      api.listTasks(service, { action: 'refreshIplb', status: 'todo' }),
      api.listTasks(service, { action: 'refreshIplb', status: 'doing' }),
    ]);
    return [...todo, ...doing];
  };

  return async (plan: Plan, options: ApplyOptions = DEFAULT_APPLY_OPTIONS): Promise<ApplyReport> => {
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

      const { accepted, refused } = guardPendingChanges(
        changes,
        new Map([[service, pending]]),
        options.allowForeignPending,
      );
      report.refused.push(...refused);

      // A stored-but-maybe-not-live target: applied only when the operator allows foreign changes.
      const count = dirtyZones(pending);
      const refreshOnly = new Set<Change>();
      for (const u of stillUnchanged) {
        const n = count(u.farm.zone);
        if (n === 0) report.unchanged.push(u);
        else if (options.allowForeignPending) refreshOnly.add(refreshOnlyChange(u));
        else {
          report.refused.push({
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
          running.map((id) =>
            waitForTask(service, id, options.taskTimeoutMs, options.pollIntervalMs).catch(
              () => 'timeout' as const,
            ),
          ),
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
      const writeBatch = (batch: ZoneBatch) => {
        if (options.signal?.aborted) return undefined;
        return Promise.all(batch.changes.map((c) => (refreshOnly.has(c) ? Promise.resolve(true) : write(c))));
      };
      let writes = batches[0] ? writeBatch(batches[0]) : undefined;
      for (let i = 0; i < batches.length; i++) {
        const batch = batches[i]!;
        if (!writes) {
          interrupt(batch.changes);
          continue;
        }
        const ok = await writes;
        writes = batches[i + 1] ? writeBatch(batches[i + 1]!) : undefined;
        const changesStored = batch.changes.filter((_, j) => ok[j]);
        if (changesStored.length > 0) await refreshBatch({ ...batch, changes: changesStored });
      }
    };

    const write = async (change: Change): Promise<boolean> => {
      try {
        await api.setStickiness(change.farm, change.to);
        onProgress?.({ kind: 'written', change, done: ++written, total });
        return true;
      } catch (error) {
        const facts = errorFacts(error);
        report.failed.push({
          ...failureOf(change),
          code: 'write-failed',
          ...facts,
          reason: `could not store the new stickiness: ${facts.reason}`,
        });
        return false;
      }
    };

    /**
     * After a refresh POST that failed without saying whether it was processed: waits for any
     * refresh task in flight (it may be ours), then reads the zone's pending changes. None left
     * means the zone is applied; some left with no task running means no refresh took them,
     * so asking again cannot apply the zone twice.
     */
    const settleAmbiguousRefresh = async (
      batch: ZoneBatch,
    ): Promise<'applied' | 'not-applied' | 'unknown'> => {
      const [todo, doing] = await Promise.all([
        api.listTasks(batch.service, { action: 'refreshIplb', status: 'todo' }),
        api.listTasks(batch.service, { action: 'refreshIplb', status: 'doing' }),
      ]);
      const ends = await Promise.all(
        [...todo, ...doing].map((id) =>
          waitForTask(batch.service, id, options.taskTimeoutMs, options.pollIntervalMs),
        ),
      );
      if (ends.includes('timeout')) return 'unknown';
      const left = dirtyZones(await api.pendingChanges(batch.service))(batch.zone);
      return left === 0 ? 'applied' : 'not-applied';
    };

    /**
     * Refreshes one zone. A task that ends in error, cancelled or blocked is tried again at
     * once (the zone holds only this run's changes, as checked before writing); after the last
     * attempt the changes are stored but not applied, and a later run would see them as pending
     * changes it did not make: the failure says how to finish the job.
     */
    const refreshBatch = async (batch: ZoneBatch) => {
      const attempts = options.refreshAttempts ?? 3;
      for (let attempt = 1; ; attempt++) {
        const result: RefreshResult = {
          service: batch.service,
          zone: batch.zone,
          taskId: null,
          status: 'not-started',
          changes: batch.changes.length,
        };
        let tryAgain = false;
        let queryId: string | undefined;
        /** Settles a refresh whose outcome we could not observe, instead of guessing. */
        const settle = async () => {
          const settled = await settleAmbiguousRefresh(batch).catch(() => 'unknown' as const);
          if (settled === 'applied') {
            result.status = 'done';
            delete result.error;
          } else tryAgain = settled === 'not-applied';
        };
        let task: Task | undefined;
        try {
          task = await api.refresh(batch.service, batch.zone);
        } catch (error) {
          const facts = errorFacts(error);
          result.error = facts.reason;
          queryId = facts.queryId;
          if (facts.retryable)
            tryAgain = true; // the answer proves the POST was not processed
          else if (isAmbiguous(error)) await settle(); // it may have created a task
        }
        if (task) {
          result.taskId = task.id;
          onProgress?.({
            kind: 'refresh-started',
            service: batch.service,
            zone: batch.zone,
            taskId: task.id,
            changes: batch.changes.length,
          });
          try {
            result.status = TERMINAL.includes(task.status)
              ? task.status
              : await waitForTask(batch.service, task.id, options.taskTimeoutMs, options.pollIntervalMs);
            if (result.status === 'timeout') {
              // The task may still be running: another refresh now would race it.
              result.error = `task ${result.taskId} did not finish within ${options.taskTimeoutMs} ms`;
            } else if (result.status !== 'done') {
              result.error = `task ${result.taskId} ended ${result.status}`;
              tryAgain = true;
            }
          } catch (error) {
            // The task exists but could not be followed: never ask for another refresh blindly.
            const facts = errorFacts(error);
            result.error = `could not follow task ${task.id}: ${facts.reason}`;
            queryId = facts.queryId;
            await settle();
          }
        }
        report.refreshes.push(result);
        onProgress?.({ kind: 'refresh-finished', result });
        if (result.status === 'done') {
          report.applied.push(...batch.changes.map((change) => ({ change, refresh: result })));
          return;
        }
        if (!tryAgain || attempt >= attempts) {
          const reason =
            `stored but not applied in zone ${batch.zone} of ${batch.service}: refresh ${result.error} ` +
            `(attempt ${attempt} of ${attempts}); the zone now holds these unapplied changes: apply it, ` +
            'or run again allowing foreign pending changes';
          report.failed.push(
            ...batch.changes.map((change) => ({
              ...failureOf(change),
              code: 'refresh-failed' as const,
              reason,
              retryable: false,
              ...(queryId ? { queryId } : {}),
            })),
          );
          return;
        }
        await clock.sleep(options.pollIntervalMs);
      }
    };

    await Promise.all(services.map(applyService));
    return report;
  };
};
