/**
 * The zod schema of a policy file (see policy.ts). Kept apart so that code which only applies
 * policies (the deployed worker does not even do that) does not build it when it loads.
 */
import * as z from 'zod/mini';
import { globProblem } from './glob';
import { maxDelayMs } from './policy';
import { checkTarget, FarmTypeSchema, StickinessWordSchema, toWire } from './stickiness';

/**
 * Bounds on a policy's text: far above any real name, far below trouble (a rule's name is
 * repeated in every change it plans, and a 300 KB one made a plan of 2,000 farms take gigabytes).
 */
export const POLICY_TEXT_LIMITS = {
  /** A rule's name. */
  name: 200,
  /** A service or display-name pattern. */
  pattern: 200,
  /** A zone (OVH's are a few letters). */
  zone: 64,
} as const;

const NonEmpty = z.string().check(z.minLength(1, 'must not be empty'));
const text = (max: number) =>
  NonEmpty.check(
    z.superRefine((value, ctx) => {
      if (value.length > max)
        ctx.addIssue({
          code: 'custom',
          message: `must be at most ${max} characters, got ${value.length}`,
          input: value.length,
        });
    }),
  );

/** A name pattern: `*`, `?` and `[abc]` / `[a-z]` / `[!abc]` classes, checked when the policy is read. */
const Glob = text(POLICY_TEXT_LIMITS.pattern).check(
  z.superRefine((pattern, ctx) => {
    const problem = globProblem(pattern);
    if (problem) ctx.addIssue({ code: 'custom', message: `invalid pattern: ${problem}`, input: pattern });
  }),
);

export const PolicyMatchSchema = z.strictObject({
  service: z.optional(Glob),
  type: z.optional(FarmTypeSchema),
  zone: z.optional(text(POLICY_TEXT_LIMITS.zone)),
  displayName: z.optional(Glob),
  farmId: z.optional(z.int().check(z.positive())),
});
export type PolicyMatch = z.infer<typeof PolicyMatchSchema>;

export const PolicyRuleSchema = z
  .strictObject({
    name: z.optional(text(POLICY_TEXT_LIMITS.name)),
    match: z._default(PolicyMatchSchema, {}),
    stickiness: StickinessWordSchema,
  })
  .check(
    z.superRefine((rule, ctx) => {
      if (!rule.match.type) return;
      const verdict = checkTarget(rule.match.type, toWire(rule.stickiness));
      if (!verdict.ok) {
        ctx.addIssue({
          code: 'custom',
          path: ['stickiness'],
          message: `this rule can never apply: ${verdict.reason}`,
        });
      }
    }),
  );
export type PolicyRule = z.infer<typeof PolicyRuleSchema>;

export const PolicySchema = z.strictObject({
  version: z.literal(1),
  limits: z._default(
    z
      .strictObject({
        maxChangesPerRun: z.optional(z.int().check(z.positive())),
        /**
         * How a compliance run in enforce mode publishes its requests: all at once (default), or one
         * (service, zone) at a time, the next only after the previous one's requests were all applied.
         */
        rollout: z.optional(z.enum(['all-at-once', 'zone-by-zone'])),
        /**
         * `quietest`: an enforce run's requests are carried out at the quietest 5 minutes of
         * [now, now + maxDelay] by each load balancer's last 7 days of traffic (the worker chooses).
         */
        prefer: z.optional(z.literal('quietest')),
        /** With `prefer`: how long a request may wait, as an ISO 8601 duration (PT6H, P1D) or minutes. */
        maxDelay: z.optional(z.union([z.int(), z.string()])),
      })
      .check(
        z.superRefine((limits, ctx) => {
          if (limits.prefer === undefined) {
            if (limits.maxDelay !== undefined)
              ctx.addIssue({
                code: 'custom',
                path: ['maxDelay'],
                message:
                  'maxDelay goes with prefer: quietest (how long a request may wait for its quietest time)',
                input: limits.maxDelay,
              });
            return;
          }
          if (limits.maxDelay === undefined)
            ctx.addIssue({
              code: 'custom',
              path: ['maxDelay'],
              message: 'prefer: quietest needs maxDelay, how long a request may wait (PT6H, P1D, or minutes)',
              input: limits,
            });
          else if (maxDelayMs(limits.maxDelay) === undefined)
            ctx.addIssue({
              code: 'custom',
              path: ['maxDelay'],
              message: `maxDelay must be an ISO 8601 duration in days, hours and minutes (PT6H, P1DT12H) or whole minutes, from 5 minutes to 7 days`,
              input: limits.maxDelay,
            });
        }),
      ),
    {},
  ),
  rules: z.array(PolicyRuleSchema).check(z.minLength(1, 'a policy needs at least one rule')),
});
export type Policy = z.infer<typeof PolicySchema>;
