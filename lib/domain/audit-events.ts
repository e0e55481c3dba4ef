/**
 * The audit events stickler emits: one zod schema each, typing the code that builds them and
 * published as JSON Schema for consumers. Kept apart from events.ts (what comes in) so that the
 * worker, which only builds these events, does not construct their schemas when it loads.
 */
import * as z from 'zod/mini';
import { ActorSchema } from './change-request';
import {
  AUDIT_OUTCOMES,
  AUDIT_SCHEMA_VERSION,
  type ChangeRequestedDetail,
  ChangeRequestedDetailSchema,
  type DETAIL_TYPES,
  IsoTime,
} from './events';
import { FarmTypeSchema, StickinessWordSchema } from './stickiness';

const RefreshRefSchema = z.object({
  zone: z.string(),
  taskId: z.nullable(z.number()),
  status: z.string(),
});

/** Where a request came from: its EventBridge envelope, so every outcome traces back to its publisher. */
export const RequestOriginSchema = z.object({
  source: z.string(),
  account: z.string(),
  eventId: z.string(),
});
export type RequestOrigin = z.infer<typeof RequestOriginSchema>;

/**
 * detail of the per-request audit events (the four terminal ones and `Stickiness Change
 * Deferred`). Open for forward compatibility: consumers must ignore keys they do not know.
 */
export const ChangeAuditDetailSchema = z.object({
  /** Bumped when a field changes meaning or goes away; absent in the first version. */
  schemaVersion: z.literal(AUDIT_SCHEMA_VERSION),
  /** Stable id of this audit fact: a resent event carries the same one, so consumers can drop duplicates. */
  auditId: z.string(),
  requestId: z.string(),
  outcome: z.enum(AUDIT_OUTCOMES),
  /** The request's envelope (null when the record was not a readable EventBridge event). */
  origin: z.nullable(RequestOriginSchema),
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
  /** When the worker decided this outcome (the real time, not the batch start). */
  decidedAt: IsoTime,
  /** `deferred` only: when the request comes back on the bus (its window opens). */
  deferredUntil: z.nullable(IsoTime),
  /** How the requester asked to be told (never a URL): the notifier's rule matches on it. */
  notify: z.nullable(z.object({ kind: z.string(), system: z.optional(z.string()) })),
});
export type ChangeAuditDetail = z.infer<typeof ChangeAuditDetailSchema>;

/** detail of `Zone Configuration Applied`: a refresh task finished. */
export const ZoneAppliedDetailSchema = z.object({
  schemaVersion: z.literal(AUDIT_SCHEMA_VERSION),
  auditId: z.string(),
  service: z.string(),
  zone: z.string(),
  taskId: z.nullable(z.number()),
  status: z.string(),
  requestIds: z.array(z.string()),
  farms: z.array(z.object({ farmType: FarmTypeSchema, farmId: z.number() })),
  /** When the refresh task was seen finished. */
  appliedAt: IsoTime,
});
export type ZoneAppliedDetail = z.infer<typeof ZoneAppliedDetailSchema>;

/** Schemas published for consumers, by file name under schemas/. */
export const PUBLISHED_SCHEMAS = {
  'stickiness-change-requested': ChangeRequestedDetailSchema,
  'stickiness-change-audit': ChangeAuditDetailSchema,
  'zone-configuration-applied': ZoneAppliedDetailSchema,
} as const;

/** One event to publish: what PutEvents needs, before the bus name is added. */
export interface OutgoingEvent {
  detailType: (typeof DETAIL_TYPES)[keyof typeof DETAIL_TYPES];
  detail: ChangeAuditDetail | ZoneAppliedDetail | ChangeRequestedDetail;
  /** Stable id used to keep a resent event from being counted twice by consumers. */
  dedupeKey: string;
  /** `source` on the bus: `stickler` (audit events) unless said here (a trigger's change requests). */
  source?: string;
}
