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
import { MAX_WINDOW_MS, parseDurationMs, SLOT_MS } from './traffic';

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

/**
 * `limits.maxDelay` in milliseconds: an ISO 8601 duration (`PT6H`, `P1DT12H`, `PT30M`) or whole
 * minutes (`90`), from one 5-minute slot to 7 days; undefined when it is neither or out of range.
 */
export const maxDelayMs = (value: number | string): number | undefined => {
  const ms =
    typeof value === 'number'
      ? Number.isInteger(value)
        ? value * 60_000
        : undefined
      : parseDurationMs(value);
  return ms !== undefined && ms >= SLOT_MS && ms <= MAX_WINDOW_MS ? ms : undefined;
};

/**
 * The window an enforce run's requests carry under `limits.prefer: quietest`: from `now` to
 * `now + maxDelay`, the quietest slot of it chosen by the worker; undefined without a preference.
 */
export const quietestWindowOf = (
  limits: Policy['limits'],
  now: Date,
): { notBefore: string; notAfter: string; prefer: 'quietest' } | undefined => {
  if (limits.prefer !== 'quietest' || limits.maxDelay === undefined) return undefined;
  const delay = maxDelayMs(limits.maxDelay);
  if (delay === undefined) return undefined;
  return {
    notBefore: now.toISOString(),
    notAfter: new Date(now.getTime() + delay).toISOString(),
    prefer: 'quietest',
  };
};
