/**
 * The event contract with the outside: change requests coming in on the bus, and the audit
 * events stickler emits (past tense). One schema per event; the same schema parses the wire and
 * types the code, and `schemas/*.json` is generated from these (see scripts/generate-schemas.ts).
 */
import * as z from 'zod/mini';
import { ActorSchema, ChangeRequestSchema, RequestIdSchema, TICKET_SYSTEMS } from './change-request';
import { SERVICE_NAME_PATTERN, SERVICE_NAME_RULE } from './farm';

/** `source` of every event stickler emits. */
export const AUDIT_SOURCE = 'stickler';

export const DETAIL_TYPES = {
  changeRequested: 'Stickiness Change Requested',
  applied: 'Stickiness Change Applied',
  unchanged: 'Stickiness Change Unchanged',
  refused: 'Stickiness Change Refused',
  failed: 'Stickiness Change Failed',
  deferred: 'Stickiness Change Deferred',
  cancelRequested: 'Stickiness Change Cancel Requested',
  cancelled: 'Stickiness Change Cancelled',
  cancelRefused: 'Stickiness Change Cancel Refused',
  ticketEditIgnored: 'Ticket Edit Ignored',
  ticketApprovalRefused: 'Ticket Approval Refused',
  denied: 'Stickiness Change Denied',
  zoneApplied: 'Zone Configuration Applied',
  complianceDrift: 'Compliance Drift Detected',
  complianceBlocked: 'Compliance Run Blocked',
  complianceCompleted: 'Compliance Run Completed',
  complianceFailed: 'Compliance Run Failed',
  rolloutFinished: 'Compliance Rollout Finished',
  rolloutStopped: 'Compliance Rollout Stopped',
  zoneRefreshRequested: 'Zone Refresh Requested',
  zoneRefreshApplied: 'Zone Refresh Applied',
  zoneRefreshUnchanged: 'Zone Refresh Unchanged',
  zoneRefreshRefused: 'Zone Refresh Refused',
  zoneRefreshFailed: 'Zone Refresh Failed',
} as const;

/** What the bus's rule sends to the worker's queue (serverless.yml ChangeRequestRule; the local bus). */
export const QUEUED_DETAIL_TYPES = [
  DETAIL_TYPES.changeRequested,
  DETAIL_TYPES.cancelRequested,
  DETAIL_TYPES.zoneRefreshRequested,
] as const;

export const IsoTime = z.iso.datetime({ offset: true });

export const ChangeWindowSchema = z
  .strictObject({
    notBefore: z.optional(IsoTime),
    notAfter: z.optional(IsoTime),
    /**
     * `quietest`: apply at the start of the quietest 5 minutes of the window by the load balancer's
     * last 7 days of traffic (the worker defers it there); without metrics, as soon as the window is open.
     */
    prefer: z.optional(z.literal('quietest')),
  })
  .check(
    z.refine((w) => w.notBefore !== undefined || w.notAfter !== undefined, {
      message: 'a window names notBefore, notAfter or both (an empty window is refused, not read as "now")',
    }),
    z.refine((w) => !w.notBefore || !w.notAfter || Date.parse(w.notBefore) < Date.parse(w.notAfter), {
      message: 'notBefore must be earlier than notAfter',
      path: ['notAfter'],
    }),
    z.refine((w) => w.prefer === undefined || w.notAfter !== undefined, {
      message: 'prefer: quietest needs notAfter (the quietest slot is chosen inside the window)',
      path: ['notAfter'],
    }),
  );
export type ChangeWindow = z.infer<typeof ChangeWindowSchema>;

/**
 * Where to tell the requester how it ended: a URL (never copied into audit events), the ticket
 * the request came from (`ticket`: a comment on it, at the base URL configured for that system,
 * never one taken from a payload), or the Slack conversation of an Apply click (`slack`: the
 * reply address stays in stickler's table, keyed by the request id, and only requests published
 * by stickler's own Slack function are answered there).
 */
export const NotifySchema = z.union([
  z.strictObject({
    kind: z.enum(['slack-response-url', 'webhook']),
    url: z.url({ protocol: /^https$/ }),
  }),
  z.strictObject({ kind: z.literal('ticket'), system: z.enum(['jira', 'servicenow']) }),
  z.strictObject({ kind: z.literal('slack') }),
]);
export type Notify = z.infer<typeof NotifySchema>;

/** detail of `Stickiness Change Requested`; other systems may publish it too. */
export const ChangeRequestedDetailSchema = z.extend(ChangeRequestSchema, {
  window: z.optional(ChangeWindowSchema),
  notify: z.optional(NotifySchema),
});
export type ChangeRequestedDetail = z.infer<typeof ChangeRequestedDetailSchema>;

/**
 * detail of `Stickiness Change Cancel Requested`: cancels a request still waiting for its change
 * window (`requestId`), or every request of a ticket still waiting (`ticket`, published by the
 * ticket webhook when the ticket leaves its approved state). `cancelId` identifies the cancel
 * itself: the same cancel published twice is carried out once. Strict, like a change request.
 */
export const CancelRequestedDetailSchema = z
  .strictObject({
    cancelId: RequestIdSchema,
    requestId: z.optional(RequestIdSchema),
    ticket: z.optional(
      z.strictObject({
        system: z.enum(TICKET_SYSTEMS),
        key: z.string().check(z.minLength(1), z.maxLength(64)),
      }),
    ),
    actor: ActorSchema,
    reason: z.optional(z.string().check(z.maxLength(2000))),
    requestedAt: IsoTime,
  })
  .check(
    z.refine((c) => (c.requestId === undefined) !== (c.ticket === undefined), {
      message: 'give either requestId or ticket',
      path: ['requestId'],
    }),
  );
export type CancelRequestedDetail = z.infer<typeof CancelRequestedDetailSchema>;

/** A zone's name as OVH gives it (`gra`, `sbg`, `bhs`…), or `all`: short and printable. */
export const ZONE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;

/**
 * detail of `Zone Refresh Requested`: apply one zone's unapplied changes, whoever made them, as
 * an operator approved it: `ifPending` is the zone's count of unapplied changes they saw, and the
 * worker refuses (`changed-since`) when the zone holds another count by the time it comes to it.
 * `refreshId` identifies the refresh (the same one published twice is carried out once). Only
 * stickler's own doors may publish it (the worker refuses others). Strict, like a change request.
 */
export const ZoneRefreshRequestedDetailSchema = z.strictObject({
  refreshId: RequestIdSchema,
  service: z.string().check(z.regex(SERVICE_NAME_PATTERN, { message: SERVICE_NAME_RULE })),
  zone: z
    .string()
    .check(z.regex(ZONE_NAME_PATTERN, { message: 'a zone is 1 to 40 letters, digits, _ or -' })),
  actor: ActorSchema,
  reason: z.optional(z.string().check(z.maxLength(2000))),
  requestedAt: IsoTime,
  ifPending: z.int().check(z.minimum(0), z.maximum(100_000)),
  /**
   * When the operator's count was read: a refresh of the zone that ended since applied what they
   * saw, and whatever the zone holds now (even as many) is someone else's, never approved.
   */
  lookedAt: IsoTime,
});
export type ZoneRefreshRequestedDetail = z.infer<typeof ZoneRefreshRequestedDetailSchema>;

/** How a request ends: exactly one of these per request. */
export const OUTCOMES = ['applied', 'unchanged', 'refused', 'failed', 'cancelled'] as const;
export type Outcome = (typeof OUTCOMES)[number];
/** What the per-request audit events report: an outcome, or a deferral until the window opens. */
export const AUDIT_OUTCOMES = [...OUTCOMES, 'deferred'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];
/** `schemaVersion` of the audit events stickler emits now (events without one are version 1). */
export const AUDIT_SCHEMA_VERSION = 2 as const;

/** The detail-type of each per-request audit event. */
export const AUDIT_DETAIL_TYPE: Record<AuditOutcome, (typeof DETAIL_TYPES)[keyof typeof DETAIL_TYPES]> = {
  applied: DETAIL_TYPES.applied,
  unchanged: DETAIL_TYPES.unchanged,
  refused: DETAIL_TYPES.refused,
  failed: DETAIL_TYPES.failed,
  cancelled: DETAIL_TYPES.cancelled,
  deferred: DETAIL_TYPES.deferred,
};
