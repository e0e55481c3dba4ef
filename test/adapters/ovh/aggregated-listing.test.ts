import { OvhHttpClient } from '../../../lib/adapters/ovh/http-client';
import { LIST_PAGE_SIZE, OvhLoadBalancerApi } from '../../../lib/adapters/ovh/ovh-load-balancer-api';
import { makeDiscoverFleet } from '../../../lib/app/discover-fleet';
import { generateFleet } from '../../../lib/simulator/fleet';
import { type RunningSimulator, SIMULATOR_CREDENTIALS, startSimulator } from '../../../lib/simulator/server';

/** Discovery with the aggregated farm list (OVH's control-panel listing mode) and without it. */
describe('farm discovery: aggregated list when OVH offers it, farm by farm otherwise', () => {
  const fleet = generateFleet({ services: 4, zonesPerService: 3, farmsPerService: 30 });
  let sims: RunningSimulator[] = [];
  afterEach(async () => {
    await Promise.all(sims.map((s) => s.close()));
    sims = [];
  });
  const discover = async (aggregatedListing: boolean, listing?: 'auto' | 'per-farm', f = fleet) => {
    const sim = await startSimulator({ fleet: f, aggregatedListing });
    sims.push(sim);
    const client = new OvhHttpClient({
      baseUrl: sim.baseUrl,
      credentials: SIMULATOR_CREDENTIALS,
      concurrency: 8,
    });
    const api = new OvhLoadBalancerApi(client, listing ? { listing } : {});
    const farms = await makeDiscoverFleet({ api })();
    return { farms, calls: { ...sim.stats.calls } };
  };

  it('reads every farm in one call per farm type and service, with the same result as farm by farm', async () => {
    const aggregated = await discover(true);
    const perFarm = await discover(false, 'per-farm');
    expect(aggregated.farms).toEqual(perFarm.farms);
    expect(aggregated.farms).toHaveLength(120);
    expect(aggregated.calls).toMatchObject({
      'list-farm-objects': 4 * 3,
      'get-farm': 0,
      'defined-farms': 0,
      'list-farms': 0,
    });
  });

  it('without the mode, costs one call more per run (not per service), then reads exactly as before', async () => {
    const probed = await discover(false);
    const before = await discover(false, 'per-farm');
    expect(probed.farms).toEqual(before.farms);
    expect(probed.calls['list-farms']).toBe(1);
    expect({ ...probed.calls, 'list-farms': 0 }).toEqual(before.calls);
    expect(before.calls).toMatchObject({
      'defined-farms': 4,
      'get-farm': 120,
      'list-farm-objects': 0,
      'list-farms': 0,
    });
  });

  it('reads a list longer than a page page by page', async () => {
    const big = generateFleet({ services: 1, zonesPerService: 2, farmsPerService: LIST_PAGE_SIZE * 2 + 10 });
    const { farms, calls } = await discover(true, 'auto', big);
    expect(farms).toHaveLength(LIST_PAGE_SIZE * 2 + 10);
    expect(new Set(farms.map((f) => `${f.type}/${f.farmId}`)).size).toBe(farms.length);
    expect(calls['get-farm']).toBe(0);
    expect(calls['list-farm-objects']).toBeLessThanOrEqual(6);
  });
});
