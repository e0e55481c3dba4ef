/**
 * The simulator's traffic: a deterministic daily curve per load balancer, the same every day, and
 * what its Prometheus-compatible metrics endpoint answers about it.
 *
 * Requests per second at hour h of the day (UTC, fractional), q the start of the quietest slot in
 * hours (`quietestAtUtc` "HH:MM", a 5-minute boundary, or `quietestHourUtc`, a whole hour; 03:00
 * by default):
 *   peak × (0.55 − 0.45 × cos(2π (h − q − 1/24) / 24))
 * so the rate is lowest (a tenth of the peak) at q + 2 minutes 30, the middle of the 5 minutes
 * from q (the quietest slot: a search of the profile finds it exactly), and highest twelve hours
 * later; connections per second are a quarter of the requests. A `rate(x[W])` query at time t
 * answers the curve at t − W/2, the middle of the interval it measures.
 */
import type { FleetTraffic } from './fleet';

export const DEFAULT_TRAFFIC = {
  quietestHourUtc: 3,
  peakRequestsPerSecond: 200,
} as const;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Where the quietest slot of the day starts, in hours after 00:00 UTC (3.5 for "03:30"). */
export const quietestSlotHour = (traffic: Exclude<FleetTraffic, 'none'>): number => {
  if (traffic.quietestAtUtc !== undefined) {
    const [hours, minutes] = traffic.quietestAtUtc.split(':').map(Number);
    return hours! + minutes! / 60;
  }
  return traffic.quietestHourUtc ?? DEFAULT_TRAFFIC.quietestHourUtc;
};

/** Requests per second of the curve at the instant `at` (epoch ms), three decimals. */
export const requestsRateAt = (traffic: Exclude<FleetTraffic, 'none'>, at: number): number => {
  const quiet = quietestSlotHour(traffic);
  const peak = traffic.peakRequestsPerSecond ?? DEFAULT_TRAFFIC.peakRequestsPerSecond;
  const hour = (((at % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS;
  // 1/24 of an hour (2.5 minutes): the minimum falls in the middle of the slot from `quiet`.
  const rate = peak * (0.55 - 0.45 * Math.cos((2 * Math.PI * (hour - quiet - 1 / 24)) / 24));
  return Math.round(rate * 1000) / 1000;
};

/** The one query shape the endpoint understands: the service-level rates OVH's control panel draws. */
const QUERY =
  /^\s*sum\s*\(\s*rate\s*\(\s*haproxy_process_(requests|connections)_total\s*\{\s*servicename\s*=\s*"((?:[^"\\]|\\.)*)"\s*\}\s*\[\s*(\d+)([smh])\s*\]\s*\)\s*\)\s*$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: HOUR_MS } as const;

export interface ParsedQuery {
  metric: 'requests' | 'connections';
  service: string;
  windowMs: number;
}

export const parseRateQuery = (query: string): ParsedQuery | undefined => {
  const m = QUERY.exec(query);
  if (!m) return undefined;
  return {
    metric: m[1] as 'requests' | 'connections',
    service: m[2]!.replace(/\\(.)/g, '$1'),
    windowMs: Number(m[3]) * UNIT_MS[m[4] as keyof typeof UNIT_MS],
  };
};

/** The value of a parsed query at `at` (epoch ms) for a service with this traffic. */
export const queryValueAt = (
  traffic: Exclude<FleetTraffic, 'none'>,
  query: ParsedQuery,
  at: number,
): number => {
  const requests = requestsRateAt(traffic, at - query.windowMs / 2);
  return query.metric === 'requests' ? requests : Math.round(requests * 250) / 1000;
};

/** Prometheus' time parameter: unix seconds (with a fraction) or RFC 3339; undefined if neither. */
export const parsePromTime = (text: string | null): number | undefined => {
  if (text === null || text.trim() === '') return undefined;
  if (/^-?\d+(\.\d+)?$/.test(text.trim())) return Math.round(Number(text) * 1000);
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
};

/** Prometheus' step: seconds (with a fraction) or a duration such as 5m; undefined if neither. */
export const parsePromStep = (text: string | null): number | undefined => {
  if (text === null) return undefined;
  if (/^\d+(\.\d+)?$/.test(text.trim())) return Number(text) * 1000;
  const m = /^(\d+)([smh])$/.exec(text.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : undefined;
};
