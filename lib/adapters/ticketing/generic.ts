/**
 * stickler's own ticket payload, for any system that can sign like GitHub
 * (`X-Hub-Signature-256`): one farm, or `changes` for several (at most 50). Published as a JSON
 * Schema in schemas/ticketing-generic.schema.json.
 */
import * as z from 'zod/mini';
import type { TicketChangeSet } from '../../app/ticket-change';
import { describeIssue, formatPath } from '../../domain/describe-issue';
import { InvalidInputError } from '../../domain/errors';
import { ChangeWindowSchema } from '../../domain/events';

const Text = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));

const FarmChangeSchema = z.strictObject({
  service: Text(256),
  farmType: z.enum(['http', 'tcp', 'udp']),
  farmId: z.int().check(z.positive()),
  stickiness: z.enum(['cookie', 'sourceIp', 'none']),
});

export const GenericTicketSchema = z
  .strictObject({
    ticket: Text(256),
    requestedBy: z.union([Text(256), z.strictObject({ id: Text(256), name: z.optional(Text(256)) })]),
    reason: z.optional(z.string().check(z.maxLength(2000))),
    window: z.optional(ChangeWindowSchema),
    service: z.optional(Text(256)),
    farmType: z.optional(z.enum(['http', 'tcp', 'udp'])),
    farmId: z.optional(z.int().check(z.positive())),
    stickiness: z.optional(z.enum(['cookie', 'sourceIp', 'none'])),
    changes: z.optional(z.array(FarmChangeSchema).check(z.minLength(1), z.maxLength(50))),
  })
  .check(
    z.superRefine((t, ctx) => {
      const single = [t.service, t.farmType, t.farmId, t.stickiness].filter((v) => v !== undefined).length;
      if (t.changes && single > 0)
        ctx.addIssue({
          code: 'custom',
          path: ['changes'],
          message: 'give either changes or one farm, not both',
          input: t,
        });
      else if (!t.changes && single !== 4)
        ctx.addIssue({
          code: 'custom',
          path: [],
          message: 'give service, farmType, farmId and stickiness, or changes',
          input: t,
        });
    }),
  );
export type GenericTicket = z.infer<typeof GenericTicketSchema>;

/** Turns zod issues into field-level input errors. */
export const inputError = (message: string, issues: z.core.$ZodIssue[], root: unknown): InvalidInputError =>
  new InvalidInputError(
    message,
    issues.map((i) => ({ path: formatPath(i.path), message: describeIssue(i, root) })),
  );

export const readGenericTicket = (json: unknown, deliveryId: string): TicketChangeSet => {
  const parsed = GenericTicketSchema.safeParse(json);
  if (!parsed.success) throw inputError('invalid ticket payload', parsed.error.issues, json);
  const t = parsed.data;
  const requester = typeof t.requestedBy === 'string' ? { id: t.requestedBy } : t.requestedBy;
  return {
    ticket: t.ticket,
    identity: deliveryId,
    requester,
    changes: t.changes ?? [
      { service: t.service, farmType: t.farmType, farmId: t.farmId, stickiness: t.stickiness },
    ],
    ...(t.window ? { window: t.window } : {}),
    ...(t.reason ? { reason: t.reason } : {}),
  };
};
