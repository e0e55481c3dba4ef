/**
 * A consumer key's access rules (OVH: a method and a path where `*` is any run of characters,
 * `/x/*` not covering `/x`), and how they compare with the calls stickler needs: what is missing,
 * what is broader than needed, and which load balancers a key pinned to some of them reaches.
 */

export interface AccessRule {
  method: string;
  path: string;
}

/** The least-privilege consumer key the README asks operators to create: exactly stickler's calls. */
export const STICKLER_ACCESS_RULES: readonly AccessRule[] = [
  { method: 'GET', path: '/ipLoadbalancing' },
  { method: 'GET', path: '/ipLoadbalancing/*' },
  { method: 'PUT', path: '/ipLoadbalancing/*/http/farm/*' },
  { method: 'PUT', path: '/ipLoadbalancing/*/tcp/farm/*' },
  { method: 'POST', path: '/ipLoadbalancing/*/refresh' },
];

/** `stickler doctor` reads the key's own rules: a rule for that call is not "broader than needed". */
const DOCTOR_RULE: AccessRule = { method: 'GET', path: '/auth/currentCredential' };

/** OVH's wildcard: `*` any run of characters (slashes included); everything else literal. */
export const accessPattern = (path: string): RegExp =>
  new RegExp(
    `^${path
      .split('*')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
      .join('.*')}$`,
    's',
  );

/** Does `granted` allow every call `wanted` allows (the same method, a path pattern at least as wide)? */
export const covers = (granted: AccessRule, wanted: AccessRule): boolean =>
  granted.method === wanted.method && accessPattern(granted.path).test(wanted.path);

/** The load balancer a rule is pinned to (`/ipLoadbalancing/NAME/...`), if any. */
const pinnedService = (rule: AccessRule): string | undefined => {
  const name = /^\/ipLoadbalancing\/([^/*]+)(\/|$)/.exec(rule.path)?.[1];
  return name;
};

/**
 * A needed rule narrowed to one load balancer: its first `*` the service name, and
 * `/ipLoadbalancing/*` its calls (`/ipLoadbalancing/NAME/*`: stickler reads under it, never the
 * service object itself).
 */
const forService = (rule: AccessRule, service: string): AccessRule => ({
  method: rule.method,
  path:
    rule.path === '/ipLoadbalancing/*'
      ? `/ipLoadbalancing/${service}/*`
      : rule.path.replace(/^\/ipLoadbalancing\/\*\//, `/ipLoadbalancing/${service}/`),
});

export interface AccessRulesReport {
  /** Needed rules no granted rule covers, for any load balancer. */
  missing: AccessRule[];
  /** Needed rules covered for some load balancers only (a key pinned to them), with which. */
  pinned: { rule: AccessRule; services: string[] }[];
  /** Granted rules that allow more than stickler calls. */
  broader: AccessRule[];
}

/** Compares a key's rules with `needed` (stickler's own by default). */
export const compareAccessRules = (
  granted: readonly AccessRule[],
  needed: readonly AccessRule[] = STICKLER_ACCESS_RULES,
): AccessRulesReport => {
  const services = [
    ...new Set(granted.map(pinnedService).filter((s): s is string => s !== undefined)),
  ].sort();
  const missing: AccessRule[] = [];
  const pinned: AccessRulesReport['pinned'] = [];
  for (const rule of needed) {
    if (granted.some((g) => covers(g, rule))) continue;
    const reached = rule.path.startsWith('/ipLoadbalancing/*')
      ? services.filter((s) => granted.some((g) => covers(g, forService(rule, s))))
      : [];
    if (reached.length > 0) pinned.push({ rule, services: reached });
    else missing.push(rule);
  }
  const allowed = [...needed, ...services.flatMap((s) => needed.map((r) => forService(r, s))), DOCTOR_RULE];
  const broader = granted.filter((g) => !allowed.some((r) => covers(r, g)));
  return { missing, pinned, broader };
};

/** `GET /ipLoadbalancing/*` as people write it. */
export const ruleText = (rule: AccessRule): string => `${rule.method} ${rule.path}`;
