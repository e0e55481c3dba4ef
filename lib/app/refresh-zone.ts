/**
 * Applying one zone of one service (an OVH refresh), done carefully:
 * - a refresh POST is repeated only when the answer proves it was not processed;
 * - after an ambiguous failure, or when its task cannot be followed, the outcome is settled
 *   (wait for tasks in flight, then read the zone's pending changes) instead of guessed, so a
 *   zone is never applied twice by a retry;
 * - a task ending error, cancelled or blocked is tried again, a bounded number of times;
 * - a task still running at the timeout is not raced.
 */
import { unappliedCountIn } from '../domain/zones';
import type { Clock } from '../ports/clock';
import {
  type LoadBalancerApi,
  REFRESH_TASK_ACTION,
  type Task,
  type TaskStatus,
} from '../ports/load-balancer-api';
import { makePollSchedule, type PollSchedule } from '../shared/poll-schedule';
import { errorFacts, isAmbiguous } from './error-facts';

export interface RefreshTiming {
  /** How long to wait for one refresh task (and for tasks already running) before failing. */
  taskTimeoutMs: number;
  pollIntervalMs: number;
  /** Refresh attempts per zone when a task ends in error, cancelled or blocked (default 3). */
  refreshAttempts?: number;
  /**
   * Epoch ms by which everything must have ended (a Lambda's timeout less a margin). Every wait
   * stops there, and a further refresh attempt starts only if a whole task still fits before it:
   * a zone is then reported failed rather than cut off by the function timeout.
   */
  deadline?: number;
}

/** The wait for one task ends at its own timeout or at the deadline, whichever comes first. */
export const waitLimit = (timing: RefreshTiming, now: number): number =>
  Math.min(now + timing.taskTimeoutMs, timing.deadline ?? Number.POSITIVE_INFINITY);

export interface RefreshResult {
  service: string;
  zone: string;
  taskId: number | null;
  /** `unknown`: asked, but neither its task nor the zone could be read to tell how it ended. */
  status: TaskStatus | 'timeout' | 'not-started' | 'unknown';
  error?: string;
  /** Number of changes this refresh carried. */
  changes: number;
  /** When this attempt was seen to end (ISO 8601). */
  finishedAt?: string;
}

export type RefreshProgress =
  | { kind: 'refresh-started'; service: string; zone: string; taskId: number; changes: number }
  | { kind: 'refresh-finished'; result: RefreshResult };

export interface ZoneRefreshOutcome {
  applied: boolean;
  /** Every refresh asked for, in order. */
  attempts: RefreshResult[];
  /** Why the zone is not applied, when it is not. */
  error?: string;
  queryId?: string;
  /**
   * The last refresh may have applied the zone: its task could not be read, nor the zone's
   * unapplied changes. Not applied as far as stickler knows, and never to be reported as "not applied".
   */
  outcomeUnknown?: boolean;
}

export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = ['done', 'error', 'cancelled', 'blocked'];

/** How one refresh attempt ended, and whether asking again is safe and useful. */
interface RefreshAttempt {
  result: RefreshResult;
  tryAgain: boolean;
  /** Neither its task nor the zone could be read to tell how it ended. */
  unknown: boolean;
  queryId?: string;
}

type Settled = 'applied' | 'not-applied' | 'unknown';

/** An attempt whose end was not seen, as settling the zone told it. */
const settledAttempt = (
  result: RefreshResult,
  queryId: string | undefined,
  settled: Settled,
): RefreshAttempt => {
  if (settled === 'applied') {
    const { error: _, ...applied } = result;
    return { result: { ...applied, status: 'done' }, tryAgain: false, unknown: false, queryId };
  }
  if (settled === 'not-applied') return { result, tryAgain: true, unknown: false, queryId };
  return { result: { ...result, status: 'unknown' }, tryAgain: false, unknown: true, queryId };
};

export const makeZoneRefresher = (deps: {
  api: LoadBalancerApi;
  clock: Clock;
  onProgress?: (event: RefreshProgress) => void;
}) => {
  const { api, clock, onProgress } = deps;

  // Looks at tasks soon at first, then as long as tasks of this run have taken (poll-schedule.ts).
  const schedules = new Map<number, PollSchedule>();
  const scheduleFor = (intervalMs: number) => {
    const known = schedules.get(intervalMs);
    if (known) return known;
    const schedule = makePollSchedule(intervalMs);
    schedules.set(intervalMs, schedule);
    return schedule;
  };

  /** Waits for a task to end; `ownRefresh`: it was just asked by this run (its duration teaches the schedule). */
  const waitForTask = async (service: string, taskId: number, timing: RefreshTiming, ownRefresh = false) => {
    const started = clock.now().getTime();
    const deadline = waitLimit(timing, started);
    const schedule = scheduleFor(timing.pollIntervalMs);
    let runningAt = 0;
    for (let n = 0; ; n++) {
      const elapsed = clock.now().getTime() - started;
      await clock.sleep(Math.max(0, Math.min(schedule.delay(n, elapsed), deadline - clock.now().getTime())));
      const task: Task = await api.getTask(service, taskId);
      const at = clock.now().getTime() - started;
      if (TERMINAL_TASK_STATUSES.includes(task.status)) {
        if (ownRefresh && task.status === 'done') schedule.observe(runningAt, at);
        return task.status;
      }
      runningAt = at;
      if (clock.now().getTime() >= deadline) return 'timeout' as const;
    }
  };

  /** Ids of the service's refresh tasks that are todo or doing (two filtered reads: the API takes one status). */
  const runningRefreshes = async (service: string): Promise<number[]> => {
    const [todo, doing] = await Promise.all([
      api.listTasks(service, { action: REFRESH_TASK_ACTION, status: 'todo' }),
      api.listTasks(service, { action: REFRESH_TASK_ACTION, status: 'doing' }),
    ]);
    // A task moving from todo to doing between the two reads is listed by both: count it once.
    return [...new Set([...todo, ...doing])];
  };

  /**
   * After a refresh whose outcome could not be observed: waits for any refresh task in flight
   * (it may be ours), then reads the zone's pending changes. None left means the zone is
   * applied; some left with no task running means no refresh took them, so asking again cannot
   * apply the zone twice.
   */
  const settle = async (service: string, zone: string, timing: RefreshTiming) => {
    const running = await runningRefreshes(service);
    const ends = await Promise.all(running.map((id) => waitForTask(service, id, timing)));
    if (ends.includes('timeout')) return 'unknown' as const;
    return unappliedCountIn(await api.pendingChanges(service))(zone) === 0
      ? ('applied' as const)
      : ('not-applied' as const);
  };

  const settledOrUnknown = (service: string, zone: string, timing: RefreshTiming): Promise<Settled> =>
    settle(service, zone, timing).catch(() => 'unknown' as const);

  /** Follows an asked refresh's task to its end; settles the zone when the task cannot be followed. */
  const followTask = async (
    result: RefreshResult,
    task: Task,
    timing: RefreshTiming,
  ): Promise<RefreshAttempt> => {
    try {
      result.status = TERMINAL_TASK_STATUSES.includes(task.status)
        ? task.status
        : await waitForTask(result.service, task.id, timing, true);
      if (result.status === 'timeout') {
        // The task may still be running: another refresh now would race it.
        result.error =
          timing.deadline !== undefined && clock.now().getTime() >= timing.deadline
            ? `task ${result.taskId} had not finished when the time left for this run ran out`
            : `task ${result.taskId} did not finish within ${timing.taskTimeoutMs} ms`;
      } else if (result.status !== 'done') {
        result.error = `task ${result.taskId} ended ${result.status}`;
        return { result, tryAgain: true, unknown: false };
      }
      return { result, tryAgain: false, unknown: false };
    } catch (error) {
      // The task exists but could not be followed: never ask for another refresh blindly.
      const facts = errorFacts(error);
      result.error = `could not follow task ${task.id}: ${facts.reason}`;
      return settledAttempt(
        result,
        facts.queryId,
        await settledOrUnknown(result.service, result.zone, timing),
      );
    }
  };

  /** One refresh asked and followed to its end (or its outcome settled when it could not be seen). */
  const attemptRefresh = async (
    service: string,
    zone: string,
    changes: number,
    timing: RefreshTiming,
  ): Promise<RefreshAttempt> => {
    const result: RefreshResult = { service, zone, taskId: null, status: 'not-started', changes };
    let task: Task;
    try {
      task = await api.refresh(service, zone);
    } catch (error) {
      const facts = errorFacts(error);
      result.error = facts.reason;
      // A retryable answer proves the POST was not processed.
      if (facts.retryable) return { result, tryAgain: true, unknown: false, queryId: facts.queryId };
      // An ambiguous one may have created a task.
      if (isAmbiguous(error))
        return settledAttempt(result, facts.queryId, await settledOrUnknown(service, zone, timing));
      return { result, tryAgain: false, unknown: false, queryId: facts.queryId };
    }
    result.taskId = task.id;
    onProgress?.({ kind: 'refresh-started', service, zone, taskId: task.id, changes });
    return followTask(result, task, timing);
  };

  const refreshZone = async (
    service: string,
    zone: string,
    changes: number,
    timing: RefreshTiming,
  ): Promise<ZoneRefreshOutcome> => {
    const maxAttempts = timing.refreshAttempts ?? 3;
    const attempts: RefreshResult[] = [];
    for (let attempt = 1; ; attempt++) {
      const { result, tryAgain, unknown, queryId } = await attemptRefresh(service, zone, changes, timing);
      result.finishedAt = clock.now().toISOString();
      attempts.push(result);
      onProgress?.({ kind: 'refresh-finished', result });
      if (result.status === 'done') return { applied: true, attempts };
      const outOfTime =
        tryAgain &&
        attempt < maxAttempts &&
        timing.deadline !== undefined &&
        clock.now().getTime() + timing.pollIntervalMs + timing.taskTimeoutMs > timing.deadline;
      if (!tryAgain || attempt >= maxAttempts || outOfTime) {
        return {
          applied: false,
          attempts,
          error: `${result.error} (attempt ${attempt} of ${maxAttempts}${outOfTime ? '; no time left for another' : ''})`,
          ...(queryId ? { queryId } : {}),
          ...(unknown ? { outcomeUnknown: true } : {}),
        };
      }
      await clock.sleep(timing.pollIntervalMs);
    }
  };

  return { refreshZone, waitForTask, runningRefreshes };
};
