import { loadWorkerConfig } from '../../lib/wiring/worker-config';

const base = {
  EVENT_BUS_NAME: 'bus',
  IDEMPOTENCY_TABLE: 'table',
  OVH_CREDENTIALS_PARAMETER: '/stickler/prod/ovh',
  EVENT_BUS_ARN: 'arn:aws:events:eu-west-3:123456789012:event-bus/bus',
  DEFERRAL_SCHEDULE_GROUP: 'stickler-prod',
  DEFERRAL_ROLE_ARN: 'arn:aws:iam::123456789012:role/stickler-prod-deferral',
};

describe('loadWorkerConfig', () => {
  it('reads a deployed stage with credentials from SSM and defaults', () => {
    expect(loadWorkerConfig({ ...base, STAGE: 'prod' })).toMatchObject({
      stage: 'prod',
      ovhBaseUrl: 'https://eu.api.ovh.com/1.0',
      ovhCredentialsParameters: { applicationKey: '/stickler/prod/ovh' },
      maxReceiveCount: 5,
      pollIntervalMs: 2000,
      taskTimeoutMs: 240_000,
      finishReserveMs: 300_000,
      leaseWaitMs: 60_000,
    });
  });

  it('hands the deferral dead-letter queue to the schedules it creates, when the stack names one', () => {
    const arn = 'arn:aws:sqs:eu-west-3:123456789012:stickler-prod-deferral-dlq';
    expect(loadWorkerConfig({ ...base, STAGE: 'prod', DEFERRAL_DLQ_ARN: arn }).deferral.deadLetterArn).toBe(
      arn,
    );
    expect(loadWorkerConfig({ ...base, STAGE: 'prod', DEFERRAL_DLQ_ARN: '' }).deferral).not.toHaveProperty(
      'deadLetterArn',
    );
  });

  it('waits for a held load balancer as long as told, or not at all, and refuses anything else', () => {
    expect(loadWorkerConfig({ ...base, STAGE: 'prod', LEASE_WAIT_MS: '0' }).leaseWaitMs).toBe(0);
    expect(loadWorkerConfig({ ...base, STAGE: 'prod', LEASE_WAIT_MS: '15000' }).leaseWaitMs).toBe(15_000);
    for (const bad of ['-1', '1.5', 'soon'])
      expect(() => loadWorkerConfig({ ...base, STAGE: 'prod', LEASE_WAIT_MS: bad })).toThrow(
        `LEASE_WAIT_MS must be a whole number from 0 to 2147483647, got '${bad}'`,
      );
  });

  it('keeps enough time at the end of an invocation for a refresh task, unless told otherwise', () => {
    expect(loadWorkerConfig({ ...base, STAGE: 'prod', TASK_TIMEOUT_MS: '60000' }).finishReserveMs).toBe(
      120_000,
    );
    expect(loadWorkerConfig({ ...base, STAGE: 'prod', FINISH_RESERVE_MS: '90000' }).finishReserveMs).toBe(
      90_000,
    );
  });

  it('refuses a deployed stage without an SSM parameter: no credentials in plain environment variables', () => {
    expect(() => loadWorkerConfig({ EVENT_BUS_NAME: 'bus', IDEMPOTENCY_TABLE: 't', STAGE: 'prod' })).toThrow(
      'OVH_CREDENTIALS_PARAMETER is not set: deployed stages read OVH credentials from SSM only',
    );
  });

  it('never reads SSM in the local stage', () => {
    expect(loadWorkerConfig({ ...base, STAGE: 'local' }).ovhCredentialsParameters).toBeUndefined();
  });

  it.each([
    [{ MAX_RECEIVE_COUNT: 'five' }, "MAX_RECEIVE_COUNT must be a whole number from 1 to 1000, got 'five'"],
    [{ EVENT_BUS_NAME: '' }, 'EVENT_BUS_NAME is not set'],
    [{ OVH_ENDPOINT: 'ftp://x' }, "OVH_ENDPOINT must use http or https, got 'ftp:'"],
  ])('says what is wrong with %j', (extra, message) => {
    expect(() => loadWorkerConfig({ ...base, STAGE: 'prod', ...extra })).toThrow(message);
  });
});
