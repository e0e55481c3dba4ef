/** A CLI session: the OVH client built from the environment and the apply settings from the flags. */

import { FileUnappliedZones, stateDirFor } from '../adapters/file/file-unapplied-zones';
import { ovhConfigFromEnv } from '../adapters/ovh/config';
import { OvhHttpClient } from '../adapters/ovh/http-client';
import { OvhLoadBalancerApi } from '../adapters/ovh/ovh-load-balancer-api';
import { OvhMetricsTraffic } from '../adapters/ovh/ovh-metrics-traffic';
import { type ApplyOptions, DEFAULT_APPLY_OPTIONS } from '../app/apply-plan';
import { ConfigError } from '../domain/errors';
import type { LoadBalancerApi } from '../ports/load-balancer-api';
import type { LoadBalancerTraffic } from '../ports/load-balancer-traffic';
import type { UnappliedZones } from '../ports/unapplied-zones';
import { type Flags, number } from './args';

/** `--concurrency`'s default: the most calls in flight adaptive concurrency may reach. */
export const DEFAULT_CONCURRENCY_CEILING = 32;

export interface Session {
  api: LoadBalancerApi;
  /** The load balancers' traffic (OVH's metrics), through the same signed client. */
  traffic: LoadBalancerTraffic;
  applyOptions: ApplyOptions;
  /**
   * Direct mode's records of zones this machine left holding its own unapplied writes (a refresh
   * that failed after the writes), one directory per endpoint: the next direct apply refreshes
   * such a zone instead of refusing it as someone else's (app/own-unapplied.ts checks each record).
   */
  unapplied?: UnappliedZones;
}

/**
 * `say` hears of calls retried after a timeout or a network error, so that a hanging endpoint is
 * never a silent minute (throttling and 5xx retries are the normal, quiet case).
 */
export const connect = (env: NodeJS.ProcessEnv, flags: Flags, say?: (line: string) => void): Session => {
  const config = ovhConfigFromEnv(env);
  const client = new OvhHttpClient({
    baseUrl: config.baseUrl,
    credentials: config.credentials,
    ...(config.oauth2TokenUrl ? { oauth2TokenUrl: config.oauth2TokenUrl } : {}),
    // A ceiling: the run starts with 8 calls in flight (or fewer, under a lower ceiling) and adapts.
    concurrency: number(flags, 'concurrency', DEFAULT_CONCURRENCY_CEILING, { min: 1, max: 64 }),
    adaptive: { initial: 8 },
    timeoutMs: number(flags, 'timeout', 15_000, { min: 100 }),
    onRetry: (r) => {
      if (say && (r.code === 'timeout' || r.code === 'network'))
        say(
          `stickler: ${r.reason}; trying again in ${(r.delayMs / 1000).toFixed(1)} s (attempt ${r.attempt + 1} of ${r.maxAttempts})\n`,
        );
    },
  });
  const listing = env.OVH_LISTING?.trim() || 'auto';
  if (listing !== 'auto' && listing !== 'per-farm')
    throw new ConfigError(`OVH_LISTING must be auto or per-farm, got '${listing.slice(0, 20)}'`);
  return {
    api: new OvhLoadBalancerApi(client, { listing }),
    traffic: new OvhMetricsTraffic(client),
    unapplied: new FileUnappliedZones({ dir: stateDirFor(env, config.baseUrl), endpoint: config.baseUrl }),
    applyOptions: {
      allowForeignPending: flags['allow-foreign-pending'] ?? false,
      pollIntervalMs: number(flags, 'poll-interval', DEFAULT_APPLY_OPTIONS.pollIntervalMs, { min: 10 }),
      taskTimeoutMs: number(flags, 'task-timeout', DEFAULT_APPLY_OPTIONS.taskTimeoutMs, { min: 100 }),
    },
  };
};
