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
