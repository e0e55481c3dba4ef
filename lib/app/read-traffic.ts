/**
 * The traffic of the load balancers a plan would refresh, and the quietest slot of a window for
 * each: read for every service at once, never failing (a service without metrics is unknown).
 */
import { type ServiceTraffic, summarizeTraffic, type TimeWindow } from '../domain/traffic';
import type { Clock } from '../ports/clock';
import type { LoadBalancerTraffic } from '../ports/load-balancer-traffic';

export interface TrafficReport {
  /** The window searched: the one asked, from now on if it began earlier. */
  window: TimeWindow;
  /** One per service, by name. */
  services: ServiceTraffic[];
}

export const makeReadTraffic = (deps: { traffic: LoadBalancerTraffic; clock: Clock }) =>
  async function readTraffic(input: {
    services: readonly string[];
    window: TimeWindow;
  }): Promise<TrafficReport> {
    const now = deps.clock.now();
    const window = { start: Math.max(input.window.start, now.getTime()), end: input.window.end };
    const names = [...new Set(input.services)].sort((a, b) => a.localeCompare(b));
    const readings = await Promise.all(names.map((service) => deps.traffic.read(service, now)));
    return { window, services: readings.map((reading) => summarizeTraffic(reading, window)) };
  };
