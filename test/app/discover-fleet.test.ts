import {
  FARMS_IN_FLIGHT,
  FIRST_ESTIMATE,
  makeDiscoverFleet,
  readInGroups,
  SERVICES_LISTING,
} from '../../lib/app/discover-fleet';
import type { Farm, FarmRef } from '../../lib/domain/farm';
import type { LoadBalancerApi } from '../../lib/ports/load-balancer-api';

/** A fleet of `services` × `farms`, answered a tick later, counting the reads waiting at once. */
const fleetApi = (services: number, farms: number, failing?: string) => {
  const names = Array.from({ length: services }, (_, i) => `loadbalancer-${String(i).padStart(4, '0')}`);
  const tick = () => new Promise((r) => setImmediate(r));
  const seen = {
    farmsAtOnce: 0,
    maxFarmsAtOnce: 0,
    listingAtOnce: 0,
    maxListingAtOnce: 0,
    listed: [] as string[],
  };
  const api = {
    listServices: async () => [...names].reverse(),
    listFarms: async (service: string) => {
      seen.listed.push(service);
      seen.maxListingAtOnce = Math.max(seen.maxListingAtOnce, ++seen.listingAtOnce);
      await tick();
      seen.listingAtOnce--;
      if (service === failing) throw Object.assign(new Error(`${service} failed`), { retryable: true });
      return Array.from({ length: farms }, (_, i) => ({ type: 'http' as const, farmId: i + 1 }));
    },
    getFarm: async (ref: FarmRef): Promise<Farm> => {
      seen.maxFarmsAtOnce = Math.max(seen.maxFarmsAtOnce, ++seen.farmsAtOnce);
      for (let i = 0; i < 3; i++) await tick();
      seen.farmsAtOnce--;
      return { ...ref, zone: ['gra', 'sbg'][ref.farmId % 2]!, displayName: null, stickiness: null };
    },
  } as unknown as LoadBalancerApi;
  return { api, seen, names };
};

describe('discover fleet', () => {
  it('reads every farm of every service, sorted by service, zone, type and id', async () => {
    const { api, names } = fleetApi(30, 7);
    const fleet = await makeDiscoverFleet({ api })();
    expect(fleet).toHaveLength(30 * 7);
    expect(fleet[0]).toMatchObject({ service: names[0], zone: 'gra', farmId: 2 });
    expect(new Set(fleet.map((f) => f.service)).size).toBe(30);
  });

  it('holds at most its farm budget and a few services in reads at once, however large the fleet', async () => {
    const { api, seen } = fleetApi(60, 300);
    const fleet = await makeDiscoverFleet({ api })();
    expect(fleet).toHaveLength(60 * 300);
    // The first services are started before any size is known (FIRST_ESTIMATE farms each).
    expect(seen.maxFarmsAtOnce).toBeLessThanOrEqual(
      Math.max(FARMS_IN_FLIGHT + 300, Math.ceil(FARMS_IN_FLIGHT / FIRST_ESTIMATE) * 300),
    );
    expect(seen.maxFarmsAtOnce).toBeGreaterThanOrEqual(FARMS_IN_FLIGHT - 300);
  });

  it('lists several small services at once, never more than its listing bound', async () => {
    const { api, seen } = fleetApi(100, 2);
    await makeDiscoverFleet({ api })();
    expect(seen.maxListingAtOnce).toBe(SERVICES_LISTING);
  });

  it('without onFailed, fails with the first service that cannot be read and starts no other', async () => {
    const { api, seen, names } = fleetApi(100, 2, 'loadbalancer-0090');
    await expect(makeDiscoverFleet({ api })()).rejects.toThrow('loadbalancer-0090 failed');
    const started = seen.listed.length;
    await new Promise((r) => setTimeout(r, 20));
    expect(seen.listed.length).toBe(started);
    expect(started).toBeLessThan(names.length);
  });

  it('with onFailed, tells the failed service and reads the others', async () => {
    const { api } = fleetApi(20, 3, 'loadbalancer-0004');
    const failed: string[] = [];
    const fleet = await makeDiscoverFleet({ api })({ onFailed: (service) => failed.push(service) });
    expect(failed).toEqual(['loadbalancer-0004']);
    expect(fleet).toHaveLength(19 * 3);
  });

  it('resolves at once with no service', async () => {
    await expect(readInGroups([], async () => [])).resolves.toEqual([]);
  });
});
