/**
 * Reads the fleet: every farm of every (or the named) service, with its stored stickiness.
 * All reads are issued at once; the OVH client's shared limiter sets the real concurrency.
 */
import type { Farm } from '../domain/farm';
import type { LoadBalancerApi } from '../ports/load-balancer-api';

export interface DiscoverFleetDeps {
  api: LoadBalancerApi;
}

export const makeDiscoverFleet =
  ({ api }: DiscoverFleetDeps) =>
  async (options: { services?: readonly string[] } = {}): Promise<Farm[]> => {
    const services = options.services?.length ? [...options.services] : await api.listServices();
    const perService = await Promise.all(
      services.map(async (service) => {
        const defined = await api.listFarms(service);
        return Promise.all(defined.map((d) => api.getFarm({ service, type: d.type, farmId: d.farmId })));
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
