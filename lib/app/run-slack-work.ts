/**
 * The slow half of a slash command, in its own invocation: read OVH (read-only calls), and post
 * the result to the command's `response_url`. `set` stores a proposal and answers with the plan
 * and its Apply/Cancel buttons; nothing is published until someone allowed clicks Apply.
 * Whatever fails, the person who asked is told, in words that hold no secret.
 */
import { errorFields, NotFoundError, SticklerError } from '../domain/errors';
import type { Farm } from '../domain/farm';
import { ALL_ZONES } from '../domain/farm';
import { checkTarget, toWire, toWord } from '../domain/stickiness';
import { parseTimeWindow, type TimeWindow } from '../domain/traffic';
import type { ChatProposal, ChatProposals } from '../ports/chat-proposals';
import type { Clock } from '../ports/clock';
import type { IdempotencyStore } from '../ports/idempotency-store';
import type { LoadBalancerApi } from '../ports/load-balancer-api';
import type { LoadBalancerTraffic } from '../ports/load-balancer-traffic';
import type { Log } from '../ports/log';
import type { SlackMessage, SlackResponder } from '../ports/slack-responder';
import type { ZoneSlots } from '../ports/zone-slots';
import type { SlackWork } from './handle-slack-command';
import { makeReadTraffic } from './read-traffic';
import {
  esc,
  type PlanView,
  plainMessage,
  planMessage,
  proposalMessage,
  showMessage,
} from './slack-messages';
import { DEFAULT_JOIN_MARGIN_MS, makeWaitingSlot, slotJoined, type ZoneSlotOf } from './waiting-slot';

/** How long Apply and Cancel work after the plan was shown. */
export const PROPOSAL_TTL_MS = 15 * 60_000;
/** Farms listed by `show` in one message (Slack's block limits); the rest are counted. */
export const SHOW_MAX_FARMS = 45;

export interface SlackWorkDeps {
  api: LoadBalancerApi;
  /** The proposal's traffic line (never fails: a load balancer without metrics is unknown). */
  traffic: LoadBalancerTraffic;
  proposals: ChatProposals;
  /**
   * The slot the proposal's zone already waits for (another request's, still ahead, that request
   * still waiting), which Apply at the quietest time joins when the window holds it. Without it,
   * or when it cannot be read, the proposal says its window's own quietest slot only.
   */
  zoneSlots?: {
    store: Pick<ZoneSlots, 'get'>;
    requests: Pick<IdempotencyStore, 'status'>;
    /**
     * What the worker keeps free before a window's end (its batching window and 10 s): no slot is
     * joined, and the window's quietest is not searched, there. Default DEFAULT_JOIN_MARGIN_MS.
     */
    marginMs?: number;
  };
  responder: SlackResponder;
  clock: Clock;
  log: Log;
  /** 32 random hex digits. */
  newId(): string;
}

const byRef = (a: Farm, b: Farm) => a.type.localeCompare(b.type) || a.farmId - b.farmId;

export const makeRunSlackWork = (deps: SlackWorkDeps) => {
  const { api } = deps;
  const readTraffic = makeReadTraffic({ traffic: deps.traffic, clock: deps.clock });
  const waitingSlot =
    deps.zoneSlots &&
    makeWaitingSlot({
      slots: deps.zoneSlots.store,
      requests: deps.zoneSlots.requests,
      clock: deps.clock,
    });

  /**
   * The slot a request made now with the window joins (as the worker chooses: the quietest the
   * window holds of those the farm's zone, or zone `all`, already waits for; for a farm of zone
   * `all`, any zone's of its load balancer). None when it cannot be read: the proposal is made all
   * the same.
   */
  const joinableSlot = async (farm: Farm, window: TimeWindow, now: Date): Promise<ZoneSlotOf | undefined> => {
    if (!waitingSlot) return undefined;
    try {
      const zones = farm.zone === ALL_ZONES ? await api.listZones(farm.service) : [];
      const slots = await waitingSlot(farm.service, farm.zone, zones);
      return slotJoined(slots, window, now.getTime(), deps.zoneSlots?.marginMs);
    } catch (error) {
      deps.log.warn(
        "could not read the slot the farm's zone waits for; the proposal says its window's quietest",
        {
          service: farm.service,
          zone: farm.zone,
          error: errorFields(error),
        },
      );
      return undefined;
    }
  };

  const plan = async (work: SlackWork): Promise<PlanView> => {
    const c = work.command as Extract<SlackWork['command'], { kind: 'plan' | 'set' }>;
    const farm = await api.getFarm({ service: c.service, type: c.farmType, farmId: c.farmId });
    const verdict = checkTarget(farm.type, toWire(c.stickiness));
    if (!verdict.ok) return { kind: 'impossible', farm, target: c.stickiness, reason: verdict.reason };
    if (farm.stickiness === toWire(c.stickiness)) return { kind: 'unchanged', farm, target: c.stickiness };
    const pending = await api.pendingChanges(c.service);
    const otherPendingInZone = pending.some((p) => p.zone === farm.zone || p.zone === 'all');
    return { kind: 'change', farm, target: c.stickiness, otherPendingInZone };
  };

  /**
   * `set`: the plan, the load balancer's traffic now and the quietest slot of the window, and a
   * proposal kept for the buttons (nothing to propose when nothing would change).
   */
  const propose = async (work: SlackWork, c: Extract<SlackWork['command'], { kind: 'set' }>) => {
    const now = deps.clock.now();
    // Checked when the command came; checked again, since time has passed.
    const window = parseTimeWindow(c.window, now.getTime());
    if (!window.ok) return plainMessage(esc(window.message.replace('--window', 'window')));
    const view = await plan(work);
    if (view.kind !== 'change') return planMessage(view);
    const [report, zoneSlot] = await Promise.all([
      // Its quietest searched as the worker searches it: not in the margin it keeps before the end.
      readTraffic({
        services: [c.service],
        window: window.window,
        marginMs: deps.zoneSlots?.marginMs ?? DEFAULT_JOIN_MARGIN_MS,
      }),
      joinableSlot(view.farm, window.window, now),
    ]);
    const proposal: ChatProposal = {
      id: deps.newId(),
      requester: {
        teamId: work.caller.teamId,
        userId: work.caller.userId,
        ...(work.caller.userName ? { userName: work.caller.userName } : {}),
      },
      channelId: work.caller.channelId,
      service: c.service,
      farmType: c.farmType,
      farmId: c.farmId,
      stickiness: c.stickiness,
      ...(c.ticket ? { ticket: c.ticket } : {}),
      ...(c.reason ? { reason: c.reason } : {}),
      before: toWord(view.farm.stickiness),
      zone: view.farm.zone,
      displayName: view.farm.displayName,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + PROPOSAL_TTL_MS).toISOString(),
      window: {
        start: new Date(report.window.start).toISOString(),
        end: new Date(report.window.end).toISOString(),
      },
    };
    await deps.proposals.save(proposal);
    const traffic = report.services[0];
    return proposalMessage(
      view,
      proposal,
      traffic
        ? {
            traffic,
            now: now.getTime(),
            ...(zoneSlot ? { zoneSlot: zoneSlot.slot, slotZone: zoneSlot.zone } : {}),
          }
        : undefined,
    );
  };

  const answer = async (work: SlackWork): Promise<SlackMessage> => {
    const c = work.command;
    switch (c.kind) {
      case 'show': {
        if (c.farm) {
          const farm = await api.getFarm({
            service: c.service,
            type: c.farm.farmType,
            farmId: c.farm.farmId,
          });
          const pending = await api.pendingChanges(c.service);
          return showMessage({
            service: c.service,
            farms: [farm],
            more: 0,
            pendingZones: [...new Set(pending.map((p) => p.zone))].sort(),
          });
        }
        const [defined, pending] = await Promise.all([
          api.listFarms(c.service),
          api.pendingChanges(c.service),
        ]);
        const listed = defined.slice(0, SHOW_MAX_FARMS);
        const farms = await Promise.all(
          listed.map((d) => api.getFarm({ service: c.service, type: d.type, farmId: d.farmId })),
        );
        return showMessage({
          service: c.service,
          farms: farms.sort(byRef),
          more: defined.length - listed.length,
          pendingZones: [...new Set(pending.map((p) => p.zone))].sort(),
        });
      }
      case 'plan':
        return planMessage(await plan(work));
      case 'set':
        return propose(work, c);
    }
  };

  /** What the person is told when the work fails: the reason when stickler knows it, never internals. */
  const failure = (work: SlackWork, error: unknown): SlackMessage => {
    const c = work.command;
    if (error instanceof NotFoundError) {
      const what =
        'farmId' in c
          ? `${c.farmType}/${c.farmId} on ${c.service}`
          : c.farm
            ? `${c.farm.farmType}/${c.farm.farmId} on ${c.service}`
            : c.service;
      return plainMessage(
        `Not found: ${esc(what)} (${esc(error.message)}). Check the service name and the farm with \`show\`.`,
      );
    }
    if (error instanceof SticklerError)
      return plainMessage(
        `stickler could not read the load balancer: ${esc(error.message)}${error.retryable ? ' Try again in a minute.' : ''}`,
      );
    return plainMessage('stickler failed on that command; the error is logged. Try again, or use the CLI.');
  };

  return async function runSlackWork(work: SlackWork): Promise<'answered' | 'unanswered'> {
    let message: SlackMessage;
    try {
      message = await answer(work);
    } catch (error) {
      deps.log.error('slack command failed', {
        kind: work.command.kind,
        code: error instanceof SticklerError ? error.code : 'unexpected',
        error: errorFields(error),
      });
      message = failure(work, error);
    }
    try {
      await deps.responder.respond(work.responseUrl, message);
      return 'answered';
    } catch (error) {
      // The response address expires after 30 minutes and 5 uses: nothing else can reach the user.
      deps.log.error('slack answer could not be posted', {
        kind: work.command.kind,
        error: error instanceof SticklerError ? error.code : 'unexpected',
      });
      return 'unanswered';
    }
  };
};
