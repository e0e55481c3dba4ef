/**
 * Reads the fleet: every farm of every (or the named) service, with its stored stickiness.
 *
 * Services are read in bounded groups (readInGroups): a service is started while fewer than
 * FARMS_IN_FLIGHT farms are being read (counting each service still being listed as large as the
 * largest listed so far, FIRST_ESTIMATE before any) and fewer than SERVICES_LISTING services are
 * being listed. A service read with OVH's aggregated listing holds no farm reads. The calls
 * waiting for the OVH client's limiter, and what they hold, then follow the largest service (at
 * most the budget and SERVICES_LISTING services' farms), not the fleet, while enough calls wait
 * to keep every slot of the limiter busy.
 */
import { ServiceUnavailableError } from '../domain/errors';
import type { Farm } from '../domain/farm';
import type { LoadBalancerApi } from '../ports/load-balancer-api';

export interface DiscoverFleetDeps {
  api: LoadBalancerApi;
}

export interface DiscoverOptions {
  /** Only these load balancers; any that cannot be read is an error. */
  services?: readonly string[];
  /**
   * Told of each listed load balancer skipped because it is expired, suspended or not granted
   * to the key (only when stickler listed the services itself: a named one fails the run).
   */
  onSkipped?: (service: string, reason: string) => void;
  /**
   * With it, a load balancer that cannot be read (its calls failed after their retries) is told
   * here and left out, and the others are read: a run does what it can and reports the rest.
   * Without it, the first such failure fails the whole read.
   */
  onFailed?: (service: string, error: unknown) => void;
}

/** The most farms read at once (services already listed), before another service is started. */
export const FARMS_IN_FLIGHT = 2_000;
/** The most services listed at once (their farm lists not answered yet). */
export const SERVICES_LISTING = 32;
/** How many farms a service still being listed counts for, before any service was listed. */
export const FIRST_ESTIMATE = FARMS_IN_FLIGHT / 8;

/** How a service's read tells the group how many farms it is reading, once it knows. */
type ReadService = (service: string, listed: (farms: number) => void) => Promise<Farm[]>;

/**
 * Runs `read` over the services in bounded groups (see the header), each result at its
 * service's index. The first failure rejects at once, and no further service is started.
 */
export const readInGroups = (services: readonly string[], read: ReadService): Promise<Farm[][]> =>
  new Promise((resolve, reject) => {
    const results: Farm[][] = new Array(services.length);
    let next = 0;
    let running = 0;
    let listing = 0;
    let held = 0;
    let largest: number | undefined;
    let failed = false;
    const start = (index: number) => {
      running++;
      listing++;
      let farms = 0;
      let listed = false;
      const onListed = (n: number) => {
        if (listed) return;
        listed = true;
        listing--;
        farms = n;
        held += n;
        largest = Math.max(largest ?? 0, n);
      };
      read(services[index]!, (n) => {
        onListed(n);
        fill();
      }).then(
        (result) => {
          results[index] = result;
          onListed(0);
          held -= farms;
          running--;
          fill();
        },
        (error: unknown) => {
          failed = true;
          reject(error);
        },
      );
    };
    const fill = () => {
      if (failed) return;
      while (
        next < services.length &&
        listing < SERVICES_LISTING &&
        held + listing * (largest ?? FIRST_ESTIMATE) < FARMS_IN_FLIGHT
      )
        start(next++);
      if (next >= services.length && running === 0) resolve(results);
    };
    fill();
  });

/** The order of a fleet as read: by service, zone, type and farm id. */
export const byFleetOrder = (a: Farm, b: Farm): number =>
  a.service.localeCompare(b.service) ||
  a.zone.localeCompare(b.zone) ||
  a.type.localeCompare(b.type) ||
  a.farmId - b.farmId;

export const makeDiscoverFleet =
  ({ api }: DiscoverFleetDeps) =>
  async (options: DiscoverOptions = {}): Promise<Farm[]> => {
    const perService = await readInGroups(await servicesOf(api, options), readerOf(api, options));
    return perService.flat().sort(byFleetOrder);
  };

/**
 * Reads the fleet as `makeDiscoverFleet` does, but hands each load balancer's farms to `visit` as
 * soon as they are read, and keeps none of them: what a caller keeps of each is its own.
 */
export const makeScanFleet =
  ({ api }: DiscoverFleetDeps) =>
  async (options: DiscoverOptions, visit: (service: string, farms: Farm[]) => void): Promise<void> => {
    const read = readerOf(api, options);
    await readInGroups(await servicesOf(api, options), async (service, listed) => {
      visit(service, await read(service, listed));
      return [];
    });
  };

const servicesOf = async (api: LoadBalancerApi, options: DiscoverOptions): Promise<string[]> =>
  options.services?.length ? [...options.services] : api.listServices();

/** How one load balancer is read: its farms ([] when skipped or, with onFailed, failed). */
const readerOf = (api: LoadBalancerApi, options: DiscoverOptions): ReadService => {
  const named = Boolean(options.services?.length);
  return async (service, listed) => {
    try {
      let defined: Awaited<ReturnType<typeof api.listFarms>>;
      try {
        // A few calls per service when the API lists farms with their configuration.
        const withConfig = await api.listFarmsWithConfig?.(service);
        if (withConfig) {
          listed(0); // read whole with the listing: no farm reads to hold
          return withConfig;
        }
        defined = await api.listFarms(service);
      } catch (error) {
        if (named || !(error instanceof ServiceUnavailableError)) throw error;
        options.onSkipped?.(service, error.message);
        return [];
      }
      listed(defined.length);
      return await Promise.all(defined.map((d) => api.getFarm({ service, type: d.type, farmId: d.farmId })));
    } catch (error) {
      if (!options.onFailed) throw error;
      options.onFailed(service, error);
      return [];
    }
  };
};
