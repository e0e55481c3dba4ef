/** The pipeline part of `stickler demo`: change requests published on a local bus end applied and audited. */

import type { EventBridgeEnvelope } from '../adapters/eventbridge/envelope';
import type { OvhCredentials } from '../adapters/ovh/http-client';
import type { ChangeAuditDetail, ZoneAppliedDetail } from '../domain/audit-events';
import type { ChangeRequestedDetail } from '../domain/events';
import { formatRate } from '../domain/traffic';
import { startLocalPipeline } from '../local/pipeline';
import type { RunningSimulator } from '../simulator/server';

/** One line per bus event, for people. */
export const describeEvent = (e: EventBridgeEnvelope): string => {
  const type = e['detail-type'].padEnd(28);
  if (e['detail-type'] === 'Zone Configuration Applied') {
    const d = e.detail as ZoneAppliedDetail;
    const traffic = d.traffic
      ? d.traffic.known
        ? `; traffic as applied: ${formatRate(d.traffic.requestsPerSecond)} req/s, ${formatRate(d.traffic.connectionsPerSecond)} conn/s`
        : '; traffic as applied: unknown'
      : '';
    return `${type} ${d.service} zone ${d.zone}: task ${d.taskId} ${d.status}, carried ${d.requestIds.join(', ')}${traffic}`;
  }
  if (e['detail-type'].startsWith('Compliance ')) {
    const d = e.detail as {
      runId?: string;
      mode?: string;
      drifted?: unknown;
      requested?: number;
      message?: string;
    };
    const drifted = Array.isArray(d.drifted) ? d.drifted.length : d.drifted;
    return `${type} run ${d.runId} (${d.mode}): ${drifted ?? 0} drifted${d.requested !== undefined ? `, ${d.requested} requested` : ''}${d.message ? ` — ${d.message}` : ''}`;
  }
  if (e['detail-type'] === 'Stickiness Change Requested') {
    const d = e.detail as ChangeRequestedDetail;
    return `${type} ${d.requestId}: ${d.service} ${d.farmType}/${d.farmId} → ${d.stickiness} (${d.ticket ?? 'no ticket'}, from ${e.source})`;
  }
  if (e['detail-type'] === 'Stickiness Change Cancel Requested') {
    const d = e.detail as { cancelId?: string; requestId?: string; ticket?: { system: string; key: string } };
    return `${type} ${d.cancelId}: ${d.requestId ? `request ${d.requestId}` : `${d.ticket?.system} ${d.ticket?.key}'s waiting requests`} (from ${e.source})`;
  }
  if (e['detail-type'] === 'Stickiness Change Cancel Refused') {
    const d = e.detail as { cancelId?: string | null; code?: string; message?: string };
    return `${type} ${d.cancelId ?? '?'}: ${d.code} — ${d.message}`;
  }
  if (e['detail-type'].startsWith('Zone Refresh ')) {
    const d = e.detail as {
      refreshId?: string;
      service?: string;
      zone?: string;
      ifPending?: number;
      code?: string;
      message?: string;
    };
    const what = `${d.refreshId ?? '?'}: ${d.service ?? '?'} zone ${d.zone ?? '?'}, ${d.ifPending ?? '?'} change(s) approved`;
    return `${type} ${what}${d.code ? ` [${d.code}]` : ''}${d.message && e['detail-type'] !== 'Zone Refresh Requested' ? ` — ${d.message}` : ` (from ${e.source})`}`;
  }
  if (e['detail-type'] === 'Ticket Edit Ignored') {
    const d = e.detail as { system?: string; ticket?: string };
    return `${type} ${d.system} ${d.ticket}: told that an edit after its approval is not carried out`;
  }
  const d = e.detail as ChangeAuditDetail;
  const what = `${d.service ?? '?'} ${d.farmType ?? '?'}/${d.farmId ?? '?'}`;
  const change = d.after ? ` ${d.before ? `${d.before} ` : ''}→ ${d.after}` : '';
  return `${type} ${d.requestId}: ${what}${change}${d.message ? ` — ${d.message}` : ''}`;
};

export const runPipelineDemo = async (
  sim: RunningSimulator,
  credentials: OvhCredentials,
  write: (text: string) => void,
  timing: { batchWindowMs: number; pollIntervalMs: number },
): Promise<boolean> => {
  const lines: string[] = [];
  const pipeline = await startLocalPipeline({
    ovhBaseUrl: sim.baseUrl,
    ovhCredentials: credentials,
    ...timing,
    onEvent: (e) => lines.push(`  bus: ${describeEvent(e)}`),
    onBatch: (records, result) =>
      lines.push(
        `  apply-worker: batch of ${records.length} record(s), ${result?.batchItemFailures.length ?? 0} handed back to the queue`,
      ),
  });
  try {
    const at = new Date().toISOString();
    const ask = (
      requestId: string,
      farmType: 'http' | 'tcp',
      farmId: number,
      stickiness: string,
      ticket: string,
    ) =>
      ({
        requestId,
        service: 'loadbalancer-b81e0d44',
        farmType,
        farmId,
        stickiness,
        actor: { kind: 'ticket', id: 'jira:alice', name: 'Alice Martin' },
        ticket,
        reason: 'payments sessions must survive deploys',
        requestedAt: at,
      }) as ChangeRequestedDetail;
    const requests = [
      ask('demo-req-1', 'http', 111, 'sourceIp', 'PAY-101'),
      ask('demo-req-2', 'http', 112, 'sourceIp', 'PAY-101'),
      ask('demo-req-3', 'tcp', 212, 'none', 'PAY-102'),
      ask('demo-req-4', 'tcp', 211, 'cookie', 'PAY-103'),
    ];
    const refreshesBefore = sim.stats.calls.refresh;
    write(
      `Publishing ${requests.length} change requests for two zones of loadbalancer-b81e0d44 on the local bus with the AWS SDK,\n` +
        `as a ticketing system would; the rule queues them and the apply-worker takes them in one batch.\n\n`,
    );
    await pipeline.publish(requests, 'acme.ticketing');
    await pipeline.queue.drained();
    write(`${lines.splice(0).join('\n')}\n\n`);
    write(
      `Zone applies for the batch: ${sim.stats.calls.refresh - refreshesBefore} (one per touched zone).\n\n`,
    );

    const first = pipeline.bus.events.find((e) => e['detail-type'] === 'Stickiness Change Requested')!;
    const putsBefore = sim.stats.calls['put-farm'];
    write('Redelivering the first request (as SQS may):\n');
    pipeline.redeliver(first);
    await pipeline.queue.drained();
    write(`${lines.splice(0).join('\n')}\n`);
    const quiet = sim.stats.calls['put-farm'] === putsBefore;
    write(
      `  ${quiet ? 'nothing written to OVH and no audit event emitted: the idempotency record (dynalite) says it is done' : 'UNEXPECTED: the redelivery wrote to OVH'}\n`,
    );
    return quiet && pipeline.queue.deadLetters.length === 0;
  } finally {
    await pipeline.close();
  }
};
