/**
 * stickler's own ticket payload, for any system that can sign like GitHub
 * (`X-Hub-Signature-256`): one farm, `changes` for several (at most 50), or a saved plan's digest. The schema is
 * lib/domain/ticket-payload.ts, published as schemas/ticketing-generic.schema.json.
 */
import { createHash } from 'node:crypto';
import type * as z from 'zod/mini';
import type { TicketChangeSet } from '../../app/ticket-change';
import { describeIssue, formatPath } from '../../domain/describe-issue';
import { InvalidInputError } from '../../domain/errors';
import { GenericTicketSchema } from '../../domain/ticket-payload';

/** Turns zod issues into field-level input errors. */
export const inputError = (message: string, issues: z.core.$ZodIssue[], root: unknown): InvalidInputError =>
  new InvalidInputError(
    message,
    issues.map((i) => ({ path: formatPath(i.path), message: describeIssue(i, root) })),
  );

/**
 * The generic payload is its own approval: whoever holds the secret and signs a body asks for
 * exactly that. Its identity is the hash of the signed bytes, so the same bytes always make the
 * same requests whatever header comes with them.
 */
export const readGenericTicket = (json: unknown, rawBody: Buffer): TicketChangeSet => {
  const parsed = GenericTicketSchema.safeParse(json);
  if (!parsed.success) throw inputError('invalid ticket payload', parsed.error.issues, json);
  const t = parsed.data;
  const requester = typeof t.requestedBy === 'string' ? { id: t.requestedBy } : t.requestedBy;
  return {
    ticket: t.ticket,
    verdict: { kind: 'approved', approval: `body:${createHash('sha256').update(rawBody).digest('hex')}` },
    requester,
    changes: t.plan
      ? []
      : (t.changes ?? [
          { service: t.service, farmType: t.farmType, farmId: t.farmId, stickiness: t.stickiness },
        ]),
    ...(t.plan ? { plan: { digest: t.plan, field: 'plan' } } : {}),
    ...(t.window ? { window: t.window } : {}),
    ...(t.reason ? { reason: t.reason } : {}),
    sentAt: new Date(Date.parse(t.sentAt)).toISOString(),
  };
};
