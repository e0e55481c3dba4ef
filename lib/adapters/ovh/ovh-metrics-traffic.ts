/**
 * The LoadBalancerTraffic port over OVH's metrics: `GET /ipLoadbalancing/{serviceName}/metricsToken`
 * (signed, through the OVH client) gives a Prometheus-compatible endpoint and a bearer token, which
 * are queried as OVH's control panel does, with the service-level series it draws:
 * `sum(rate(haproxy_process_requests_total{servicename="SN"}[5m]))` and the same of connections.
 *
 * The token is a secret: it is cached per service in memory only, sent in an Authorization header
 * only, and never put in a reading, an error or a log. Every failure is a reading `known: false`.
 */
import * as z from 'zod/mini';
import { SERVICE_NAME_PATTERN } from '../../domain/farm';
import { plainText } from '../../domain/text';
import { PROFILE_DAYS, SLOT_MS, type TrafficReading } from '../../domain/traffic';
import { type Clock, systemClock } from '../../ports/clock';
import type { LoadBalancerTraffic, TrafficReadOptions } from '../../ports/load-balancer-traffic';
import { createLimiter, type Limiter } from '../../shared/limiter';
import { makePrometheusClient, metricsBaseUrl, type PrometheusClient } from '../prometheus/prometheus-client';
import { OvhApiError } from './errors';
import type { OvhHttpClient } from './http-client';

const MetricsTokenSchema = z.looseObject({ endpoint: z.string(), token: z.string() });

/** The rate queries, for one service (its name is checked, and quoted as PromQL wants). */
export const trafficQueries = (service: string) => {
  const label = service.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return {
    requests: `sum(rate(haproxy_process_requests_total{servicename="${label}"}[5m]))`,
    connections: `sum(rate(haproxy_process_connections_total{servicename="${label}"}[5m]))`,
  };
};

export interface OvhMetricsTrafficOptions {
  /** Each Prometheus call's timeout (default 5 s). */
  timeoutMs?: number;
  /** How long reading the token may take, retries included (default 10 s). */
  tokenBudgetMs?: number;
  /** How long a token is reused before it is asked for again (default 1 hour). */
  tokenTtlMs?: number;
  /** Prometheus calls in flight at once, over every service (default 8). */
  concurrency?: number;
  fetch?: typeof fetch;
  clock?: Clock;
}

interface Access {
  client: PrometheusClient;
  expiresAt: number;
}

export class OvhMetricsTraffic implements LoadBalancerTraffic {
  private readonly access = new Map<string, Promise<Access>>();
  private readonly timeoutMs: number;
  private readonly tokenBudgetMs: number;
  private readonly tokenTtlMs: number;
  private readonly limiter: Limiter;
  private readonly clock: Clock;

  constructor(
    private readonly ovh: OvhHttpClient,
    private readonly options: OvhMetricsTrafficOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.tokenBudgetMs = options.tokenBudgetMs ?? 10_000;
    this.tokenTtlMs = options.tokenTtlMs ?? 3_600_000;
    this.limiter = createLimiter(options.concurrency ?? 8);
    this.clock = options.clock ?? systemClock;
  }

  async read(service: string, at: Date, options: TrafficReadOptions = {}): Promise<TrafficReading> {
    if (!SERVICE_NAME_PATTERN.test(service))
      return { known: false, service, reason: 'not a load balancer service name' };
    let access: Access;
    try {
      access = await this.accessOf(service);
    } catch (error) {
      return { known: false, service, reason: tokenProblem(error) };
    }
    const queries = trafficQueries(service);
    const run = <T>(task: () => Promise<T>) => this.limiter.run(task);
    // The history ends on the last slot boundary: a week of 5-minute points, well under 11,000.
    const end = new Date(Math.floor(at.getTime() / SLOT_MS) * SLOT_MS);
    const start = new Date(end.getTime() - PROFILE_DAYS * 24 * 3_600_000);
    const [requests, connections, history] = await Promise.allSettled([
      run(() => access.client.instant(queries.requests, at)),
      run(() => access.client.instant(queries.connections, at)),
      options.history === false
        ? Promise.resolve([])
        : run(() => access.client.range(queries.requests, start, end, SLOT_MS / 1000)),
    ]);
    const failed = [requests, connections].find((r) => r.status === 'rejected');
    if (failed) {
      if (isRefused(failed.reason)) this.access.delete(service);
      return { known: false, service, reason: problem(failed.reason) };
    }
    const rps = (requests as PromiseFulfilledResult<number | undefined>).value;
    const cps = (connections as PromiseFulfilledResult<number | undefined>).value;
    if (rps === undefined || cps === undefined || Number.isNaN(rps) || Number.isNaN(cps))
      return {
        known: false,
        service,
        reason: 'the metrics endpoint has no data for this load balancer over the last 5 minutes',
      };
    return {
      known: true,
      service,
      measuredAt: at.toISOString(),
      now: { requestsPerSecond: rps, connectionsPerSecond: cps },
      history: history.status === 'fulfilled' ? history.value : [],
      ...(history.status === 'rejected'
        ? { historyUnknown: `the last 7 days could not be read: ${problem(history.reason)}` }
        : {}),
    };
  }

  /** The service's endpoint and token, read once and reused until the TTL (or a refusal). */
  private accessOf(service: string): Promise<Access> {
    const now = this.clock.now().getTime();
    const cached = this.access.get(service);
    if (cached) {
      return cached.then((a) => {
        if (a.expiresAt > this.clock.now().getTime()) return a;
        if (this.access.get(service) === cached) this.access.delete(service);
        return this.accessOf(service);
      });
    }
    const pending = this.ovh
      .bounded(now + this.tokenBudgetMs)
      .get<unknown>(`/ipLoadbalancing/${service}/metricsToken`)
      .then((body): Access => {
        const parsed = MetricsTokenSchema.safeParse(body);
        if (!parsed.success) throw new Error('the metricsToken answer has no endpoint and token');
        return {
          client: makePrometheusClient({
            baseUrl: metricsBaseUrl(parsed.data.endpoint),
            token: parsed.data.token,
            timeoutMs: this.timeoutMs,
            ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
          }),
          expiresAt: now + this.tokenTtlMs,
        };
      });
    this.access.set(service, pending);
    // A failure is not kept: the next read asks again.
    pending.catch(() => {
      if (this.access.get(service) === pending) this.access.delete(service);
    });
    return pending;
  }
}

const isRefused = (error: unknown) => (error as { code?: unknown } | null)?.code === 'refused';

/** An error's message, bounded and plain (none of the errors raised here holds the token). */
const problem = (error: unknown): string =>
  plainText(error instanceof Error ? error.message : String(error), 300);

const tokenProblem = (error: unknown): string => {
  if (error instanceof OvhApiError && error.status === 404)
    return 'OVH offers no metrics for this load balancer (metricsToken: HTTP 404)';
  if (error instanceof OvhApiError && error.status === 403)
    return `the consumer key may not read this load balancer's metrics token (${problem(error)})`;
  return `no metrics token: ${problem(error)}`;
};
