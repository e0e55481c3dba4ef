import type { EventBridgeEnvelope } from '../../lib/adapters/eventbridge/envelope';
import { describeEvent } from '../../lib/cli/demo-pipeline';

const envelope = (detailType: string, detail: Record<string, unknown>, source = 'stickler') =>
  ({
    version: '0',
    id: 'e-1',
    'detail-type': detailType,
    source,
    account: '000000000000',
    time: '2026-12-07T10:00:00Z',
    region: 'eu-west-3',
    resources: [],
    detail,
  }) as unknown as EventBridgeEnvelope;

describe('the local pipeline’s audit trail (describeEvent)', () => {
  it('names a zone refresh by its id, load balancer, zone and approved count, and its outcome', () => {
    const asked = { refreshId: 'refresh-1', service: 'lb-a', zone: 'gra', ifPending: 2 };
    expect(describeEvent(envelope('Zone Refresh Requested', asked, 'stickler.cli'))).toBe(
      'Zone Refresh Requested       refresh-1: lb-a zone gra, 2 change(s) approved (from stickler.cli)',
    );
    expect(
      describeEvent(
        envelope('Zone Refresh Refused', { ...asked, code: 'changed-since', message: 'refused: holds 3' }),
      ),
    ).toBe(
      'Zone Refresh Refused         refresh-1: lb-a zone gra, 2 change(s) approved [changed-since] — refused: holds 3',
    );
  });

  it('names a change request and an outcome by farm', () => {
    expect(
      describeEvent(
        envelope(
          'Stickiness Change Requested',
          { requestId: 'r-1', service: 'lb-a', farmType: 'http', farmId: 1, stickiness: 'cookie' },
          'stickler.cli',
        ),
      ),
    ).toBe('Stickiness Change Requested  r-1: lb-a http/1 → cookie (no ticket, from stickler.cli)');
    expect(
      describeEvent(
        envelope('Stickiness Change Applied', {
          requestId: 'r-1',
          service: 'lb-a',
          farmType: 'http',
          farmId: 1,
          before: 'none',
          after: 'cookie',
        }),
      ),
    ).toBe('Stickiness Change Applied    r-1: lb-a http/1 none → cookie');
  });
});
