import { makeComplianceRunHandler } from '../../lib/wiring/compliance-run';
import { intVar, optionalVar, ovhCallSettings, requiredVar, stageOf } from '../../lib/wiring/config';
import { makeSlackHandler } from '../../lib/wiring/slack';
import { loadWorkerConfig } from '../../lib/wiring/worker-config';

describe("the functions' configuration reader", () => {
  it('takes the default for an unset or blank variable, and refuses one set wrong, naming it', () => {
    expect(intVar({}, 'X', 7)).toBe(7);
    expect(intVar({ X: '  ' }, 'X', 7)).toBe(7);
    expect(intVar({ X: ' 12 ' }, 'X', 7)).toBe(12);
    for (const bad of ['12ms', '1e3', '1.5', '0x10', 'NaN', '-1', '0'])
      expect(() => intVar({ X: bad }, 'X', 7)).toThrow(`X must be a whole number >= 1, got '${bad}'`);
    expect(() => intVar({ X: '65' }, 'X', 7, { min: 1, max: 64 })).toThrow(
      "X must be a whole number from 1 to 64, got '65'",
    );
    expect(intVar({ X: '0' }, 'X', 7, { min: 0 })).toBe(0);
  });

  it('reads required, optional and the stage the same way everywhere', () => {
    expect(requiredVar({ A: ' a ' }, 'A')).toBe('a');
    expect(() => requiredVar({ A: ' ' }, 'A')).toThrow('A is not set');
    expect(optionalVar({ A: ' ' }, 'A')).toBeUndefined();
    expect(stageOf({})).toBe('dev');
    expect(stageOf({ STAGE: ' local ' })).toBe('local');
  });

  it('holds the OVH call settings to one rule: a known endpoint or URL, 1 to 64 calls, 100 ms to 2 minutes', () => {
    expect(ovhCallSettings({})).toEqual({
      baseUrl: 'https://eu.api.ovh.com/1.0',
      concurrency: 8,
      timeoutMs: 15_000,
    });
    expect(ovhCallSettings({}, { timeoutMs: 10_000 }).timeoutMs).toBe(10_000);
    expect(() => ovhCallSettings({ OVH_TIMEOUT_MS: '15s' })).toThrow(
      "OVH_TIMEOUT_MS must be a whole number from 100 to 2147483647, got '15s'",
    );
    expect(() => ovhCallSettings({ OVH_CONCURRENCY: '0' })).toThrow(
      'OVH_CONCURRENCY must be a whole number from 1 to 64',
    );
  });

  it('refuses a garbled OVH_TIMEOUT_MS in every function that calls OVH, at start', () => {
    const bad = { OVH_TIMEOUT_MS: 'fifteen' };
    const message = "OVH_TIMEOUT_MS must be a whole number from 100 to 2147483647, got 'fifteen'";
    expect(() =>
      loadWorkerConfig({
        STAGE: 'local',
        EVENT_BUS_NAME: 'b',
        IDEMPOTENCY_TABLE: 't',
        DEFERRAL_SCHEDULE_GROUP: 'g',
        EVENT_BUS_ARN: 'arn',
        DEFERRAL_ROLE_ARN: 'arn',
        ...bad,
      }),
    ).toThrow(message);
    expect(() =>
      makeComplianceRunHandler({
        STAGE: 'local',
        AWS_REGION: 'eu-west-3',
        EVENT_BUS_NAME: 'b',
        IDEMPOTENCY_TABLE: 't',
        POLICY_BUCKET: 'p',
        POLICY_KEY: 'k',
        ...bad,
      }),
    ).toThrow(message);
    expect(() =>
      makeSlackHandler({
        STAGE: 'local',
        AWS_REGION: 'eu-west-3',
        EVENT_BUS_NAME: 'b',
        IDEMPOTENCY_TABLE: 't',
        ...bad,
      }),
    ).toThrow(message);
  });
});
