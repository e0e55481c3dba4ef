/**
 * Reads the fleet: every farm of every (or the named) service, with its stored stickiness.
 * All reads are issued at once; the OVH client's shared limiter sets the real concurrency.
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

export const makeDiscoverFleet =
  ({ api }: DiscoverFleetDeps) =>
  async (options: DiscoverOptions = {}): Promise<Farm[]> => {
    const named = Boolean(options.services?.length);
    const services = named ? [...options.services!] : await api.listServices();
    const perService = await Promise.all(
      services.map(async (service) => {
        try {
          let defined: Awaited<ReturnType<typeof api.listFarms>>;
          try {
            // A few calls per service when the API lists farms with their configuration.
            const listed = await api.listFarmsWithConfig?.(service);
            if (listed) return listed;
            defined = await api.listFarms(service);
          } catch (error) {
            if (named || !(error instanceof ServiceUnavailableError)) throw error;
            options.onSkipped?.(service, error.message);
            return [];
          }
          return await Promise.all(
            defined.map((d) => api.getFarm({ service, type: d.type, farmId: d.farmId })),
          );
        } catch (error) {
          if (!options.onFailed) throw error;
          options.onFailed(service, error);
          return [];
        }
      }),
    );
    return perService
      .flat()
      .sort(
        (a, b) =>
          a.service.localeCompare(b.service) ||
          a.zone.localeCompare(b.zone) ||
          a.type.localeCompare(b.type) ||
          a.farmId - b.farmId,
      );
  };
