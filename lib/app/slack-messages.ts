/**
 * What stickler says in Slack, as typed Block Kit: short sections that read on a phone (the
 * farm's display name first, then service, zone and before → after). Every text that comes from
 * outside (display names, reasons, tickets, OVH messages) is escaped, so that a farm named
 * `<!channel>` cannot notify a channel or forge a link.
 */

import type { ActionsBlock, ContextBlock, KnownBlock, SectionBlock } from '@slack/types';
import type { ChangeAuditDetail } from '../domain/audit-events';
import { CHAT_USAGE } from '../domain/chat-command';
import type { Farm } from '../domain/farm';
import type { StickinessWord } from '../domain/stickiness';
import {
  DAY_MS,
  formatRate,
  quietestSlotText,
  type ServiceTraffic,
  trafficAtApplyText,
} from '../domain/traffic';
import type { ZoneSlot } from '../domain/zone-slots';
import { SESSION_LOSS_WARNING } from '../domain/zones';
import type { ChatProposal } from '../ports/chat-proposals';
import type { SlackMessage } from '../ports/slack-responder';

/** Button action ids: what a click on them means. */
export const APPLY_ACTION = 'stickler_apply';
/** Publishes the change with a `prefer: quietest` window: the worker defers it to the quietest slot. */
export const APPLY_QUIETEST_ACTION = 'stickler_apply_quietest';
export const CANCEL_ACTION = 'stickler_cancel';
/** Under an applied outcome: proposes the reverse change (its own Apply, by whoever may). */
export const UNDO_ACTION = 'stickler_undo';

/** The warning every change carries (said once, in domain/zones). */
export const SESSION_LOSS = SESSION_LOSS_WARNING;

/** Slack's mrkdwn control characters escaped, control characters dropped, length bounded. */
export const esc = (text: string, max = 300): string =>
  Array.from(text.length > max ? `${text.slice(0, max)}…` : text, (c) => (c.charCodeAt(0) < 0x20 ? ' ' : c))
    .join('')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');

const section = (text: string): SectionBlock => ({ type: 'section', text: { type: 'mrkdwn', text } });
const context = (text: string): ContextBlock => ({ type: 'context', elements: [{ type: 'mrkdwn', text }] });

const farmTitle = (f: { service: string; farmType: string; farmId: number; displayName: string | null }) =>
  `*${esc(f.displayName || `${f.farmType}/${f.farmId}`)}*  ·  ${esc(f.service)} ${f.farmType}/${f.farmId}`;

export const usageMessage = (command: string, problem?: string): SlackMessage => {
  const lines = CHAT_USAGE.map((u) => `\`${esc(command)} ${u}\``).join('\n');
  const text = `${problem ? `${esc(problem)}\n\n` : ''}Usage:\n${lines}\nSTICKINESS is cookie (HTTP farms), sourceIp or none.`;
  return { response_type: 'ephemeral', text, blocks: [section(text)] };
};

export const plainMessage = (text: string, replaceOriginal?: boolean): SlackMessage => ({
  response_type: 'ephemeral',
  text,
  ...(replaceOriginal === undefined ? {} : { replace_original: replaceOriginal }),
  blocks: [section(text)],
});

export const deniedMessage = (reason: string): SlackMessage =>
  plainMessage(`Sorry, stickler cannot do that for you: ${esc(reason)}. Nothing was changed.`, false);

export const workingMessage = (command: string, text: string): SlackMessage =>
  plainMessage(`Working on \`${esc(command)} ${esc(text, 200)}\`…`);

export interface ShowView {
  service: string;
  farms: Farm[];
  /** Farms not listed (the message stays within Slack's limits). */
  more: number;
  /** Zones holding changes not applied yet. */
  pendingZones: string[];
}

const word = (s: Farm['stickiness']): StickinessWord => (s === null ? 'none' : s);

export const showMessage = (view: ShowView): SlackMessage => {
  const lines = view.farms.map(
    (f) =>
      `• ${esc(f.displayName || '(no name)', 60)}  ${f.type}/${f.farmId}  zone ${esc(f.zone, 40)}: *${f.type === 'udp' ? 'n/a' : word(f.stickiness)}*`,
  );
  const blocks: KnownBlock[] = [section(`*${esc(view.service)}*: ${view.farms.length + view.more} farm(s)`)];
  // Sections hold at most 3,000 characters: a few lines each.
  for (let i = 0; i < lines.length; i += 15) blocks.push(section(lines.slice(i, i + 15).join('\n')));
  if (view.more > 0)
    blocks.push(context(`and ${view.more} more: \`stickler show ${esc(view.service)}\` lists them all`));
  blocks.push(
    context(
      view.pendingZones.length > 0
        ? `:warning: unapplied changes in zone(s) ${view.pendingZones.map((z) => esc(z, 40)).join(', ')}: the next apply there applies them too`
        : 'No zone holds unapplied changes.',
    ),
  );
  return {
    response_type: 'ephemeral',
    text: `${view.service}: ${view.farms.length + view.more} farm(s)`,
    blocks,
  };
};

export type PlanView =
  | { kind: 'change'; farm: Farm; target: StickinessWord; otherPendingInZone: boolean }
  | { kind: 'unchanged'; farm: Farm; target: StickinessWord }
  | { kind: 'impossible'; farm: Farm; target: StickinessWord; reason: string };

/** The farm and what would change, the first lines of every plan message. */
const planHead = (view: PlanView): string => {
  const f = view.farm;
  const title = farmTitle({
    service: f.service,
    farmType: f.type,
    farmId: f.farmId,
    displayName: f.displayName,
  });
  const before = word(f.stickiness);
  return `${title}\nzone *${esc(f.zone, 40)}*: ${before} → *${view.target}*`;
};

export const planMessage = (view: PlanView): SlackMessage => {
  const head = planHead(view);
  if (view.kind === 'impossible')
    return plainMessage(`${head}\n:no_entry: ${esc(view.reason)}. Nothing would be written.`);
  if (view.kind === 'unchanged')
    return plainMessage(`${head}\nAlready ${view.target}: nothing to change, nothing to apply.`);
  const text = `${head}\n:warning: ${SESSION_LOSS}`;
  return {
    response_type: 'ephemeral',
    text,
    blocks: [
      section(text),
      ...(view.otherPendingInZone
        ? [context('This zone also holds changes not applied yet: they would be applied with it.')]
        : []),
    ],
  };
};

/**
 * An instant as a chat line says it: `04:00 UTC` within the 24 hours after `now` (the time names
 * one moment there), with its date further on (`2026-12-09 04:00 UTC`).
 */
export const chatTime = (at: number, now: number): string => {
  const iso = new Date(at).toISOString();
  return `${at - now < DAY_MS ? '' : `${iso.slice(0, 10)} `}${iso.slice(11, 16)} UTC`;
};

/**
 * The traffic line of a proposal: "traffic now: N req/s; quietest in your window: HH:MM UTC (≈ n
 * req/s)", or, plainly, that it is unknown and why. The numbers are the whole load balancer's.
 * When the zone already waits for another request's slot inside the window, it says so: applying
 * at the quietest time joins that slot, not the window's own quietest.
 */
export const trafficLine = (
  traffic: ServiceTraffic,
  now: number,
  zoneSlot?: ZoneSlot,
  owner = 'this zone',
): string => {
  const joins = zoneSlot
    ? `; ${owner} already waits for ${chatTime(zoneSlot.at, now)} (another request's slot): applying at the quietest time joins it`
    : '';
  if (!traffic.known) return `traffic unknown: ${esc(traffic.reason, 200)}${joins}`;
  const head = `traffic now: ${formatRate(traffic.now.requestsPerSecond)} req/s`;
  return traffic.quietest
    ? `${head}; quietest in your window: ${chatTime(traffic.quietest.at, now)} (≈ ${formatRate(traffic.quietest.typicalRate)} req/s)${joins}`
    : `${head}; quietest in your window: unknown (${esc(traffic.quietestUnknown ?? 'no history', 200)})${joins}`;
};

/** What a proposal knows of its load balancer's traffic, read when the plan was made. */
export interface ProposalTraffic {
  traffic: ServiceTraffic;
  /** When it was read (epoch ms). */
  now: number;
  /**
   * The slot the proposal's zone already waits for (another request's, still ahead), when the
   * proposal's window holds it: Apply at the quietest time joins it.
   */
  zoneSlot?: ZoneSlot;
  /** The zone `zoneSlot` was chosen for, when not the proposal's own (zone `all`'s, or a zone its `all` farm covers). */
  slotZone?: string;
}

/** Whose slot a proposal joins, in words: its zone's, zone all's, or a zone its farm of zone all covers. */
const slotOwner = (proposal: ChatProposal, traffic: ProposalTraffic): string => {
  const zone = traffic.slotZone;
  if (zone === undefined || zone === proposal.zone) return 'this zone';
  return zone === 'all'
    ? 'zone all (its refresh covers this zone)'
    : `zone ${esc(zone, 40)} (this farm's zone all covers it)`;
};

const confirmDialog = (proposal: ChatProposal, title: string, when: string, button: string) => ({
  title: { type: 'plain_text' as const, text: title },
  text: {
    type: 'mrkdwn' as const,
    text: `${esc(proposal.service)} ${proposal.farmType}/${proposal.farmId} → *${proposal.stickiness}* in zone *${esc(proposal.zone, 40)}*, ${when}.\n${SESSION_LOSS}`,
  },
  confirm: { type: 'plain_text' as const, text: button },
  deny: { type: 'plain_text' as const, text: 'Back' },
  style: 'danger' as const,
});

/** When Apply at the quietest time applies, as its confirmation says it (Slack takes 300 characters in all there). */
const quietestWhen = (proposal: ChatProposal, traffic: ProposalTraffic): string => {
  const end = chatTime(Date.parse(proposal.window!.end), traffic.now);
  const slot = traffic.traffic.known ? traffic.traffic.quietest : undefined;
  if (traffic.zoneSlot)
    return `at ${chatTime(traffic.zoneSlot.at, traffic.now)}, joining the slot ${slotOwner(proposal, traffic)} already waits for (one refresh)`;
  return `at the quietest 5 minutes before ${end} by the last 7 days (${chatTime(slot!.at, traffic.now)} as read now)`;
};

/**
 * **Apply at the quietest time**, when the proposal has a window and a time in it is known: its
 * quietest slot, or the slot its zone already waits for.
 */
const quietestButton = (proposal: ChatProposal, traffic: ProposalTraffic | undefined) => {
  const slot = traffic?.traffic.known ? traffic.traffic.quietest : undefined;
  if (!proposal.window || !traffic || !(slot || traffic.zoneSlot)) return [];
  return [
    {
      type: 'button' as const,
      action_id: APPLY_QUIETEST_ACTION,
      value: proposal.id,
      text: { type: 'plain_text' as const, text: 'Apply at the quietest time' },
      confirm: confirmDialog(
        proposal,
        'Apply at the quietest time?',
        quietestWhen(proposal, traffic),
        'Apply then',
      ),
    },
  ];
};

/**
 * The plan of a `set` with its buttons: **Apply now**, **Apply at the quietest time** (when the
 * proposal has a window and its load balancer's quietest slot in it is known, or the slot its zone
 * already waits for lies in it) and **Cancel**;
 * both Apply buttons ask again, repeating the warning. The traffic line says what the refresh
 * would cut now and when the window is usually quietest.
 */
export const proposalMessage = (
  view: PlanView & { kind: 'change' },
  proposal: ChatProposal,
  traffic?: ProposalTraffic,
): SlackMessage => {
  const plan = planMessage(view);
  const quietest = quietestButton(proposal, traffic);
  const actions: ActionsBlock = {
    type: 'actions',
    block_id: 'stickler_proposal',
    elements: [
      {
        type: 'button',
        action_id: APPLY_ACTION,
        value: proposal.id,
        style: 'danger',
        text: { type: 'plain_text', text: 'Apply now' },
        confirm: confirmDialog(proposal, 'Apply this change now?', 'now', 'Apply'),
      },
      ...quietest,
      {
        type: 'button',
        action_id: CANCEL_ACTION,
        value: proposal.id,
        text: { type: 'plain_text', text: 'Cancel' },
      },
    ],
  };
  const extra = [
    proposal.ticket ? `ticket ${esc(proposal.ticket)}` : '',
    proposal.reason ? `reason: ${esc(proposal.reason)}` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  return {
    ...plan,
    blocks: [
      ...(plan.blocks ?? []),
      ...(traffic
        ? [context(trafficLine(traffic.traffic, traffic.now, traffic.zoneSlot, slotOwner(proposal, traffic)))]
        : []),
      ...(extra ? [context(extra)] : []),
      actions,
      context(
        `Requested by <@${proposal.requester.userId}>. The buttons work once, until ${proposal.expiresAt.slice(11, 16)} UTC.`,
      ),
    ],
  };
};

export const applyRequestedMessage = (
  proposal: ChatProposal,
  by: string,
  requestId: string,
  quietestBefore?: string,
): SlackMessage => {
  const when = quietestBefore
    ? ` at the quietest time before ${quietestBefore.slice(0, 16).replace('T', ' ')} UTC`
    : '';
  // Slack honours a reply address for 30 minutes: an outcome later than that cannot come here.
  const after = quietestBefore
    ? ` The outcome is posted here if it comes within 30 minutes (Slack's limit); later, \`stickler status ${requestId} --pipeline\` says it.`
    : ' The outcome will be posted here.';
  const text =
    `${farmTitle({ ...proposal })}\nzone *${esc(proposal.zone, 40)}*: ${proposal.before} → *${proposal.stickiness}*\n` +
    `:hourglass_flowing_sand: Apply${when} requested by <@${by}> (request \`${requestId}\`).${after}`;
  return { response_type: 'ephemeral', replace_original: true, text, blocks: [section(text)] };
};

export const cancelledMessage = (proposal: ChatProposal, by: string): SlackMessage =>
  plainMessage(`${farmTitle({ ...proposal })}: cancelled by <@${by}>. Nothing was changed.`, true);

/** How a request ended, as a reply in the conversation (the notifier). */
export const outcomeMessage = (d: ChangeAuditDetail): SlackMessage => {
  const title = farmTitle({
    service: d.service ?? '?',
    farmType: d.farmType ?? '?',
    farmId: d.farmId ?? 0,
    displayName: d.displayName,
  });
  let line: string;
  switch (d.outcome) {
    case 'applied':
      line = `:white_check_mark: applied: ${d.before ?? '?'} → *${d.after ?? '?'}* in zone *${esc(d.refresh?.zone ?? d.zone ?? '?', 40)}* (OVH task ${d.refresh?.taskId ?? '?'}).${d.traffic ? `\n${esc(trafficAtApplyText(d.traffic), 600)}` : ''}`;
      break;
    case 'unchanged':
      line = `already *${d.after ?? d.before ?? '?'}*: nothing was changed or applied.`;
      break;
    case 'refused':
      line = `:no_entry: refused, nothing was written: ${esc(d.message ?? d.code ?? 'refused')}`;
      break;
    case 'failed':
      line = `:x: FAILED (${esc(d.code ?? 'failed', 60)}${d.ovhQueryId ? `, OVH query id ${esc(d.ovhQueryId, 80)}` : ''}): ${esc(d.message ?? '')}${d.retryable ? ' It may succeed if tried again: run set again.' : ''}`;
      break;
    case 'cancelled':
      line = `cancelled before its change window opened, nothing was written: ${esc(d.message ?? '')}`;
      break;
    case 'deferred':
      line = d.quietest
        ? `:hourglass_flowing_sand: ${esc(quietestSlotText(d.quietest), 600)}.`
        : `waiting for its change window (${esc(d.deferredUntil ?? '?', 40)}).`;
      break;
  }
  const text = `${title}\n${line}\nrequest \`${esc(d.requestId, 140)}\``;
  const undoable = d.outcome === 'applied' && d.before !== null && d.after !== null && d.before !== d.after;
  return {
    response_type: 'in_channel',
    replace_original: false,
    text,
    blocks: [
      section(text),
      ...(undoable
        ? [
            {
              type: 'actions',
              block_id: 'stickler_outcome',
              elements: [
                {
                  type: 'button',
                  action_id: UNDO_ACTION,
                  value: d.requestId,
                  text: { type: 'plain_text', text: 'Undo' },
                },
              ],
            } satisfies ActionsBlock,
            context(`Undo proposes ${d.after} → *${d.before}* for this farm, to be applied like any change.`),
          ]
        : []),
    ],
  };
};
