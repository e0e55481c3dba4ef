/** Reading ticket field values as ticketing systems send them: text, a select option, a reference. */
import { PLAN_DIGEST_PATTERN, PLAN_DIGEST_RULE } from '../../domain/change-request';
import { InvalidInputError } from '../../domain/errors';

/** `"x"`, `{ value: "x" }` (Jira select, ServiceNow display/value pair) or `{ name: "x" }` → "x". */
export const textOf = (value: unknown): string | undefined => {
  if (typeof value === 'string') return value.trim() || undefined;
  if (typeof value === 'number') return String(value);
  if (value && typeof value === 'object') {
    const v = value as { value?: unknown; name?: unknown };
    return textOf(v.value) ?? textOf(v.name);
  }
  return undefined;
};

/** `"http/101, tcp/201"`, `["http/101", …]` or select options → the farm references. */
export const farmRefsOf = (value: unknown): string[] => {
  if (Array.isArray(value)) return value.flatMap(farmRefsOf);
  const text = textOf(value);
  return text ? text.split(/[\s,;]+/).filter(Boolean) : [];
};

/** `http/101` → its parts, or what was given when it does not read as one (the use case says why). */
export const farmChangeOf = (ref: string, service: unknown, stickiness: unknown) => {
  const match = /^(http|tcp|udp)\/(\d{1,16})$/.exec(ref);
  return {
    service,
    farmType: match ? match[1] : ref,
    farmId: match ? Number(match[2]) : ref,
    stickiness,
  };
};

/** One change per farm reference; with none, one change whose missing farm the use case reports. */
export const farmChangesOf = (refs: readonly string[], service: unknown, stickiness: unknown) =>
  refs.length > 0
    ? refs.map((r) => farmChangeOf(r, service, stickiness))
    : [{ service, farmType: undefined, farmId: undefined, stickiness }];

/**
 * `{ window }` when the ticket gives either end of its change window or asks for its quietest
 * time, else nothing. (A preference without an end is refused by the intake, naming
 * `window.notAfter`: the quietest slot is chosen inside the window.)
 */
export const windowOf = (
  notBefore: string | undefined,
  notAfter: string | undefined,
  prefer?: 'quietest' | undefined,
) =>
  notBefore || notAfter || prefer
    ? {
        window: {
          ...(notBefore ? { notBefore } : {}),
          ...(notAfter ? { notAfter } : {}),
          ...(prefer ? { prefer } : {}),
        },
      }
    : {};

/**
 * A ticket's "when" preference, read strictly: empty is none; `quietest` (any case, text or a
 * select option) asks for the quietest slot of the window; anything else is refused 400 naming
 * the field (`path`), since a misread preference would apply the change at once.
 */
export const preferOf = (value: unknown, path: string): 'quietest' | undefined => {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && value.trim() === '') return undefined;
  const text = textOf(value);
  if (text?.toLowerCase() === 'quietest') return 'quietest';
  throw new InvalidInputError(`${path} is not a preference stickler knows`, [
    {
      path,
      message: `expected quietest (or empty: as soon as the window allows), got ${JSON.stringify(value).slice(0, 60)}`,
    },
  ]);
};

/**
 * A ticket's saved-plan field, read strictly: empty is none; anything else must be exactly a
 * plan's digest (64 lower-case hex digits, as `stickler plan --out FILE --pipeline` prints it), or
 * it is refused 400 naming the field (`path`).
 */
export const planDigestOf = (value: unknown, path: string): string | undefined => {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && value.trim() === '') return undefined;
  const text = textOf(value);
  if (text !== undefined && PLAN_DIGEST_PATTERN.test(text)) return text;
  throw new InvalidInputError(`${path} is not a saved plan's digest`, [
    { path, message: `expected ${PLAN_DIGEST_RULE}, got ${JSON.stringify(value).slice(0, 80)}` },
  ]);
};

/**
 * On approval: the ticket's plan (its field read strictly), refused when the ticket also gives
 * farm changes (each field given is named with the plan's). Other deliveries do not read it: a
 * withdrawal is acted on whatever the field holds.
 */
export const approvedPlanOf = (
  approved: boolean,
  plan: { path: string; value: unknown },
  changeFields: readonly { path: string; given: boolean }[],
): { plan: { digest: string; field: string } } | Record<string, never> => {
  const digest = approved ? planDigestOf(plan.value, plan.path) : undefined;
  if (digest === undefined) return {};
  const given = changeFields.filter((f) => f.given);
  if (given.length > 0)
    throw new InvalidInputError(
      'the ticket gives both a saved plan and farm changes: give one or the other',
      [
        { path: plan.path, message: 'a saved plan, given with farm changes: give one or the other' },
        ...given.map((f) => ({
          path: f.path,
          message: 'a farm change, given with a saved plan: give one or the other',
        })),
      ],
    );
  return { plan: { digest, field: plan.path } };
};
