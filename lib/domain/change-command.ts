/**
 * The grammar of an operator's change, `SERVICE TYPE/FARM_ID STICKINESS`, as the CLI's `set`
 * and chat commands take it: turned into a ChangeRequest here, once, with field-level errors.
 */
import { type Actor, type ChangeRequest, ChangeRequestSchema } from './change-request';
import { describeIssues } from './describe-issue';
import { InvalidInputError } from './errors';

/** An operator's change that does not read as one (wrong farm reference, unknown word). */
export class InvalidChangeError extends InvalidInputError {
  constructor(message: string) {
    super(message, [], 'invalid-change');
  }
}

export const CHANGE_GRAMMAR = 'SERVICE TYPE/FARM_ID STICKINESS';

/** `http/123` → the farm's type and id. */
export const parseFarmReference = (value: string): { farmType: string; farmId: number } => {
  const match = /^(http|tcp|udp)\/([1-9]\d{0,15})$/.exec(value);
  if (!match)
    throw new InvalidChangeError(`farm must be TYPE/FARM_ID, for example http/123 or tcp/45, got '${value}'`);
  return { farmType: match[1]!, farmId: Number(match[2]) };
};

export interface ChangeContext {
  requestId: string;
  actor: Actor;
  requestedAt: string;
  ticket?: string;
  reason?: string;
}

/** Reads `[SERVICE, TYPE/FARM_ID, STICKINESS]` as a change request. */
export const changeRequestFromWords = (words: readonly string[], context: ChangeContext): ChangeRequest => {
  if (words.length !== 3)
    throw new InvalidChangeError(`a change is ${CHANGE_GRAMMAR}, got ${words.length} word(s)`);
  const [service, farm, stickiness] = words as [string, string, string];
  const candidate = {
    requestId: context.requestId,
    service,
    ...parseFarmReference(farm),
    stickiness,
    actor: context.actor,
    ...(context.ticket !== undefined ? { ticket: context.ticket } : {}),
    ...(context.reason !== undefined ? { reason: context.reason } : {}),
    requestedAt: context.requestedAt,
  };
  const parsed = ChangeRequestSchema.safeParse(candidate);
  if (!parsed.success)
    throw new InvalidChangeError(`invalid change: ${describeIssues(parsed.error.issues, candidate)}`);
  return parsed.data;
};
