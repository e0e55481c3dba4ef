/**
 * The traffic of the load balancers a plan would refresh, and the quietest slot of a window for
 * each: read for every service at once, never failing (a service without metrics is unknown).
 */
import { type ServiceTraffic, summarizeTraffic, type TimeWindow } from '../domain/traffic';
import type { Clock } from '../ports/clock';
import type { LoadBalancerTraffic } from '../ports/load-balancer-traffic';

export interface TrafficReport {
  /** The window asked, from now on if it began earlier (as the person gave it, margin or not). */
  window: TimeWindow;
  /** One per service, by name. */
  services: ServiceTraffic[];
}

/** Why a window has no quietest slot when all of it lies in the margin kept before its end. */
const inMargin = (marginMs: number) =>
  `the window ends within the ${Math.round(marginMs / 1000)} s the pipeline's worker keeps free before a window's end`;

/**
 * `marginMs`: what the worker keeps free before a window's end when it defers a request (its
 * batching window and 10 s): the quietest slot is searched in the window less that, as the worker
 * searches it, while the window said stays the one asked.
 */
export const makeReadTraffic = (deps: { traffic: LoadBalancerTraffic; clock: Clock }) =>
  async function readTraffic(input: {
    services: readonly string[];
    window: TimeWindow;
    marginMs?: number;
  }): Promise<TrafficReport> {
    const now = deps.clock.now();
    const window = { start: Math.max(input.window.start, now.getTime()), end: input.window.end };
    const margin = input.marginMs ?? 0;
    const searched = { start: window.start, end: window.end - margin };
    const names = [...new Set(input.services)].sort((a, b) => a.localeCompare(b));
    const readings = await Promise.all(names.map((service) => deps.traffic.read(service, now)));
    return {
      window,
      services: readings.map((reading) => {
        const summary = summarizeTraffic(reading, searched);
        return summary.known && !summary.quietest && searched.end <= searched.start
          ? { ...summary, quietestUnknown: inMargin(margin) }
          : summary;
      }),
    };
  };
