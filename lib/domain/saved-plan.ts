/**
 * A saved plan (`stickler plan --out FILE`): the changes a plan found, with everything it read to
 * find them (each farm of the planned load balancers as stored, and each zone's unapplied
 * changes), so that `stickler apply FILE` applies exactly those changes, and only if nothing it
 * read has changed since. Its digest (SHA-256 of the rest) says it was not edited; it is what a
 * reviewer approves. Pure: reading OVH again is the caller's.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { describeIssue, formatPath } from './describe-issue';
import { IsoTime } from './events';
import { type Farm, farmKey, formatFarmRef, SERVICE_NAME_PATTERN } from './farm';
import type { Change } from './plan';
import { FarmTypeSchema, StickinessWordSchema, toWire, toWord } from './stickiness';
import { quoted } from './text';
import type { PendingChange } from './zones';

export const SAVED_PLAN_FORMAT = 'stickler-plan/1';

const Service = z.string().check(z.regex(SERVICE_NAME_PATTERN));
const Hex64 = z.string().check(z.regex(/^[0-9a-f]{64}$/));
const Text = (max: number) => z.string().check(z.maxLength(max));

const SavedFarmSchema = z.strictObject({
  service: Service,
  type: FarmTypeSchema,
  farmId: z.int().check(z.positive()),
  zone: Text(64),
  displayName: z.nullable(Text(1000)),
  stickiness: StickinessWordSchema,
});

const SavedPlanBody = z.strictObject({
  format: z.literal(SAVED_PLAN_FORMAT),
  createdAt: IsoTime,
  policy: z.strictObject({ source: Text(1000), sha256: Hex64 }),
  services: z.array(Service).check(z.maxLength(10_000)),
  farms: z.array(SavedFarmSchema).check(z.maxLength(200_000)),
  pending: z
    .array(z.strictObject({ service: Service, zone: Text(64), number: z.int().check(z.nonnegative()) }))
    .check(z.maxLength(100_000)),
  changes: z
    .array(
      z.strictObject({
        service: Service,
        type: FarmTypeSchema,
        farmId: z.int().check(z.positive()),
        from: StickinessWordSchema,
        to: StickinessWordSchema,
        rule: Text(200),
        ruleIndex: z.int().check(z.nonnegative()),
      }),
    )
    .check(z.maxLength(200_000)),
});
export type SavedPlanBody = z.infer<typeof SavedPlanBody>;
export type SavedPlan = SavedPlanBody & { digest: string };

/** The digest of a plan's body: SHA-256 of its JSON, keys in the order the format gives them. */
export const planDigest = (body: SavedPlanBody): string =>
  createHash('sha256')
    .update(JSON.stringify(SavedPlanBody.parse(body)))
    .digest('hex');

const byKey = <T extends { service: string; type: string; farmId: number }>(a: T, b: T) =>
  a.service.localeCompare(b.service) || a.type.localeCompare(b.type) || a.farmId - b.farmId;

/** What a plan read and found, saved. */
export const savePlan = (input: {
  createdAt: Date;
  policySource: string;
  policyText: string;
  services: readonly string[];
  fleet: readonly Farm[];
  pending: ReadonlyMap<string, readonly PendingChange[]>;
  changes: readonly Change[];
}): SavedPlan => {
  const body: SavedPlanBody = {
    format: SAVED_PLAN_FORMAT,
    createdAt: input.createdAt.toISOString(),
    policy: {
      source: input.policySource.slice(0, 1000),
      sha256: createHash('sha256').update(input.policyText).digest('hex'),
    },
    services: [...new Set(input.services)].sort(),
    farms: input.fleet
      .map((f) => ({
        service: f.service,
        type: f.type,
        farmId: f.farmId,
        zone: f.zone,
        displayName: f.displayName,
        stickiness: toWord(f.stickiness),
      }))
      .sort(byKey),
    pending: [...input.pending]
      .flatMap(([service, list]) =>
        list.filter((p) => p.number > 0).map((p) => ({ service, zone: p.zone, number: p.number })),
      )
      .sort((a, b) => a.service.localeCompare(b.service) || a.zone.localeCompare(b.zone)),
    changes: input.changes
      .map((c) => ({
        service: c.farm.service,
        type: c.farm.type,
        farmId: c.farm.farmId,
        from: toWord(c.from),
        to: toWord(c.to),
        rule: c.origin.kind === 'rule' ? c.origin.rule : `request ${c.origin.requestId}`,
        ruleIndex: c.origin.kind === 'rule' ? c.origin.ruleIndex : 0,
      }))
      .sort(byKey),
  };
  return { ...body, digest: planDigest(body) };
};

export class SavedPlanError extends Error {}

/** Reads a saved plan: its shape (strict, bounded) and its digest, or says what is wrong. */
export const readSavedPlan = (text: string, source: string): SavedPlan => {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new SavedPlanError(`${source} is not a saved plan: not JSON`);
  }
  return savedPlanOf(raw, source);
};

/** A saved plan from its JSON value: its shape, then its digest recomputed, or says what is wrong. */
const savedPlanOf = (raw: unknown, source: string): SavedPlan => {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new SavedPlanError(`${source} is not a saved plan: not a JSON object`);
  const { digest, ...body } = raw as Record<string, unknown>;
  const parsed = SavedPlanBody.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SavedPlanError(
      `${source} is not a saved plan of this version (${SAVED_PLAN_FORMAT}): ${formatPath(issue.path) || 'the document'}: ${describeIssue(issue, body)}`,
    );
  }
  if (typeof digest !== 'string' || digest !== planDigest(parsed.data))
    throw new SavedPlanError(
      `${source} has been edited since it was saved (its digest does not match its content): make a new plan`,
    );
  const contradiction = contradictionIn(parsed.data);
  if (contradiction)
    throw new SavedPlanError(`${source} is not a plan stickler made: ${contradiction}; make a new plan`);
  return { ...parsed.data, digest };
};

/**
 * What a body says against itself, which no plan stickler saves does: a change of a farm it did
 * not read, of a load balancer it did not plan, from a value the farm did not store, or to the
 * value it stores already. Undefined: none.
 */
const contradictionIn = (body: SavedPlanBody): string | undefined => {
  const read = new Map(body.farms.map((f) => [farmKey(f), f] as const));
  const services = new Set(body.services);
  for (const [i, c] of body.changes.entries()) {
    const farm = read.get(farmKey(c));
    const at = `changes[${i}] (${formatFarmRef(c)})`;
    if (!services.has(c.service) || !farm) return `${at} is of a farm the plan did not read`;
    if (farm.stickiness !== c.from) return `${at} is from ${c.from}, but the plan read ${farm.stickiness}`;
    if (c.from === c.to) return `${at} changes nothing (from and to are both ${c.to})`;
  }
  return undefined;
};

/**
 * A plan registered with the pipeline under `digest` (its body as kept, JSON), read as a saved
 * plan's file is: its shape, then its digest recomputed from the body, so a body edited where it
 * is kept (or kept under another plan's digest) is refused, saying so.
 */
export const readRegisteredPlan = (text: string, digest: string): SavedPlan => {
  const source = `the plan registered as ${digest}`;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new SavedPlanError(`${source} is not a saved plan: not JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || 'digest' in raw)
    throw new SavedPlanError(`${source} is not a saved plan: not a plan's body`);
  return savedPlanOf({ ...raw, digest }, source);
};

/**
 * What has changed since the plan was saved, in what it read (farms of its load balancers, their
 * stored stickiness, zone and name, and the zones' unapplied changes), said farm by farm. Empty:
 * the plan still stands.
 */
export const planStaleness = (
  saved: SavedPlan,
  fleet: readonly Farm[],
  pending: ReadonlyMap<string, readonly PendingChange[]>,
): string[] => {
  const out: string[] = [];
  const now = new Map(fleet.map((f) => [farmKey(f), f]));
  const then = new Map(saved.farms.map((f) => [farmKey(f), f]));
  for (const [key, was] of then) {
    const is = now.get(key);
    const ref = formatFarmRef(was);
    if (!is) out.push(`${ref} is gone`);
    else {
      if (toWord(is.stickiness) !== was.stickiness)
        out.push(`${ref} now stores ${toWord(is.stickiness)} (the plan read ${was.stickiness})`);
      if (is.zone !== was.zone) out.push(`${ref} moved to zone ${is.zone} (from ${was.zone})`);
      if (is.displayName !== was.displayName)
        out.push(
          `${ref} is now named ${is.displayName === null ? 'nothing' : quoted(is.displayName, 60)} (the plan read ${was.displayName === null ? 'none' : quoted(was.displayName, 60)})`,
        );
    }
  }
  for (const [key, is] of now) if (!then.has(key)) out.push(`${formatFarmRef(is)} is new since the plan`);
  const counts = (list: Iterable<{ service: string; zone: string; number: number }>) =>
    new Map([...list].filter((p) => p.number > 0).map((p) => [`${p.service} zone ${p.zone}`, p.number]));
  const before = counts(saved.pending);
  const after = counts([...pending].flatMap(([service, list]) => list.map((p) => ({ service, ...p }))));
  for (const zone of new Set([...before.keys(), ...after.keys()]))
    if ((before.get(zone) ?? 0) !== (after.get(zone) ?? 0))
      out.push(
        `${zone} holds ${after.get(zone) ?? 0} unapplied change(s) (the plan read ${before.get(zone) ?? 0})`,
      );
  return out;
};

/** The saved changes as changes of the farms read now (same farms, when the plan still stands). */
export const changesOf = (saved: SavedPlan, fleet: readonly Farm[]): Change[] => {
  const now = new Map(fleet.map((f) => [farmKey(f), f]));
  return saved.changes.flatMap((c) => {
    const farm = now.get(farmKey(c));
    return farm
      ? [
          {
            farm,
            from: toWire(c.from),
            to: toWire(c.to),
            origin: { kind: 'rule' as const, rule: c.rule, ruleIndex: c.ruleIndex },
          },
        ]
      : [];
  });
};
