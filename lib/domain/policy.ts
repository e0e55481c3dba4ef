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
import type { Farm } from './farm';
import { compilePolicyGlob } from './policy-glob';
import type { Policy } from './policy-schema';
import { type Stickiness, toWire } from './stickiness';

export type { Policy, PolicyMatch, PolicyRule } from './policy-schema';

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
    const service = rule.match.service ? compilePolicyGlob(rule.match.service) : undefined;
    const displayName = rule.match.displayName ? compilePolicyGlob(rule.match.displayName) : undefined;
    return { rule, index, service, displayName, label: ruleLabel(policy, index) };
  });
  return (farm) => {
    if (farm.type === 'udp') return undefined;
    for (const c of compiled) {
      const m = c.rule.match;
      if (m.type && m.type !== farm.type) continue;
      if (m.zone && m.zone !== farm.zone) continue;
      if (m.farmId !== undefined && m.farmId !== farm.farmId) continue;
      if (c.service && !c.service(farm.service)) continue;
      if (c.displayName && !c.displayName(farm.displayName ?? '')) continue;
      return { index: c.index, label: c.label, target: toWire(c.rule.stickiness) };
    }
    return undefined;
  };
};
