/**
 * The written stickiness policy: ordered rules, first match wins, unmatched farms left alone.
 *
 * @example
 * ```yaml
 * version: 1
 * limits: { maxChangesPerRun: 100 }
 * rules:
 *   - name: checkout keeps its sessions
 *     match: { service: "loadbalancer-*", type: http, displayName: "checkout-*" }
 *     stickiness: cookie
 *   - name: everything else is stateless
 *     match: { type: tcp }
 *     stickiness: none
 * ```
 */
import * as z from 'zod/mini';
import type { Farm } from './farm';
import { compileGlob } from './glob';
import { checkTarget, FarmTypeSchema, type Stickiness, StickinessWordSchema, toWire } from './stickiness';

const NonEmpty = z.string().check(z.minLength(1, 'must not be empty'));

export const PolicyMatchSchema = z.strictObject({
  service: z.optional(NonEmpty),
  type: z.optional(FarmTypeSchema),
  zone: z.optional(NonEmpty),
  displayName: z.optional(NonEmpty),
  farmId: z.optional(z.int().check(z.positive())),
});
export type PolicyMatch = z.infer<typeof PolicyMatchSchema>;

export const PolicyRuleSchema = z
  .strictObject({
    name: z.optional(NonEmpty),
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
    z.strictObject({
      maxChangesPerRun: z.optional(z.int().check(z.positive())),
    }),
    {},
  ),
  rules: z.array(PolicyRuleSchema).check(z.minLength(1, 'a policy needs at least one rule')),
});
export type Policy = z.infer<typeof PolicySchema>;

/** How a rule is named in plans and audit events: its `name`, or its position. */
export const ruleLabel = (policy: Policy, index: number): string =>
  policy.rules[index]?.name ?? `rule #${index + 1}`;

export interface RuleMatch {
  index: number;
  label: string;
  target: Stickiness;
}

/** Builds a matcher that returns the first rule matching a farm, or undefined. UDP farms never match. */
export const compilePolicy = (policy: Policy): ((farm: Farm) => RuleMatch | undefined) => {
  const compiled = policy.rules.map((rule, index) => {
    const service = rule.match.service ? compileGlob(rule.match.service) : undefined;
    const displayName = rule.match.displayName ? compileGlob(rule.match.displayName) : undefined;
    return { rule, index, service, displayName, label: ruleLabel(policy, index) };
  });
  return (farm) => {
    if (farm.type === 'udp') return undefined;
    for (const c of compiled) {
      const m = c.rule.match;
      if (m.type && m.type !== farm.type) continue;
      if (m.zone && m.zone !== farm.zone) continue;
      if (m.farmId !== undefined && m.farmId !== farm.farmId) continue;
      if (c.service && !c.service.test(farm.service)) continue;
      if (c.displayName && !c.displayName.test(farm.displayName ?? '')) continue;
      return { index: c.index, label: c.label, target: toWire(c.rule.stickiness) };
    }
    return undefined;
  };
};
