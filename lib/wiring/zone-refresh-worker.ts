/**
 * The apply-worker's zone refreshes, wired from what the worker already holds (its OVH API, table,
 * bus and configuration): `Zone Refresh Requested` records are carried out after the batch's
 * change requests and cancels, under the same per-load-balancer leases (app/process-zone-refreshes).
 */
import type { ProcessResult } from '../app/process-change-requests';
import { makeProcessZoneRefreshes } from '../app/process-zone-refreshes';
import { systemClock } from '../ports/clock';
import type { EventPublisher } from '../ports/event-publisher';
import type { IdempotencyStore } from '../ports/idempotency-store';
import type { LoadBalancerApi } from '../ports/load-balancer-api';
import type { Log } from '../ports/log';
import type { ServiceLeases } from '../ports/service-leases';
import type { UnappliedZones } from '../ports/unapplied-zones';
import type { WorkerConfig } from './worker-config';

export const wireZoneRefreshes = (w: {
  config: WorkerConfig;
  api: LoadBalancerApi;
  idempotency: IdempotencyStore;
  /**
   * The change requests' leases (`lease:<service>`, the same holder): a refresh never runs while
   * another batch writes that load balancer; this batch's own leases are released by then.
   */
  leases: ServiceLeases;
  unapplied: UnappliedZones;
  publisher: EventPublisher;
  log: Log;
}) =>
  makeProcessZoneRefreshes({
    api: w.api,
    idempotency: w.idempotency,
    leases: w.leases,
    unapplied: w.unapplied,
    publisher: w.publisher,
    clock: systemClock,
    log: w.log,
    maxReceiveCount: w.config.maxReceiveCount,
    claimHoldMs: w.config.claimHoldMs,
    leaseWaitMs: w.config.leaseWaitMs,
    timing: {
      pollIntervalMs: w.config.pollIntervalMs,
      taskTimeoutMs: w.config.taskTimeoutMs,
      zoneBudgetMs: w.config.finishReserveMs,
    },
  });

/** One batch's result from the results of its parts, records handed back in the batch's order. */
export const mergeResults = (
  records: readonly { messageId: string }[],
  parts: readonly (ProcessResult | undefined)[],
): ProcessResult => {
  const present = parts.filter((p): p is ProcessResult => p !== undefined);
  if (present.length === 1) return present[0]!;
  const order = new Map(records.map((r, i) => [r.messageId, i]));
  const leaseWaitMs = present.find((p) => p.leaseWaitMs !== undefined)?.leaseWaitMs;
  return {
    retry: present.flatMap((p) => p.retry).sort((x, y) => order.get(x.recordId)! - order.get(y.recordId)!),
    fates: new Map(present.flatMap((p) => [...p.fates])),
    published: present.flatMap((p) => p.published),
    ...(leaseWaitMs !== undefined ? { leaseWaitMs } : {}),
  };
};
