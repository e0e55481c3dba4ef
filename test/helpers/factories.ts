import type { ChangeAuditDetail } from '../../lib/domain/audit-events';
/** Small builders for domain values in tests: a sensible default, overridden where a test cares. */
import type { ChangeRequest } from '../../lib/domain/change-request';
import type { Farm } from '../../lib/domain/farm';

export const aFarm = (over: Partial<Farm> = {}): Farm => ({
  service: 'lb-a',
  type: 'http',
  farmId: 1,
  zone: 'gra',
  displayName: 'web',
  stickiness: null,
  ...over,
});

export const aChangeRequest = (over: Partial<ChangeRequest> = {}): ChangeRequest => ({
  requestId: 'r1',
  service: 'lb-a',
  farmType: 'http',
  farmId: 1,
  stickiness: 'cookie',
  actor: { kind: 'cli', id: 'ops' },
  requestedAt: '2026-11-25T10:00:00Z',
  ...over,
});

/** A terminal audit event's detail (applied by default), as the worker emits it. */
export const anAuditDetail = (over: Partial<ChangeAuditDetail> = {}): ChangeAuditDetail => ({
  schemaVersion: 2,
  auditId: 'r-1:applied',
  requestId: 'r-1',
  outcome: 'applied',
  origin: { source: 'stickler.ticketing', account: '123456789012', eventId: 'e-1' },
  actor: { kind: 'ticket', id: 'jira:a' },
  ticket: 'OPS-1',
  requestReason: null,
  service: 'lb-a',
  farmType: 'http',
  farmId: 1,
  zone: 'gra',
  displayName: 'web',
  before: 'none',
  after: 'cookie',
  code: null,
  message: null,
  retryable: null,
  ovhQueryId: null,
  refresh: { zone: 'gra', taskId: 42, status: 'done' },
  requestedAt: '2026-11-25T10:00:00Z',
  decidedAt: '2026-11-25T10:01:00.000Z',
  deferredUntil: null,
  notify: { kind: 'ticket', system: 'jira' },
  ...over,
});
