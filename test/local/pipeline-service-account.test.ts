import { join } from 'node:path';
import { toWord } from '../../lib/domain/stickiness';
import { SIMULATOR_SERVICE_ACCOUNT } from '../../lib/simulator/server';
import { captureCli } from '../helpers/cli';
import { type PipelineHarness, startPipelineHarness } from '../helpers/pipeline';

const examples = join(__dirname, '../../examples');

/**
 * The local pipeline of `stickler simulate --pipeline --service-account`: the `local` stage's
 * functions take the service account from OVH_CLIENT_ID and OVH_CLIENT_SECRET, as the CLI does.
 */
describe('the local pipeline with an OVH service account', () => {
  let harness: PipelineHarness;
  beforeAll(async () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    harness = await startPipelineHarness({ pipeline: { ovhCredentials: SIMULATOR_SERVICE_ACCOUNT } });
  });
  afterAll(() => harness.close());

  it('applies a change through the worker with bearer tokens, and the doctor passes', async () => {
    const { sim, pipeline } = harness;
    expect(pipeline.env).toMatchObject({ OVH_CLIENT_ID: SIMULATOR_SERVICE_ACCOUNT.clientId });
    expect(pipeline.env.OVH_APPLICATION_KEY).toBeUndefined();
    const service = 'loadbalancer-7f3a9c21';
    const stored = () =>
      toWord((sim.state.services.get(service)!.farms.get('http/101')!.stored.stickiness ?? null) as never);
    const target = stored() === 'cookie' ? 'sourceIp' : 'cookie';
    const set = await captureCli(
      ['set', service, 'http/101', target, '--pipeline', '--yes', '--json'],
      { ...pipeline.env },
      examples,
    );
    expect(set.code).toBe(0);
    expect(JSON.parse(set.out).changes[0]).toMatchObject({ outcome: 'applied', after: target });
    expect(stored()).toBe(target);
    expect(sim.stats.calls['oauth2-token']).toBeGreaterThanOrEqual(1);
    expect(sim.stats.calls['auth-time']).toBe(0);
    expect(sim.stats.rejected.auth).toBe(0);

    const doctor = await captureCli(['doctor', '--json'], { ...pipeline.env }, examples);
    expect(doctor.code).toBe(0);
    expect(JSON.parse(doctor.out).ok).toBe(true);
  });
});
