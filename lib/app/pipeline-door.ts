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
 * - `refresh`: one zone refresh, as the operator approved it (refresh-door.ts).
 */
import { createHash } from 'node:crypto';
import type { OutgoingEvent, TerminalOutcome } from '../domain/audit-events';
import { RECORD_KEYS } from '../domain/change-request';
import { InvalidInputError } from '../domain/errors';
import { CancelRequestedDetailSchema, DETAIL_TYPES } from '../domain/events';
import { type FarmRef, farmKey, formatFarmRef } from '../domain/farm';
import type { RequestDraft } from '../domain/intake';
import type { FarmType, StickinessWord } from '../domain/stickiness';
import { plainText } from '../domain/text';
import type { Clock } from '../ports/clock';
import type { EventPublisher, PublishFailure } from '../ports/event-publisher';
import type { FarmLedger, FarmOrder } from '../ports/farm-ledger';
import type { IdempotencyStore, RequestStatus } from '../ports/idempotency-store';
import { type FollowedOutcome, type FollowOptions, makeFollowRequests } from './follow-requests';
import { makeRefreshDoor } from './refresh-door';
import { buildAll, changeRequestedEvent } from './request-changes';
import {
  CLI_SOURCE,
  cliActor,
  cliRequestId,
  isOfRun,
  RUN_ID,
  runGroups,
  ticketGroup,
} from './request-groups';

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
  /** Only if the farm still stores this when the worker comes to it (an undo's from). */
  ifStores?: StickinessWord;
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
        ...(t.ifStores ? { ifStores: t.ifStores } : {}),
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
    async cancel(requestId: string, asker: Asker, followOptions: FollowOptions): Promise<CancelResult> {
      const cancelId = `cancel-${createHash('sha256').update(`${requestId}\n${deps.clock.now().toISOString()}`).digest('hex').slice(0, 24)}`;
      const detail = cancelDetail(cancelId, requestId, asker, deps.clock.now());
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
      return followCancel(deps, cancelId, requestId, followOptions);
    },

    /**
     * The requests of a ticket (whatever their door) or of a run (a CLI run of `actorId`'s, or a
     * compliance run), from the worker's records: each member is checked against its record (a
     * ticket's request carries that ticket; a run's id is of that run).
     */
    findRequests: async (of: { ticket: string } | { run: string; actorId: string }): Promise<string[]> => {
      if ('run' in of) {
        const groups = await Promise.all(runGroups(of.run, of.actorId).map((g) => deps.records.members(g)));
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

    /** Publishes one zone refresh, as approved (`ifPending`), and follows it: see refresh-door.ts. */
    refresh: makeRefreshDoor(deps),

    /** See makePlanUndo; `readFarm` reads each farm as stored now (OVH). */
    planUndo: (requestIds: readonly string[], force: boolean, readFarm?: PlanUndoDeps['readFarm']) =>
      makePlanUndo({ ...deps, ...(readFarm ? { readFarm } : {}) })(requestIds, force),
  };
};

export interface CancelResult {
  cancelId: string;
  outcome: 'cancelled' | 'not-cancelled' | 'not-published' | 'running';
  detail?: string;
  request?: FollowedOutcome;
}

/** The cancel as the intake's schema takes it (free text bounded and stripped), or why not. */
const cancelDetail = (cancelId: string, requestId: string, asker: Asker, now: Date) => {
  const parsed = CancelRequestedDetailSchema.safeParse({
    cancelId,
    requestId,
    actor: cliActor(asker),
    ...(asker.reason ? { reason: plainText(asker.reason, 2000) } : {}),
    requestedAt: now.toISOString(),
  });
  if (!parsed.success)
    throw new InvalidInputError(
      'the cancel is not valid',
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  return parsed.data;
};

/** Why a cancel the worker has carried out did not end the request, as its records say. */
const notCancelled = (cancelId: string, request: RequestStatus | undefined): CancelResult => {
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
};

/**
 * Follows a published cancel: its record ends when the worker has carried it out or refused it,
 * and the request's record then says whether this cancel ended it (its Cancelled names the
 * cancel: another cancel at the same time may have ended it first).
 */
const followCancel = async (
  deps: PipelineDoorDeps,
  cancelId: string,
  requestId: string,
  followOptions: FollowOptions,
): Promise<CancelResult> => {
  const cancelKey = RECORD_KEYS.cancel(cancelId);
  const end = deps.clock.now().getTime() + followOptions.timeoutMs;
  for (;;) {
    const status = await deps.records.status([cancelKey, requestId]);
    const request = status.get(requestId);
    if (
      request?.terminal?.outcome === 'cancelled' &&
      request.state === 'completed' &&
      request.terminal.message?.includes(`(cancel ${cancelId})`)
    )
      return { cancelId, outcome: 'cancelled', request: { kind: 'ended', terminal: request.terminal } };
    const own = status.get(cancelKey);
    if (own && (own.state === 'completed' || own.state === 'decided' || own.state === 'dead-lettered'))
      return notCancelled(cancelId, request);
    followOptions.onProgress?.(0, 1);
    if (followOptions.signal?.aborted || deps.clock.now().getTime() + followOptions.pollMs > end)
      return { cancelId, outcome: 'running' };
    await deps.clock.sleep(followOptions.pollMs);
  }
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
/** An applied request an undo may reverse: what it set, on which farm. */
interface Candidate {
  requestId: string;
  terminal: TerminalOutcome;
  farm: FarmRef;
}

/** The requests that applied a change (candidates), and why each other one cannot be undone. */
const candidatesOf = (ids: readonly string[], status: Map<string, RequestStatus>) => {
  const candidates: Candidate[] = [];
  const refused: UndoRefusal[] = [];
  for (const id of ids) {
    const s = status.get(id);
    const t = s?.terminal;
    if (!s)
      refused.push({
        requestId: id,
        reason: 'the worker has no record of it (unknown, or older than its records are kept)',
      });
    else if (!t)
      refused.push({
        requestId: id,
        reason:
          s.state === 'deferred'
            ? `it has not been carried out yet: it waits for its change window${s.deferredUntil ? ` until ${s.deferredUntil}` : ''} and will be carried out then, unless cancelled (stickler cancel ${id} --pipeline)`
            : `it has no outcome yet (${s.state})`,
      });
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
  return { candidates, refused };
};

/** One chain per farm: its requests of this undo, in the order they were decided. */
const chainsByFarm = (candidates: readonly Candidate[]): Candidate[][] => {
  const byFarm = new Map<string, Candidate[]>();
  for (const c of candidates) byFarm.set(farmKey(c.farm), [...(byFarm.get(farmKey(c.farm)) ?? []), c]);
  return [...byFarm.values()].map((chain) =>
    chain.sort((a, b) => a.terminal.decidedAt.localeCompare(b.terminal.decidedAt)),
  );
};

/** What is known of a farm besides the chain: its order of requests, and the newer one's record. */
interface FarmNow {
  order: FarmOrder | undefined;
  newerStatus: Map<string, RequestStatus>;
  /** The farm as stored now (OVH), when it could be read. */
  stored: StickinessWord | undefined;
}

/** The reverse of one farm's chain, or why it is refused (every request of the chain). */
const reverseOfChain = (
  chain: Candidate[],
  farm: FarmNow,
  force: boolean,
): { change: UndoChange } | { refusal: { reason: string; newer?: string } } => {
  const first = chain[0]!;
  const last = chain.at(-1)!;
  const live = farm.order?.live;
  const newerId = live && live.requestId !== last.requestId ? live.requestId : undefined;
  const newerState = newerId ? farm.newerStatus.get(newerId) : undefined;
  // A newer request that changed nothing (unchanged, refused) does not count.
  const newerChangedNothing =
    newerState?.terminal && newerState.state === 'completed' && newerState.terminal.outcome !== 'applied';
  const newer = newerId && !newerChangedNothing ? newerId : undefined;
  // Between two requests of this undo, another one changed the farm: going back to before the
  // first would take that one back too.
  const gap = chain.findIndex((c, i) => i > 0 && chain[i - 1]!.terminal.after !== c.terminal.before);
  const where = formatFarmRef(last.farm);
  if (!force && gap > 0)
    return {
      refusal: {
        reason: `${where} was changed between ${chain[gap - 1]!.requestId} (which set ${chain[gap - 1]!.terminal.after}) and ${chain[gap]!.requestId} (which found ${chain[gap]!.terminal.before}), by a request not in this undo`,
        newer: 'between',
      },
    };
  if (!force && newer)
    return {
      refusal: {
        reason: `${where} has been changed since by request ${newer}${newerState?.terminal ? '' : ' (still under way)'}`,
        newer,
      },
    };
  const stored = farm.stored;
  if (!force && stored !== undefined && stored !== last.terminal.after)
    return {
      refusal: {
        reason: `${where} now stores ${stored}, not the ${last.terminal.after} ${chain.length > 1 ? `request ${last.requestId}` : 'this request'} set: it has been changed since, outside this request`,
        newer: 'outside',
      },
    };
  if (stored === first.terminal.before)
    return { refusal: { reason: `${where} already stores ${stored}: nothing to undo` } };
  return {
    change: {
      requestId: last.requestId,
      ...(chain.length > 1 ? { alsoUndoes: chain.slice(0, -1).map((c) => c.requestId) } : {}),
      farm: last.farm,
      from: stored ?? last.terminal.after!,
      to: first.terminal.before!,
      ...(newer ? { newer } : {}),
      ...(farm.order?.deferred
        ? { supersedes: { requestId: farm.order.deferred.requestId, until: farm.order.deferred.until } }
        : {}),
    },
  };
};

export const makePlanUndo =
  (deps: PlanUndoDeps) =>
  async (requestIds: readonly string[], force: boolean): Promise<UndoPlan> => {
    const ids = [...new Set(requestIds)];
    const { candidates, refused } = candidatesOf(ids, await deps.records.status(ids));
    // One change per farm: several requests of this undo on one farm are undone together, back
    // to what the farm stored before the first of them.
    const chains = chainsByFarm(candidates);
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
      const last = chain.at(-1)!;
      const stored = deps.readFarm ? await deps.readFarm(last.farm) : undefined;
      const planned = reverseOfChain(
        chain,
        { order: orders.get(farmKey(last.farm))?.order, newerStatus, stored },
        force,
      );
      if ('change' in planned) reverse.push(planned.change);
      else for (const c of chain) refused.push({ requestId: c.requestId, ...planned.refusal });
    }
    // A waiting request of this undo that one of its changes supersedes is not carried out: said so.
    const superseded = new Map(
      reverse.flatMap((r) => (r.supersedes ? [[r.supersedes.requestId, r] as const] : [])),
    );
    for (const r of refused) {
      const by = superseded.get(r.requestId);
      if (by)
        r.reason = `it waits for its change window, and this undo (its change of ${formatFarmRef(by.farm)}, newer) supersedes it: it will not be carried out`;
    }
    return { reverse, refused };
  };
