/**
 * A change proposed in chat (`set`), waiting for a click on Apply or Cancel: kept server-side,
 * so the button carries only its id; a click claims it once (single use) before it expires.
 * Also where the reply address of an applied request waits for its outcome.
 */
import type { FarmType, StickinessWord } from '../domain/stickiness';

export interface ChatProposal {
  /** Random, 32 hex digits: what the buttons carry. */
  id: string;
  requester: { teamId: string; userId: string; userName?: string };
  channelId: string;
  service: string;
  farmType: FarmType;
  farmId: number;
  stickiness: StickinessWord;
  ticket?: string;
  reason?: string;
  /** What the farm stored when the plan was made, and its zone and name. */
  before: StickinessWord;
  zone: string;
  displayName: string | null;
  createdAt: string;
  expiresAt: string;
  /**
   * The window the proposal's traffic line searched (ISO 8601 UTC): **Apply at the quietest time**
   * asks the worker for the quietest slot of it, from the click on. Absent on an Undo.
   */
  window?: { start: string; end: string };
  /** An Undo: the applied request whose farm it puts back (checked again when Apply is clicked). */
  undoOf?: string;
}

export type ProposalClaim =
  | { kind: 'claimed'; proposal: ChatProposal }
  | { kind: 'spent'; how: 'applied' | 'cancelled'; by: string }
  | { kind: 'expired' }
  | { kind: 'unknown' };

export interface ChatProposals {
  save(proposal: ChatProposal): Promise<void>;
  /** The proposal as stored (spent or not), or undefined. */
  get(id: string): Promise<ChatProposal | undefined>;
  /** Marks it `how` by `by` if it is still open and not expired at `now`; says why not otherwise. */
  claim(id: string, how: 'applied' | 'cancelled', by: string, now: Date): Promise<ProposalClaim>;
  /** Opens a claimed proposal again (its change request could not be published). */
  release(id: string): Promise<void>;
  /** Keeps where to post the outcome of `requestId` until `expiresAt`. */
  saveReplyTarget(requestId: string, responseUrl: string, expiresAt: Date): Promise<void>;
  replyTarget(requestId: string): Promise<string | undefined>;
}
