/**
 * The audit events stickler emits: one zod schema each, typing the code that builds them and
 * published as JSON Schema for consumers. Kept apart from events.ts (what comes in) so that the
 * worker, which only builds these events, does not construct their schemas when it loads.
 */
import * as z from 'zod/mini';
import { ActorSchema } from './change-request';
import { ChangeRequestedDetailSchema, IsoTime, OUTCOMES } from './events';
import { FarmTypeSchema, StickinessWordSchema } from './stickiness';

const RefreshRefSchema = z.object({
  zone: z.string(),
  taskId: z.nullable(z.number()),
  status: z.string(),
});

/** detail of the four per-request audit events. */
export const ChangeAuditDetailSchema = z.object({
  requestId: z.string(),
  outcome: z.enum(OUTCOMES),
  actor: z.nullable(ActorSchema),
  ticket: z.nullable(z.string()),
  requestReason: z.nullable(z.string()),
  service: z.nullable(z.string()),
  farmType: z.nullable(FarmTypeSchema),
  farmId: z.nullable(z.number()),
  zone: z.nullable(z.string()),
  displayName: z.nullable(z.string()),
  /** Stickiness stored before stickler acted, when it was read. */
  before: z.nullable(StickinessWordSchema),
  /** Stickiness asked for. */
  after: z.nullable(StickinessWordSchema),
  /** Why it was refused or failed: a stable code and a sentence. */
  code: z.nullable(z.string()),
  message: z.nullable(z.string()),
  retryable: z.nullable(z.boolean()),
  ovhQueryId: z.nullable(z.string()),
  refresh: z.nullable(RefreshRefSchema),
  requestedAt: z.nullable(IsoTime),
  decidedAt: IsoTime,
});
export type ChangeAuditDetail = z.infer<typeof ChangeAuditDetailSchema>;

/** detail of `Zone Configuration Applied`: a refresh task finished. */
export const ZoneAppliedDetailSchema = z.object({
  service: z.string(),
  zone: z.string(),
  taskId: z.nullable(z.number()),
  status: z.string(),
  requestIds: z.array(z.string()),
  farms: z.array(z.object({ farmType: FarmTypeSchema, farmId: z.number() })),
  appliedAt: IsoTime,
});
export type ZoneAppliedDetail = z.infer<typeof ZoneAppliedDetailSchema>;

/** Schemas published for consumers, by file name under schemas/. */
export const PUBLISHED_SCHEMAS = {
  'stickiness-change-requested': ChangeRequestedDetailSchema,
  'stickiness-change-audit': ChangeAuditDetailSchema,
  'zone-configuration-applied': ZoneAppliedDetailSchema,
} as const;
