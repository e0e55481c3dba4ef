/**
 * What stickiness each farm type may have, and the mapping between the words operators use
 * (`cookie`, `sourceIp`, `none`) and the OVH wire value (`"cookie"`, `"sourceIp"`, `null`).
 */
import * as z from 'zod/mini';

export const FARM_TYPES = ['http', 'tcp', 'udp'] as const;
export const FarmTypeSchema = z.enum(FARM_TYPES);
export type FarmType = z.infer<typeof FarmTypeSchema>;

/** Wire value: OVH has no "none", it is `null`. */
export type Stickiness = 'cookie' | 'sourceIp' | null;

export const STICKINESS_WORDS = ['cookie', 'sourceIp', 'none'] as const;
export const StickinessWordSchema = z.enum(STICKINESS_WORDS);
export type StickinessWord = z.infer<typeof StickinessWordSchema>;

/** Wire values each farm type accepts; UDP farms have no stickiness field at all. */
export const ALLOWED_STICKINESS = {
  http: ['cookie', 'sourceIp', null],
  tcp: ['sourceIp', null],
  udp: [],
} as const satisfies Record<FarmType, readonly Stickiness[]>;

export const toWire = (word: StickinessWord): Stickiness => (word === 'none' ? null : word);
export const toWord = (value: Stickiness): StickinessWord => (value === null ? 'none' : value);

export type TargetCheck = { ok: true } | { ok: false; reason: string };

/** Whether `target` is a stickiness a farm of `type` can hold, with an operator-readable reason when not. */
export const checkTarget = (type: FarmType, target: Stickiness): TargetCheck => {
  const allowed: readonly Stickiness[] = ALLOWED_STICKINESS[type];
  if (allowed.includes(target)) return { ok: true };
  if (type === 'udp') return { ok: false, reason: 'UDP farms have no stickiness setting' };
  const words = allowed.map(toWord).join(', ');
  return {
    ok: false,
    reason: `stickiness '${toWord(target)}' is not allowed on a ${type.toUpperCase()} farm (allowed: ${words})`,
  };
};
