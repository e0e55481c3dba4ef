/**
 * stickler's own ticket payload (the generic webhook source): one farm, `changes` for several
 * (at most 50), or `plan`, a saved plan's digest (registered with `stickler plan --out FILE
 * --pipeline`), whose changes are applied. Published as JSON Schema in
 * schemas/ticketing-generic.schema.json.
 */
import * as z from 'zod/mini';
import { PlanDigestSchema, TICKET_KEY_PATTERN, TICKET_KEY_RULE } from './change-request';
import { ChangeWindowSchema, IsoTime } from './events';

const Text = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));

const FarmChangeSchema = z.strictObject({
  service: Text(256),
  farmType: z.enum(['http', 'tcp', 'udp']),
  farmId: z.int().check(z.positive()),
  stickiness: z.enum(['cookie', 'sourceIp', 'none']),
});

export const GenericTicketSchema = z
  .strictObject({
    ticket: z.string().check(z.regex(TICKET_KEY_PATTERN, { message: TICKET_KEY_RULE })),
    /** When the sender signed this (ISO 8601): a delivery over a day old is a replay and is ignored. */
    sentAt: IsoTime,
    requestedBy: z.union([Text(256), z.strictObject({ id: Text(256), name: z.optional(Text(256)) })]),
    reason: z.optional(z.string().check(z.maxLength(2000))),
    window: z.optional(ChangeWindowSchema),
    service: z.optional(Text(256)),
    farmType: z.optional(z.enum(['http', 'tcp', 'udp'])),
    farmId: z.optional(z.int().check(z.positive())),
    stickiness: z.optional(z.enum(['cookie', 'sourceIp', 'none'])),
    changes: z.optional(z.array(FarmChangeSchema).check(z.minLength(1), z.maxLength(50))),
    /** A registered saved plan's digest: its changes, each only if its farm still stores what the plan read. */
    plan: z.optional(PlanDigestSchema),
  })
  .check(
    z.superRefine((t, ctx) => {
      const single = [t.service, t.farmType, t.farmId, t.stickiness].filter((v) => v !== undefined).length;
      if (t.plan !== undefined && (t.changes || single > 0)) {
        // Both named: which one was meant is not stickler's to guess.
        for (const path of ['plan', t.changes ? 'changes' : 'service'])
          ctx.addIssue({
            code: 'custom',
            path: [path],
            message: 'give either a saved plan (plan) or farm changes (changes, or one farm), not both',
            input: t,
          });
      } else if (t.plan !== undefined) return;
      else if (t.changes && single > 0)
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
          message: 'give service, farmType, farmId and stickiness, or changes, or plan',
          input: t,
        });
    }),
  );
export type GenericTicket = z.infer<typeof GenericTicketSchema>;
