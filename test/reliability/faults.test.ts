/**
 * The fault suite, end to end: change requests published with the real AWS SDK client through
 * the local pipeline (bus → queue with 2 pollers → apply-worker → OVH simulator) while a fifth
 * of OVH calls fail (5xx, connection resets, hangs), 429 bursts ask to retry later, a tenth of
 * refresh tasks end in `error`, a tenth of the requests are delivered twice, and a second
 * operator runs `stickler apply` on other farms of the same load balancers meanwhile.
 *
 * Afterwards: every farm at its last requested target and applied, exactly one terminal audit
 * event per request, no refresh without a change to apply, nothing lost. `npm test` runs 150
 * requests; `npm run test:reliability` 1,000 (STICKLER_FAULT_REQUESTS) and prints the counts.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChangeAuditDetail, ZoneAppliedDetail } from '../../lib/domain/audit-events';
import type { ChangeRequestedDetail } from '../../lib/domain/events';
import type { Fleet } from '../../lib/simulator/fleet';
import { seededRandom, simulatorEnv } from '../../lib/simulator/server';
import { captureCli } from '../helpers/cli';
import { type PipelineHarness, startPipelineHarness } from '../helpers/pipeline';

const REQUESTS = Number(process.env.STICKLER_FAULT_REQUESTS) || 150;
const SERVICES = ['loadbalancer-f1', 'loadbalancer-f2', 'loadbalancer-f3', 'loadbalancer-f4'];
const ZONES = ['gra', 'sbg', 'rbx'];
const TERMINAL = [
  'Stickiness Change Applied',
  'Stickiness Change Unchanged',
  'Stickiness Change Refused',
  'Stickiness Change Failed',
];

/** 4 load balancers × 3 zones: 12 HTTP and 6 TCP farms per zone for requests, 2 `ops-` farms per zone for the other operator. */
const fleet = (): Fleet => ({
  services: SERVICES.map((name, s) => ({
    name,
    zones: ZONES,
    farms: ZONES.flatMap((zone, z) =>
      Array.from({ length: 20 }, (_, i) => {
        const id = 1000 * (s + 1) + 100 * z + i + 1;
        const type = i < 12 || i >= 18 ? ('http' as const) : ('tcp' as const);
        return {
          id,
          type,
          zone,
          displayName: i >= 18 ? `ops-${zone}-${i}` : `app-${zone}-${i}`,
          stickiness: null,
          port: 80,
        };
      }),
    ),
  })),
});

describe(`the fault suite: ${REQUESTS} change requests through the local pipeline under faults`, () => {
  let harness: PipelineHarness;
  const saved = { ...process.env };
  const batches = { count: 0, records: 0, handedBack: 0 };
  const messageIds = new Map<string, string[]>();
  beforeAll(async () => {
    // A hang costs the worker a 400 ms timeout (then its retries), not 15 s.
    Object.assign(process.env, {
      POWERTOOLS_LOG_LEVEL: process.env.FAULT_LOG_LEVEL ?? 'SILENT',
      OVH_TIMEOUT_MS: '400',
    });
    harness = await startPipelineHarness({
      simulator: {
        fleet: fleet(),
        task: { todoMs: 10, doingMs: 40 },
        faults: {
          seed: 7,
          latencyMs: 2,
          latencyJitterMs: 6,
          serverErrorRate: 0.1,
          resetRate: 0.04,
          hangRate: 0.02,
          throttleRate: 0.02,
          throttleBurst: 2,
          retryAfterSeconds: 1,
          taskErrorRate: 0.1,
        },
      },
      // The worker's retry delays (5 s, 10 s, 20 s … 5 min) shortened fiftyfold: same order, same counts.
      pipeline: {
        batchWindowMs: 200,
        queueDelayScale: 0.02,
        onBatch: (records, result) => {
          for (const r of records) {
            const id = (JSON.parse(r.body) as { detail?: { requestId?: string } }).detail?.requestId ?? '?';
            messageIds.set(id, [...new Set([...(messageIds.get(id) ?? []), r.messageId])]);
          }
          batches.count++;
          batches.records += records.length;
          batches.handedBack += result?.batchItemFailures.length ?? 0;
        },
      },
    });
  }, 30_000);
  afterAll(async () => {
    await harness.close();
    process.env = saved;
  });

  it('ends with every farm at its last requested target and applied, one terminal audit per request, nothing lost', async () => {
    const { sim, pipeline } = harness;
    const random = seededRandom(42);
    const farms = SERVICES.flatMap((service) =>
      [...sim.state.services.get(service)!.farms.values()]
        .filter((f) => !String(f.stored.displayName).startsWith('ops-'))
        .map((f) => ({ service, type: f.type as 'http' | 'tcp', farmId: f.farmId })),
    );
    // Requests in batches of 10 distinct farms, published one batch after the other: the order
    // of publication is the order the worker must honour (SQS SentTimestamp).
    const requests: ChangeRequestedDetail[] = [];
    const last = new Map<string, ChangeRequestedDetail>();
    const started = Date.now();
    const operatorRuns: Promise<{ code: number; refreshes: number[]; text: string }>[] = [];
    for (let b = 0; b * 10 < REQUESTS; b++) {
      const pool = [...farms];
      const batch: ChangeRequestedDetail[] = [];
      for (let i = 0; i < 10 && requests.length + batch.length < REQUESTS; i++) {
        const farm = pool.splice(Math.floor(random() * pool.length), 1)[0]!;
        const words = farm.type === 'http' ? ['cookie', 'sourceIp', 'none'] : ['sourceIp', 'none'];
        batch.push({
          requestId: `fault-${requests.length + batch.length}`,
          service: farm.service,
          farmType: farm.type,
          farmId: farm.farmId,
          stickiness: words[Math.floor(random() * words.length)] as ChangeRequestedDetail['stickiness'],
          actor: { kind: 'system', id: 'fault-suite' },
          requestedAt: new Date().toISOString(),
        });
      }
      await pipeline.publish(batch, 'acme.faults');
      for (const r of batch) last.set(`${r.service}/${r.farmType}/${r.farmId}`, r);
      requests.push(...batch);
      await new Promise((r) => setTimeout(r, 5));
      // A second operator applies a policy on other farms of the same load balancers, twice.
      if (b === 2 || b === Math.floor(REQUESTS / 20)) operatorRuns.push(operatorApply(sim.baseUrl, b));
    }
    // A tenth of the requests delivered a second time, as SQS may.
    const envelopes = pipeline.bus.events.filter((e) => e['detail-type'] === 'Stickiness Change Requested');
    for (const e of envelopes.filter((_, i) => i % 10 === 3)) pipeline.redeliver(e);

    const outcomes = () =>
      pipeline.bus.events
        .filter((e) => e.source === 'stickler' && TERMINAL.includes(e['detail-type']))
        .map((e) => e.detail as ChangeAuditDetail);
    const ids = new Set(requests.map((r) => r.requestId));
    for (
      const end = Date.now() + Number(process.env.STICKLER_FAULT_WAIT_MS ?? 1_500_000);
      Date.now() < end;
    ) {
      const seen = new Set(outcomes().map((o) => o.requestId));
      if ([...ids].every((id) => seen.has(id))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await pipeline.queue.drained();
    const operators = await Promise.all(operatorRuns);
    const elapsed = Date.now() - started;

    // Exactly one terminal audit event per request, redelivered or not.
    const byRequest = new Map<string, ChangeAuditDetail[]>();
    for (const o of outcomes()) byRequest.set(o.requestId, [...(byRequest.get(o.requestId) ?? []), o]);
    const missing = [...ids].filter((id) => !byRequest.has(id));
    if (missing.length > 0 || process.env.DEBUG_FAULTS) {
      const queued = (
        pipeline.queue as unknown as { messages: { body: string; receiveCount: number; visibleAt: number }[] }
      ).messages;
      const inQueue = queued.map(
        (m) =>
          `${(JSON.parse(m.body) as { detail?: { requestId?: string } }).detail?.requestId} r${m.receiveCount} +${m.visibleAt - Date.now()}ms`,
      );
      const published = new Set(
        pipeline.bus.events
          .filter((e) => e['detail-type'] === 'Stickiness Change Requested')
          .map((e) => (e.detail as { requestId: string }).requestId),
      );
      process.stdout.write(
        `DEBUG missing ${missing.length}: not on the bus ${missing.filter((id) => !published.has(id)).length}; queue holds ${queued.length}: ${inQueue.slice(0, 10).join(', ')}; dead letters ${pipeline.queue.deadLetters.length}; message ids of the first missing: ${missing
          .slice(0, 3)
          .map((id) => `${id}=${(messageIds.get(id) ?? []).join('/')}`)
          .join(' ')}\n`,
      );
    }
    if (process.env.DEBUG_FAULTS)
      for (const o of outcomes()
        .filter((x) => x.outcome === 'failed' || x.code === 'foreign-pending')
        .slice(0, 12))
        process.stdout.write(`DEBUG ${o.requestId} ${o.outcome} ${o.code}: ${o.message}\n`);
    // One audit fact per request: an event resent after a lost acknowledgement carries the same
    // auditId (consumers drop it, as they must for EventBridge's at-least-once delivery anyway).
    const duplicated = [...byRequest]
      .filter(([, list]) => new Set(list.map((o) => o.auditId)).size > 1)
      .map(([id]) => id);
    const resent = [...byRequest.values()].reduce((n, list) => n + list.length - 1, 0);
    // Every check is collected, the figures printed, then all asserted together.
    const problems: Record<string, string[]> = {
      missing,
      duplicated: duplicated.flatMap((id) =>
        byRequest.get(id)!.map((o) => `${id}: ${o.outcome} ${o.code ?? ''} ${o.auditId} ${o.decidedAt}`),
      ),
    };

    // Every farm at its last requested target, stored and applied in its zone, unless that request
    // was reported failed with its reason (what the worker owes when it cannot: never silence,
    // never a success it did not achieve).
    const wrong: string[] = [];
    const reportedFailed: string[] = [];
    for (const [key, r] of last) {
      const farm = sim.state.services.get(r.service)!.farms.get(`${r.farmType}/${r.farmId}`)!;
      const want = r.stickiness === 'none' ? null : r.stickiness;
      const outcome = byRequest.get(r.requestId)?.[0];
      if (!outcome) continue; // missing: counted above
      const atTarget =
        (farm.stored.stickiness ?? null) === want &&
        (farm.applied.get(farm.zone)?.stickiness ?? null) === want;
      if (!atTarget && outcome.outcome === 'failed' && outcome.message) {
        reportedFailed.push(`${key}: ${outcome.code}`);
        continue;
      }
      if (!atTarget)
        wrong.push(
          `${key}: wanted ${r.stickiness}, stored ${farm.stored.stickiness ?? 'none'}, applied ${farm.applied.get(farm.zone)?.stickiness ?? 'none'} (${outcome.outcome} ${outcome.code ?? ''})`,
        );
    }
    problems.wrong = wrong;

    // Earlier requests for a farm end superseded, applied or unchanged; none failed silently.
    const all = [...byRequest.values()].map((list) => list[0]!);
    const failed = all.filter((o) => o.outcome === 'failed');
    problems.failedWithoutReason = failed.filter((f) => !f.code || !f.message).map((f) => f.requestId);
    const refusedOther = all.filter((o) => o.outcome === 'refused' && o.code !== 'superseded');
    problems.refusedOther = refusedOther.map((o) => `${o.requestId}: ${o.code} ${o.message}`);
    // A request that went to the dead-letter queue was audited failed with its reason first.
    const deadLettered = pipeline.queue.deadLetters.map(
      (m) => (JSON.parse(m.body) as { detail: { requestId: string } }).detail.requestId,
    );
    problems.deadLetteredUnaudited = deadLettered.filter((id) => {
      const o = byRequest.get(id)?.[0];
      return !(o?.outcome === 'failed' && o.code && o.message);
    });

    // No refresh without a change to apply: every task the worker asked for had pending changes in
    // its zone, except when the second operator's refresh of that load balancer started in the
    // instant between the worker's last look and its own refresh (two actors, no shared lock:
    // counted and reported, not hidden).
    const operatorTasks = new Set(operators.flatMap((o) => o.refreshes));
    const tasks = SERVICES.flatMap((s) => sim.state.services.get(s)!.tasks.map((t) => ({ service: s, t })));
    const workerTasks = tasks.filter(({ t }) => !operatorTasks.has(t.id));
    const empty = workerTasks.filter(({ t }) => [...t.pendingAtStart.values()].every((n) => n === 0));
    const racedByOperator = (service: string, at: number) =>
      tasks.some(
        ({ service: s, t }) =>
          s === service && operatorTasks.has(t.id) && at - t.createdAt >= 0 && at - t.createdAt < 2_000,
      );
    const raced = empty.filter(({ service, t }) => racedByOperator(service, t.createdAt));
    problems.refreshesWithoutChange = empty
      .filter((e) => !raced.includes(e))
      .map(({ service, t }) => `${service} task ${t.id} ${t.zones.join(',')}`);
    const zoneApplied = pipeline.bus.events
      .filter((e) => e['detail-type'] === 'Zone Configuration Applied')
      .map((e) => e.detail as ZoneAppliedDetail);
    problems.zoneAppliedWithoutRequest = zoneApplied
      .filter((z) => z.requestIds.length === 0)
      .map((z) => z.auditId);
    problems.operatorCrashed = operators
      .filter((o) => /unexpected error|\n\s+at .+\(/.test(o.text))
      .map((o) => o.text.slice(0, 200));

    const count = (outcome: string) => all.filter((o) => o.outcome === outcome).length;
    const report = [
      `fault suite: ${requests.length} requests (${envelopes.filter((_, i) => i % 10 === 3).length} delivered twice) over ${SERVICES.length} load balancers × ${ZONES.length} zones, in ${(elapsed / 1000).toFixed(1)} s`,
      `  OVH faults survived: ${sim.stats.faults.serverErrors} 5xx, ${sim.stats.faults.resets} resets, ${sim.stats.faults.hangs} hangs, ${sim.stats.faults.throttled} throttled (429), ${tasks.filter(({ t }) => t.status === 'error').length} refresh tasks ended in error`,
      `  audit events resent with the same auditId (deduplicated by consumers): ${resent}`,
      `  outcomes: ${count('applied')} applied, ${count('unchanged')} unchanged, ${all.filter((o) => o.code === 'superseded').length} superseded, ${failed.length} failed (audited with a reason), lost ${missing.length}`,
      `  refreshes: ${workerTasks.length} by the worker (${zoneApplied.length} done; ${raced.length} found nothing left, the second operator's refresh having started just before; none otherwise), ${operatorTasks.size} by the second operator (${operators.length} runs)`,
      `  farms at their last requested target and applied: ${last.size - wrong.length - reportedFailed.length} of ${last.size}; ${reportedFailed.length} reported failed with the reason (${[...new Set(reportedFailed.map((f) => f.split(': ')[1]))].join(', ') || 'none'}); wrong without a failure reported: ${wrong.length}`,
      `  dead-lettered after 20 receives, each audited failed with its reason first: ${deadLettered.length}`,
      `  worker batches: ${batches.count} (${batches.records} records received, ${batches.handedBack} handed back to wait: leases, faults, someone else's changes)`,
    ].join('\n');
    if (process.env.STICKLER_RELIABILITY_REPORT) process.stdout.write(`${report}\n`);
    expect(problems).toEqual(Object.fromEntries(Object.keys(problems).map((k) => [k, []])));
  }, 1_800_000);
});

/**
 * Another operator at a terminal: `stickler apply` on the `ops-` farms only, then, as its report
 * advises, `stickler refresh` for the zones it could not apply (someone else, the worker, was
 * writing there), and `apply` again, up to three rounds.
 */
const operatorApply = async (baseUrl: string, n: number) => {
  const dir = mkdtempSync(join(tmpdir(), 'stickler-operator-'));
  const policy = join(dir, 'ops.yaml');
  writeFileSync(
    policy,
    `version: 1\nrules:\n  - name: ops farms\n    match: { displayName: "ops-*" }\n    stickiness: ${n % 2 ? 'cookie' : 'sourceIp'}\n`,
  );
  const cli = async (argv: string[]) => {
    const { code, out, err } = await captureCli(
      [...argv, '--yes', '--json', '--poll-interval', '20', '--timeout', '400'],
      simulatorEnv(baseUrl),
      dir,
    );
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(out);
    } catch {
      // no document: counted as nothing to do
    }
    return { code, json, text: out + err };
  };
  type Item = { service: string; zone: string | null; code?: string };
  const refreshes: number[] = [];
  let text = '';
  let code = 0;
  for (let round = 0; round < 3; round++) {
    const applied = await cli(['apply', '--policy', policy]);
    text += applied.text;
    code = applied.code;
    const taskIds = (r: Record<string, unknown>) =>
      ((r.refreshes as { taskId: number | null }[] | undefined) ?? [])
        .map((x) => x.taskId)
        .filter((id): id is number => id !== null);
    refreshes.push(...taskIds(applied.json));
    const blocked = [
      ...((applied.json.failed as Item[]) ?? []),
      ...((applied.json.refused as Item[]) ?? []),
    ].filter((i) => i.zone && (i.code === 'refresh-failed' || i.code === 'foreign-pending'));
    if (blocked.length === 0) break;
    for (const zone of new Set(blocked.map((i) => `${i.service} ${i.zone}`))) {
      const refreshed = await cli(['refresh', ...zone.split(' ')]);
      text += refreshed.text;
      refreshes.push(...taskIds(refreshed.json));
    }
  }
  // Before leaving: no change of theirs left stored but not applied (`stickler refresh` applies a
  // zone's pending changes, whoever made them; nothing to apply, no refresh).
  for (const service of SERVICES)
    for (const zone of ZONES) {
      const refreshed = await cli(['refresh', service, zone]);
      text += refreshed.text;
      refreshes.push(
        ...((refreshed.json.refreshes as { taskId: number | null }[] | undefined) ?? [])
          .map((r) => r.taskId)
          .filter((id): id is number => id !== null),
      );
    }
  return { code, refreshes, text };
};
