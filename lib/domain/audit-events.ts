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
  type CancelRequestedDetail,
  CancelRequestedDetailSchema,
  type ChangeRequestedDetail,
  ChangeRequestedDetailSchema,
  type DETAIL_TYPES,
  IsoTime,
  type ZoneRefreshRequestedDetail,
  ZoneRefreshRequestedDetailSchema,
} from './events';
import { FarmTypeSchema, StickinessWordSchema } from './stickiness';

const RefreshRefSchema = z.object({
  zone: z.string(),
  taskId: z.nullable(z.number()),
  status: z.string(),
});

/**
 * The load balancer's traffic when its zone was applied (what the refresh cut): requests and
 * connections per second over the 5 minutes before, for the whole load balancer (every zone and
 * farm together), or `known: false` and why (no metrics, a refused token, a timeout).
 */
export const TrafficAtApplySchema = z.union([
  z.object({
    known: z.literal(true),
    measuredAt: IsoTime,
    requestsPerSecond: z.number(),
    connectionsPerSecond: z.number(),
  }),
  z.object({ known: z.literal(false), reason: z.string() }),
]);
export type TrafficAtApply = z.infer<typeof TrafficAtApplySchema>;

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
  /** The saved plan (its digest) a ticket approved, of which the request is one change; absent otherwise. */
  plan: z.optional(z.string()),
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
  /** `applied` only, when the worker reads traffic: the load balancer's traffic as its zone was applied. */
  traffic: z.optional(TrafficAtApplySchema),
  /**
   * `deferred` to the quietest slot of a `prefer: quietest` window only: the slot chosen (its
   * start, the same as deferredUntil) and the requests rate it typically has (7-day median).
   */
  quietest: z.optional(
    z.object({
      at: IsoTime,
      typicalRequestsPerSecond: z.number(),
      /**
       * The slot was not this request's own choice: `zone`, the slot already chosen for its zone;
       * `batch`, the quietest of what its window shares with others of the zone (one refresh).
       */
      joined: z.optional(z.enum(['zone', 'batch'])),
    }),
  ),
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
  /** When the worker reads traffic: the load balancer's traffic as the zone was applied. */
  traffic: z.optional(TrafficAtApplySchema),
});
export type ZoneAppliedDetail = z.infer<typeof ZoneAppliedDetailSchema>;

/** The policy object a compliance run used: where it was read, and which version. */
const PolicyRefSchema = z.object({ source: z.string(), version: z.nullable(z.string()) });
const ComplianceBase = {
  schemaVersion: z.literal(AUDIT_SCHEMA_VERSION),
  auditId: z.string(),
  /** One scheduled run (the same across the retries of that run). */
  runId: z.string(),
  mode: z.enum(['report', 'enforce']),
};

/** detail of `Compliance Drift Detected` (a run's drift, in parts of at most 100 farms). */
export const ComplianceDriftDetailSchema = z.object({
  ...ComplianceBase,
  policy: PolicyRefSchema,
  part: z.int(),
  parts: z.int(),
  drifted: z.array(
    z.object({
      service: z.string(),
      farmType: FarmTypeSchema,
      farmId: z.number(),
      zone: z.string(),
      displayName: z.nullable(z.string()),
      before: StickinessWordSchema,
      wanted: StickinessWordSchema,
      rule: z.string(),
    }),
  ),
  /** Farms a rule matches but whose type cannot take its target: the policy needs a rule for them. */
  cannotApply: z.array(
    z.object({
      service: z.string(),
      farmType: z.nullable(FarmTypeSchema),
      farmId: z.number(),
      wanted: z.nullable(StickinessWordSchema),
      rule: z.string(),
      reason: z.string(),
    }),
  ),
  detectedAt: IsoTime,
});
export type ComplianceDriftDetail = z.infer<typeof ComplianceDriftDetailSchema>;

/** detail of `Compliance Run Blocked`: an enforce run over the policy's blast radius requested nothing. */
export const ComplianceBlockedDetailSchema = z.object({
  ...ComplianceBase,
  policy: PolicyRefSchema,
  drifted: z.int(),
  maxChangesPerRun: z.nullable(z.int()),
  message: z.string(),
  blockedAt: IsoTime,
});
export type ComplianceBlockedDetail = z.infer<typeof ComplianceBlockedDetailSchema>;

/** detail of `Compliance Run Completed`: every run that read its policy ends with one. */
export const ComplianceCompletedDetailSchema = z.object({
  ...ComplianceBase,
  policy: PolicyRefSchema,
  farmsChecked: z.int(),
  drifted: z.int(),
  cannotApply: z.int(),
  requested: z.int(),
  blocked: z.boolean(),
  /** A zone-by-zone rollout: how many (service, zone) steps it has (`requested` counts the first). */
  rolloutZones: z.nullable(z.int()),
  /**
   * Zones where the policy's farms store their target but the zone holds stickler's own unapplied
   * writes (a worker refresh failed): an enforce run asks for them to be applied (counted in
   * `requested`). Absent from runs before it was counted.
   */
  unappliedZones: z.optional(z.int()),
  durationMs: z.int(),
  completedAt: IsoTime,
});
export type ComplianceCompletedDetail = z.infer<typeof ComplianceCompletedDetailSchema>;

/** detail of `Compliance Run Failed`: the policy could not be read or planned; nothing was requested. */
export const ComplianceFailedDetailSchema = z.object({
  ...ComplianceBase,
  policy: z.nullable(PolicyRefSchema),
  code: z.string(),
  message: z.string(),
  failedAt: IsoTime,
});
export type ComplianceFailedDetail = z.infer<typeof ComplianceFailedDetailSchema>;

const RolloutZoneSchema = z.object({ service: z.string(), zone: z.string(), farms: z.int() });

/** detail of `Compliance Rollout Finished` / `Compliance Rollout Stopped` (a zone-by-zone enforce run). */
export const ComplianceRolloutDetailSchema = z.object({
  ...ComplianceBase,
  policy: PolicyRefSchema,
  /** The zones whose requests were published, in order. */
  done: z.array(RolloutZoneSchema),
  /** Stopped only: the zone whose requests did not all apply, and why. */
  stoppedAt: z.nullable(RolloutZoneSchema),
  failures: z.array(z.object({ requestId: z.string(), outcome: z.string(), code: z.nullable(z.string()) })),
  /** Stopped only: the zones not applied (nothing was requested for them). */
  remaining: z.array(RolloutZoneSchema),
  at: IsoTime,
});
export type ComplianceRolloutDetail = z.infer<typeof ComplianceRolloutDetailSchema>;

/**
 * detail of `Stickiness Change Denied`: a chat user asked for something their authorisation does
 * not allow (a command, or a click on Apply or Cancel); nothing was published or written.
 */
export const ChangeDeniedDetailSchema = z.object({
  schemaVersion: z.literal(AUDIT_SCHEMA_VERSION),
  auditId: z.string(),
  /** The chat user (`slack:<team id>:<user id>`, with the name Slack gave, for reading only). */
  actor: ActorSchema,
  channelId: z.nullable(z.string()),
  /** What they tried: the command's verb or the button. */
  action: z.enum(['help', 'show', 'plan', 'set', 'apply', 'cancel']),
  /** The command as typed (bounded), or the proposal the click was about. */
  command: z.string(),
  reason: z.string(),
  deniedAt: IsoTime,
});
export type ChangeDeniedDetail = z.infer<typeof ChangeDeniedDetailSchema>;

/**
 * detail of `Stickiness Change Cancel Refused`: a cancel that could not end (all of) what it named,
 * with why (the request is not waiting for its window any more, or was never known; the canceller
 * may not cancel it; nothing of the ticket was waiting; the cancel itself is malformed). Each
 * request a cancel ends gets its own `Stickiness Change Cancelled` (a per-request audit event).
 */
export const CancelRefusedDetailSchema = z.object({
  schemaVersion: z.literal(AUDIT_SCHEMA_VERSION),
  auditId: z.string(),
  cancelId: z.nullable(z.string()),
  requestId: z.nullable(z.string()),
  ticket: z.nullable(z.object({ system: z.string(), key: z.string() })),
  origin: z.nullable(RequestOriginSchema),
  actor: z.nullable(ActorSchema),
  reason: z.nullable(z.string()),
  code: z.string(),
  message: z.string(),
  decidedAt: IsoTime,
});
export type CancelRefusedDetail = z.infer<typeof CancelRefusedDetailSchema>;

/**
 * detail of `Ticket Edit Ignored` (source `stickler.ticketing`): a ticket's change was edited after
 * its approval, so the edit is not carried out; the notifier tells the ticket once. The same detail
 * for `Ticket Approval Refused`: an approval the webhook refused (the saved plan it names cannot be
 * applied), told on the ticket, since the webhook's answer goes to the ticketing system only.
 */
export const TicketEditIgnoredDetailSchema = z.object({
  schemaVersion: z.literal(AUDIT_SCHEMA_VERSION),
  auditId: z.string(),
  system: z.enum(['jira', 'servicenow']),
  ticket: z.string(),
  /** What the ticket is told. */
  message: z.string(),
  ignoredAt: IsoTime,
});
export type TicketEditIgnoredDetail = z.infer<typeof TicketEditIgnoredDetailSchema>;

/** How a zone refresh request ends: exactly one of these per refresh. */
export const ZONE_REFRESH_OUTCOMES = ['applied', 'unchanged', 'refused', 'failed'] as const;
export type ZoneRefreshOutcome = (typeof ZONE_REFRESH_OUTCOMES)[number];

/**
 * detail of `Zone Refresh Applied` / `Unchanged` / `Refused` / `Failed`: the terminal outcome of
 * one `Zone Refresh Requested` (applied: the zone's refresh task ended done; unchanged: nothing
 * was pending any more; refused: with a code, nothing applied; failed: with a code and whether a
 * retry may help). The envelope conventions of the per-request audit events; open.
 */
export const ZoneRefreshAuditDetailSchema = z.object({
  schemaVersion: z.literal(AUDIT_SCHEMA_VERSION),
  auditId: z.string(),
  refreshId: z.nullable(z.string()),
  outcome: z.enum(ZONE_REFRESH_OUTCOMES),
  origin: z.nullable(RequestOriginSchema),
  actor: z.nullable(ActorSchema),
  requestReason: z.nullable(z.string()),
  service: z.nullable(z.string()),
  zone: z.nullable(z.string()),
  /** The zone's count of unapplied changes the operator saw and approved. */
  ifPending: z.nullable(z.number()),
  /** The zone's count when the worker came to it (null when it was not read). */
  pending: z.nullable(z.number()),
  code: z.nullable(z.string()),
  message: z.nullable(z.string()),
  retryable: z.nullable(z.boolean()),
  ovhQueryId: z.nullable(z.string()),
  refresh: z.nullable(RefreshRefSchema),
  requestedAt: z.nullable(IsoTime),
  decidedAt: IsoTime,
});
export type ZoneRefreshAuditDetail = z.infer<typeof ZoneRefreshAuditDetailSchema>;

/** Schemas published for consumers, by file name under schemas/. */
export const PUBLISHED_SCHEMAS = {
  'stickiness-change-requested': ChangeRequestedDetailSchema,
  'stickiness-change-audit': ChangeAuditDetailSchema,
  'zone-configuration-applied': ZoneAppliedDetailSchema,
  'compliance-drift-detected': ComplianceDriftDetailSchema,
  'compliance-run-blocked': ComplianceBlockedDetailSchema,
  'compliance-run-completed': ComplianceCompletedDetailSchema,
  'compliance-run-failed': ComplianceFailedDetailSchema,
  'compliance-rollout': ComplianceRolloutDetailSchema,
  'stickiness-change-denied': ChangeDeniedDetailSchema,
  'stickiness-change-cancel-requested': CancelRequestedDetailSchema,
  'stickiness-change-cancel-refused': CancelRefusedDetailSchema,
  'ticket-edit-ignored': TicketEditIgnoredDetailSchema,
  'zone-refresh-requested': ZoneRefreshRequestedDetailSchema,
  'zone-refresh-audit': ZoneRefreshAuditDetailSchema,
} as const;

/** One event to publish: what PutEvents needs, before the bus name is added. */
export interface OutgoingEvent {
  detailType: (typeof DETAIL_TYPES)[keyof typeof DETAIL_TYPES];
  detail:
    | ChangeAuditDetail
    | ZoneAppliedDetail
    | ChangeRequestedDetail
    | ComplianceDriftDetail
    | ComplianceBlockedDetail
    | ComplianceCompletedDetail
    | ComplianceFailedDetail
    | ComplianceRolloutDetail
    | ChangeDeniedDetail
    | CancelRequestedDetail
    | CancelRefusedDetail
    | TicketEditIgnoredDetail
    | ZoneRefreshRequestedDetail
    | ZoneRefreshAuditDetail;
  /** Stable id used to keep a resent event from being counted twice by consumers. */
  dedupeKey: string;
  /** `source` on the bus: `stickler` (audit events) unless said here (a trigger's change requests). */
  source?: string;
}

/**
 * A request's terminal outcome as its record keeps it once decided (for whoever follows the
 * request, such as the CLI, and for an undo): the facts of its terminal audit event.
 */
export interface TerminalOutcome {
  outcome: ChangeAuditDetail['outcome'];
  code: string | null;
  message: string | null;
  service: string | null;
  farmType: ChangeAuditDetail['farmType'];
  farmId: number | null;
  zone: string | null;
  before: ChangeAuditDetail['before'];
  after: ChangeAuditDetail['after'];
  taskId: number | null;
  ticket: string | null;
  decidedAt: string;
}

/** The terminal outcome among a request's events (its per-request audit event other than Deferred). */
export const terminalOf = (events: readonly OutgoingEvent[]): TerminalOutcome | undefined => {
  for (const e of events) {
    const d = e.detail as Partial<ChangeAuditDetail>;
    if (typeof d.outcome !== 'string' || d.outcome === 'deferred' || d.decidedAt === undefined) continue;
    return {
      outcome: d.outcome,
      code: d.code ?? null,
      message: d.message ?? null,
      service: d.service ?? null,
      farmType: d.farmType ?? null,
      farmId: d.farmId ?? null,
      zone: d.refresh?.zone ?? d.zone ?? null,
      before: d.before ?? null,
      after: d.after ?? null,
      taskId: d.refresh?.taskId ?? null,
      ticket: d.ticket ?? null,
      decidedAt: d.decidedAt,
    };
  }
  return undefined;
};
