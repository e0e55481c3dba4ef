/**
 * The CLI as a door of the pipeline: an operator's changes go the way every other request goes.
 * Each change becomes one `Stickiness Change Requested` built by the one intake (source
 * `stickler.cli`, the operator as actor), published on the bus, and followed in the worker's
 * records to its outcome. The worker's lease and ordering then serialise operators with each
 * other and with every other door, and every change gets its audit event.
 *
 * - `request`: builds every change (all or none), publishes them, follows them. A change the bus
 *   would not take is reported as not requested (its request id says which), never guessed.
 * - `cancel`: asks the worker to end a request still waiting for its window, and follows it.
 * - `planUndo`: the reverse of applied requests, from the outcomes their records keep, refusing
 *   a farm another request has changed since (named) unless forced.
 * - `findRequests`: the requests of a ticket or of a run, for an undo of all of them.
 */
import { createHash } from 'node:crypto';
import type { OutgoingEvent, TerminalOutcome } from '../domain/audit-events';
import { InvalidInputError } from '../domain/errors';
import { CancelRequestedDetailSchema, DETAIL_TYPES } from '../domain/events';
import { type FarmRef, farmKey, formatFarmRef } from '../domain/farm';
import type { RequestDraft } from '../domain/intake';
import type { FarmType, StickinessWord } from '../domain/stickiness';
import { plainText } from '../domain/text';
import type { Clock } from '../ports/clock';
import type { EventPublisher, PublishFailure } from '../ports/event-publisher';
import type { FarmLedger } from '../ports/farm-ledger';
import type { IdempotencyStore, RequestStatus } from '../ports/idempotency-store';
import { type FollowedOutcome, type FollowOptions, makeFollowRequests } from './follow-requests';
import { buildAll, changeRequestedEvent } from './request-changes';
import { CLI_SOURCE, cliRequestId, isOfRun, RUN_ID, runGroups, ticketGroup } from './request-groups';

export { CLI_SOURCE, cliRequestId };

export interface PipelineDoorDeps {
  publisher: EventPublisher;
  /** The worker's records: where each request stands, and the requests of a ticket or a run. */
  records: Pick<IdempotencyStore, 'status' | 'members'>;
  /** Farms' order of requests (for an undo: has another request changed the farm since?). */
  ledger: Pick<FarmLedger, 'read'>;
  clock: Clock;
}

/** Who asks, and why: shared by every change of one run. */
export interface Asker {
  /** The operator: their AWS identity (ARN), or `local` on the local pipeline. */
  actor: { id: string; name?: string };
  reason?: string;
  ticket?: string;
  /** A window for every request (`prefer: 'quietest'`: the worker defers each to its load balancer's quietest slot). */
  window?: { notBefore?: string; notAfter: string; prefer?: 'quietest' };
}

export interface Target {
  farm: FarmRef;
  stickiness: StickinessWord;
}

export interface Requested extends Target {
  requestId: string;
  /** The bus gave no answer (this code) to its publication: it may or may not have it. */
  publishUncertain?: string;
  /** Not published: the bus's answer (an error code). */
  refusedBy?: string;
}

export interface DoorResult {
  /** The run: every request id of it starts with `cli-<run>-`. */
  runId: string;
  requested: Requested[];
  /** Changes the bus did not take after its retries: nothing was asked for them. */
  notPublished: Requested[];
  outcomes: Map<string, FollowedOutcome>;
  /** The records could not be read while following: the outcomes are not known (the requests are out). */
  followError?: string;
}

export const makePipelineDoor = (deps: PipelineDoorDeps) => {
  const follow = makeFollowRequests({ idempotency: deps.records, clock: deps.clock });

  /** Publishes; says, per event the bus did not take (after the publisher's retries), why. */
  const publish = async (events: OutgoingEvent[]): Promise<Map<string, PublishFailure>> => {
    const { failed, why } = await deps.publisher.publish(events);
    return new Map(
      failed.map((e) => [e.dedupeKey, why?.get(e) ?? { code: 'not-published', maybePublished: false }]),
    );
  };

  return {
    /** Where each request stands now (one look): ended, deferred, or not yet (with its state, if seen). */
    status: (requestIds: readonly string[]) => follow(requestIds, { timeoutMs: 0, pollMs: 1 }),

    /**
     * Builds one request per target (all pass the intake, or an error lists every problem and
     * nothing is published), publishes them and follows them until each has an outcome or
     * `follow.timeoutMs` runs out.
     */
    async request(
      runId: string,
      targets: readonly Target[],
      asker: Asker,
      followOptions: FollowOptions,
    ): Promise<DoorResult> {
      if (!RUN_ID.test(runId))
        throw new InvalidInputError('run id', [
          { path: 'runId', message: 'must be 1 to 64 letters, digits, _ or -' },
        ]);
      const now = deps.clock.now();
      const drafts: RequestDraft[] = targets.map((t) => ({
        requestId: cliRequestId(runId, t.farm),
        target: {
          service: t.farm.service,
          farmType: t.farm.type,
          farmId: t.farm.farmId,
          stickiness: t.stickiness,
        },
        actor: { kind: 'cli', id: asker.actor.id, ...(asker.actor.name ? { name: asker.actor.name } : {}) },
        ...(asker.ticket ? { ticket: { key: asker.ticket } } : {}),
        ...(asker.reason ? { reason: asker.reason } : {}),
        requestedAt: now.toISOString(),
        ...(asker.window ? { window: asker.window } : {}),
      }));
      const built = buildAll(drafts, now, `run ${runId}`);
      const all: Requested[] = built.map((r, i) => ({ ...targets[i]!, requestId: r.requestId }));
      if (built.length === 0) return { runId, requested: [], notPublished: [], outcomes: new Map() };
      // One look at the records before anything is published: a table that cannot be read fails
      // the run here, not after the requests are out with nobody to follow them.
      await deps.records.status([all[0]!.requestId]);
      const failures = await publish(built.map((r) => changeRequestedEvent(r, CLI_SOURCE)));
      // A request the bus may have taken (no answer) is followed like the others: its outcome, if
      // any, says whether it was; one the bus answered no to was not asked for.
      const requested = all.flatMap((r) => {
        const why = failures.get(r.requestId);
        if (!why) return [r];
        return why.maybePublished ? [{ ...r, publishUncertain: why.code }] : [];
      });
      const notPublished = all.flatMap((r) => {
        const why = failures.get(r.requestId);
        return why && !why.maybePublished ? [{ ...r, refusedBy: why.code }] : [];
      });
      let outcomes: Map<string, FollowedOutcome>;
      let followError: string | undefined;
      try {
        outcomes = await follow(
          requested.map((r) => r.requestId),
          followOptions,
        );
      } catch (error) {
        // The requests are out: their ids are said, with what is known (nothing yet).
        followError = plainText((error as Error)?.message ?? String(error), 300);
        outcomes = new Map(requested.map((r) => [r.requestId, { kind: 'running' as const }]));
      }
      return { runId, requested, notPublished, outcomes, ...(followError ? { followError } : {}) };
    },

    /**
     * Asks the worker to cancel `requestId` (it must be waiting for its change window) and follows
     * the cancel: `cancelled`, or why it was not (the cancel's own outcome), or still running.
     */
    async cancel(
      requestId: string,
      asker: Asker,
      followOptions: FollowOptions,
    ): Promise<{
      cancelId: string;
      outcome: 'cancelled' | 'not-cancelled' | 'not-published' | 'running';
      detail?: string;
      request?: FollowedOutcome;
    }> {
      const cancelId = `cancel-${createHash('sha256').update(`${requestId}\n${deps.clock.now().toISOString()}`).digest('hex').slice(0, 24)}`;
      const parsed = CancelRequestedDetailSchema.safeParse({
        cancelId,
        requestId,
        actor: {
          kind: 'cli',
          id: plainText(asker.actor.id, 256),
          ...(asker.actor.name ? { name: plainText(asker.actor.name, 256) } : {}),
        },
        ...(asker.reason ? { reason: plainText(asker.reason, 2000) } : {}),
        requestedAt: deps.clock.now().toISOString(),
      });
      if (!parsed.success)
        throw new InvalidInputError(
          'the cancel is not valid',
          parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
        );
      const detail = parsed.data;
      // A request that has already ended is not cancelled, and nothing is published for it.
      const now = (await deps.records.status([requestId])).get(requestId);
      if (now?.terminal && (now.state === 'completed' || now.state === 'dead-lettered'))
        return {
          cancelId,
          outcome: 'not-cancelled',
          detail: `it had already ended: ${now.terminal.outcome}`,
          request: { kind: 'ended', terminal: now.terminal },
        };
      const failed = await publish([
        { detailType: DETAIL_TYPES.cancelRequested, detail, dedupeKey: cancelId, source: CLI_SOURCE },
      ]);
      const why = failed.get(cancelId);
      // Refused by the bus: nothing was asked. No answer: it may be out, so it is followed.
      if (why && !why.maybePublished) return { cancelId, outcome: 'not-published', detail: why.code };
      // The cancel's record ends when the worker has carried it out or refused it; the request's
      // record then says whether it was cancelled.
      const cancelKey = `cancel:${cancelId}`;
      const end = deps.clock.now().getTime() + followOptions.timeoutMs;
      for (;;) {
        const status = await deps.records.status([cancelKey, requestId]);
        const request = status.get(requestId);
        // Cancelled by this cancel (its Cancelled names it), not by another one at the same time.
        if (
          request?.terminal?.outcome === 'cancelled' &&
          request.state === 'completed' &&
          request.terminal.message?.includes(`(cancel ${cancelId})`)
        )
          return { cancelId, outcome: 'cancelled', request: { kind: 'ended', terminal: request.terminal } };
        const own = status.get(cancelKey);
        if (own && (own.state === 'completed' || own.state === 'decided' || own.state === 'dead-lettered')) {
          const followed: FollowedOutcome | undefined = request?.terminal
            ? { kind: 'ended', terminal: request.terminal }
            : request?.state === 'deferred' && request.deferredUntil
              ? { kind: 'deferred', until: request.deferredUntil }
              : request
                ? { kind: 'running', state: request.state }
                : undefined;
          return {
            cancelId,
            outcome: 'not-cancelled',
            detail: request
              ? request.terminal
                ? request.terminal.outcome === 'cancelled'
                  ? 'another cancel ended it first'
                  : `it had already ended: ${request.terminal.outcome}`
                : `it is ${request.state}, not waiting for its window`
              : 'the worker has no such request',
            ...(followed ? { request: followed } : {}),
          };
        }
        followOptions.onProgress?.(0, 1);
        if (followOptions.signal?.aborted || deps.clock.now().getTime() + followOptions.pollMs > end)
          return { cancelId, outcome: 'running' };
        await deps.clock.sleep(followOptions.pollMs);
      }
    },

    /**
     * The requests of a ticket (whatever their door) or of a run (the CLI's or a compliance
     * run's), from the worker's records: each member is checked against its record (a ticket's
     * request carries that ticket; a run's id is of that run).
     */
    findRequests: async (of: { ticket: string } | { run: string }): Promise<string[]> => {
      if ('run' in of) {
        const groups = await Promise.all(runGroups(of.run).map((g) => deps.records.members(g)));
        return [...new Set(groups.flat())].filter((id) => isOfRun(id, of.run)).sort();
      }
      const members = await deps.records.members(ticketGroup(of.ticket));
      const status =
        members.length > 0 ? await deps.records.status(members) : new Map<string, RequestStatus>();
      // A request with no outcome yet is kept: the undo says it cannot be undone yet.
      return members.filter((id) => {
        const terminal = status.get(id)?.terminal;
        return !terminal || terminal.ticket === of.ticket;
      });
    },

    /** See makePlanUndo; `readFarm` reads each farm as stored now (OVH). */
    planUndo: (requestIds: readonly string[], force: boolean, readFarm?: PlanUndoDeps['readFarm']) =>
      makePlanUndo({ ...deps, ...(readFarm ? { readFarm } : {}) })(requestIds, force),
  };
};

export interface UndoChange {
  /** The request undone (the last one of this undo on its farm). */
  requestId: string;
  /** Earlier requests of this undo on the same farm, undone with it (oldest first). */
  alsoUndoes?: string[];
  farm: FarmRef;
  /** What the request set, and what the farm goes back to. */
  from: StickinessWord;
  to: StickinessWord;
  /**
   * Forced over this newer request (`outside`: a change made outside stickler; `between`: a
   * request not in this undo, between two of it).
   */
  newer?: string;
  /** A request waiting for its window on this farm, which the undo (newer) supersedes. */
  supersedes?: { requestId: string; until: string };
}

export interface UndoRefusal {
  requestId: string;
  reason: string;
  newer?: string;
}

export interface UndoPlan {
  reverse: UndoChange[];
  refused: UndoRefusal[];
}

export type PipelineDoor = ReturnType<typeof makePipelineDoor>;

export interface PlanUndoDeps {
  records: Pick<IdempotencyStore, 'status'>;
  ledger: Pick<FarmLedger, 'read'>;
  /** The farm's stickiness as stored now, when it can be read (OVH): a change made since is seen. */
  readFarm?: (ref: FarmRef) => Promise<StickinessWord | undefined>;
}

/**
 * The reverse of each applied request: its farm back to `before`. Refused, with the reason: a
 * request that did not apply a change, a record that is gone, and unless `force`, a farm changed
 * since (by a newer request that applied or is still under way, or outside stickler: it no longer
 * stores what the request set). A newer request that changed nothing (unchanged, refused) does
 * not count. Several requests of one farm are undone as one change, back to what the farm stored
 * before the first, unless another request changed the farm between two of them (refused, unless
 * `force`). Nothing is published here.
 */
export const makePlanUndo =
  (deps: PlanUndoDeps) =>
  async (requestIds: readonly string[], force: boolean): Promise<UndoPlan> => {
    const ids = [...new Set(requestIds)];
    const status = await deps.records.status(ids);
    const candidates: { requestId: string; terminal: TerminalOutcome; farm: FarmRef }[] = [];
    const refused: UndoRefusal[] = [];
    for (const id of ids) {
      const s = status.get(id);
      const t = s?.terminal;
      if (!s)
        refused.push({
          requestId: id,
          reason: 'the worker has no record of it (unknown, or older than its records are kept)',
        });
      else if (!t) refused.push({ requestId: id, reason: `it has no outcome yet (${s.state})` });
      else if (
        t.outcome !== 'applied' ||
        !t.before ||
        !t.after ||
        t.before === t.after ||
        !t.service ||
        !t.farmType ||
        t.farmId === null
      )
        refused.push({
          requestId: id,
          reason: `it changed nothing to undo (${t.outcome}${t.code && t.code !== t.outcome ? ` ${t.code}` : ''})`,
        });
      else
        candidates.push({
          requestId: id,
          terminal: t,
          farm: { service: t.service, type: t.farmType as FarmType, farmId: t.farmId },
        });
    }
    // One change per farm: several requests of this undo on one farm are undone together, back
    // to what the farm stored before the first of them.
    const byFarm = new Map<string, typeof candidates>();
    for (const c of candidates) byFarm.set(farmKey(c.farm), [...(byFarm.get(farmKey(c.farm)) ?? []), c]);
    const chains = [...byFarm.values()].map((chain) =>
      chain.sort((a, b) => a.terminal.decidedAt.localeCompare(b.terminal.decidedAt)),
    );
    const orders = await deps.ledger.read(chains.map((chain) => farmKey(chain[0]!.farm)));
    // The newer requests of these farms: did they change anything?
    const newerIds = chains.flatMap((chain) => {
      const last = chain.at(-1)!;
      const live = orders.get(farmKey(last.farm))?.order.live;
      return live && live.requestId !== last.requestId ? [live.requestId] : [];
    });
    const newerStatus = newerIds.length > 0 ? await deps.records.status(newerIds) : new Map();
    const reverse: UndoChange[] = [];
    for (const chain of chains) {
      const first = chain[0]!;
      const last = chain.at(-1)!;
      const ids = chain.map((c) => c.requestId);
      const refuse = (reason: string, newer?: string) => {
        for (const requestId of ids) refused.push({ requestId, reason, ...(newer ? { newer } : {}) });
      };
      const key = farmKey(last.farm);
      const order = orders.get(key)?.order;
      const live = order?.live;
      const newerId = live && live.requestId !== last.requestId ? live.requestId : undefined;
      const newerState = newerId ? newerStatus.get(newerId) : undefined;
      const newerChangedNothing =
        newerState?.terminal && newerState.state === 'completed' && newerState.terminal.outcome !== 'applied';
      const newer = newerId && !newerChangedNothing ? newerId : undefined;
      // Between two requests of this undo, another one changed the farm: going back to before the
      // first would take that one back too.
      const gap = chain.findIndex((c, i) => i > 0 && chain[i - 1]!.terminal.after !== c.terminal.before);
      if (!force && gap > 0) {
        refuse(
          `${formatFarmRef(last.farm)} was changed between ${chain[gap - 1]!.requestId} (which set ${chain[gap - 1]!.terminal.after}) and ${chain[gap]!.requestId} (which found ${chain[gap]!.terminal.before}), by a request not in this undo`,
          'between',
        );
        continue;
      }
      const now = deps.readFarm ? await deps.readFarm(last.farm) : undefined;
      const movedOutside = now !== undefined && now !== last.terminal.after;
      if (!force && newer) {
        refuse(
          `${formatFarmRef(last.farm)} has been changed since by request ${newer}${newerState?.terminal ? '' : ' (still under way)'}`,
          newer,
        );
        continue;
      }
      if (!force && movedOutside) {
        refuse(
          `${formatFarmRef(last.farm)} now stores ${now}, not the ${last.terminal.after} ${chain.length > 1 ? `request ${last.requestId}` : 'this request'} set: it has been changed since, outside this request`,
          'outside',
        );
        continue;
      }
      if (now === first.terminal.before) {
        refuse(`${formatFarmRef(last.farm)} already stores ${now}: nothing to undo`);
        continue;
      }
      reverse.push({
        requestId: last.requestId,
        ...(chain.length > 1 ? { alsoUndoes: ids.slice(0, -1) } : {}),
        farm: last.farm,
        from: now ?? last.terminal.after!,
        to: first.terminal.before!,
        ...(newer ? { newer } : {}),
        ...(order?.deferred
          ? { supersedes: { requestId: order.deferred.requestId, until: order.deferred.until } }
          : {}),
      });
    }
    return { reverse, refused };
  };
