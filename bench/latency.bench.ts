/**
 * Latency benchmark: from a signed ticket webhook, or a Slack Apply click, to the `Stickiness
 * Change Applied` event, through the local pipeline (the same handlers as deployed, the local bus,
 * queue and dynalite) against the simulator at 50 ms per call and 1 s refresh tasks. 1, 10 and
 * 100 simultaneous requests over 10 load balancers, each a different farm; p50, p95 and max, and
 * what each part took:
 *
 *   bus       the door's answer until the request is on the bus (webhook: signature, intake, PutEvents)
 *   queue     on the bus until the batch that applied it starts (the batching window, 1 s here and
 *             20 s deployed, and any hand-back while another batch held its load balancer)
 *   before    the batch's start until its zone's refresh is asked (the lease, reads, the farm write)
 *   task      OVH's refresh task (the simulator's 1 s)
 *   after     the task done until the Applied event is on the bus (task polling, the audit)
 *
 * Run: npm run bench:latency [-- --sizes 1,10,100 --latency 50 --task-ms 1000]
 */
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import type { EventBridgeEnvelope } from '../lib/adapters/eventbridge/envelope';
import { startLocalPipeline } from '../lib/local/pipeline';
import { generateFleet } from '../lib/simulator/fleet';
import { SIMULATOR_CREDENTIALS, startSimulator } from '../lib/simulator/server';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,10,100' },
    latency: { type: 'string', default: '50' },
    'task-ms': { type: 'string', default: '1000' },
  },
});
const SIZES = values.sizes!.split(',').map(Number);
const TASK_MS = Number(values['task-ms']);
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

type Part = 'bus' | 'queue' | 'before' | 'task' | 'after' | 'total';
const PARTS: Part[] = ['total', 'bus', 'queue', 'before', 'task', 'after'];

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

const main = async () => {
  const fleet = generateFleet({ services: 10, zonesPerService: 3, farmsPerService: 40, driftEvery: 1000 });
  const sim = await startSimulator({
    fleet,
    task: { todoMs: TASK_MS / 4, doingMs: (TASK_MS * 3) / 4 },
    faults: { latencyMs: Number(values.latency) },
  });
  const onBus = new Map<string, number>(); // requestId → when its request reached the bus
  const applied = new Map<string, { at: number; taskId: number | null }>();
  const batchStart = new Map<string, number>(); // requestId → start of the last batch holding it
  const waiting = new Set<() => void>();
  // Slack's response URLs: a listener on a free port, allowed as the local stage's origin.
  const replies: {
    path: string;
    body: { blocks?: { type: string; elements?: { action_id: string; value: string }[] }[] };
  }[] = [];
  const slackServer = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      replies.push({ path: req.url ?? '', body: JSON.parse(body) });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => slackServer.listen(0, '127.0.0.1', r));
  const slackOrigin = `http://127.0.0.1:${(slackServer.address() as AddressInfo).port}`;

  const pipeline = await startLocalPipeline({
    ovhBaseUrl: sim.baseUrl,
    ovhCredentials: SIMULATOR_CREDENTIALS,
    slack: {
      STICKLER_SLACK_SETTERS: 'U0BENCH',
      STICKLER_SLACK_CHANNELS: 'C0BENCH',
      STICKLER_SLACK_RESPONSE_ORIGIN: slackOrigin,
    },
    onEvent: (e: EventBridgeEnvelope) => {
      const d = e.detail as { requestId?: string; refresh?: { taskId?: number | null } | null };
      if (!d.requestId) return;
      if (e['detail-type'] === 'Stickiness Change Requested') onBus.set(d.requestId, Date.now());
      if (e['detail-type'] === 'Stickiness Change Applied') {
        applied.set(d.requestId, { at: Date.now(), taskId: d.refresh?.taskId ?? null });
        for (const wake of waiting) wake();
      }
    },
    onBatchStart: (records) => {
      const now = Date.now();
      for (const r of records) {
        const id = (JSON.parse(r.body) as { detail?: { requestId?: string } }).detail?.requestId;
        if (id) batchStart.set(id, now);
      }
    },
  });
  const api = pipeline.env.STICKLER_API_URL!;
  const farms = fleet.services.flatMap((s) =>
    (s.farms ?? []).filter((f) => f.type === 'http').map((f) => ({ service: s.name, farmId: f.id })),
  );
  // Round-robin over the services, so that n requests spread over them.
  const byService = fleet.services.map((s) => farms.filter((f) => f.service === s.name));
  const spread = Array.from(
    { length: farms.length },
    (_, i) => byService[i % byService.length]![Math.floor(i / byService.length)]!,
  ).filter(Boolean);
  let cursor = 0;
  const nextFarms = (n: number) => {
    const chosen = Array.from({ length: n }, (_, i) => spread[(cursor + i) % spread.length]!);
    cursor += n;
    return chosen;
  };
  const target = (f: { service: string; farmId: number }) =>
    sim.state.services.get(f.service)!.farms.get(`http/${f.farmId}`)!.stored.stickiness === 'cookie'
      ? 'sourceIp'
      : 'cookie';

  const untilApplied = async (ids: string[], timeoutMs = 300_000) => {
    const end = Date.now() + timeoutMs;
    while (!ids.every((id) => applied.has(id))) {
      if (Date.now() > end)
        throw new Error(`${ids.filter((id) => !applied.has(id)).length} request(s) not applied in time`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          waiting.delete(wake);
          resolve();
        };
        waiting.add(wake);
        setTimeout(wake, 500);
      });
    }
  };

  const partsOf = (id: string, sentAt: number): Record<Part, number> => {
    const done = applied.get(id)!;
    const task =
      done.taskId === null
        ? undefined
        : [...sim.state.services.values()].flatMap((s) => s.tasks).find((t) => t.id === done.taskId);
    const asked = task?.createdAt ?? done.at;
    const finished = task?.doneAt ?? done.at;
    return {
      total: done.at - sentAt,
      bus: onBus.get(id)! - sentAt,
      queue: batchStart.get(id)! - onBus.get(id)!,
      before: asked - batchStart.get(id)!,
      task: finished - asked,
      after: done.at - finished,
    };
  };

  const webhook = async (n: number) => {
    const secret = pipeline.env.STICKLER_WEBHOOK_SECRET_GENERIC!;
    const chosen = nextFarms(n);
    const sent = await Promise.all(
      chosen.map(async (f, i) => {
        const body = JSON.stringify({
          ticket: `BENCH-${cursor}-${i}`,
          sentAt: new Date().toISOString(),
          requestedBy: 'bench@example.com',
          service: f.service,
          farmType: 'http',
          farmId: f.farmId,
          stickiness: target(f),
        });
        const sentAt = Date.now();
        const answer = await fetch(`${api}/webhooks/generic`, {
          method: 'POST',
          body,
          headers: {
            'content-type': 'application/json',
            'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
          },
        });
        const { requestIds } = (await answer.json()) as { requestIds: string[] };
        return { id: requestIds[0]!, sentAt };
      }),
    );
    await untilApplied(sent.map((s) => s.id));
    return sent.map((s) => partsOf(s.id, s.sentAt));
  };

  const slack = async (n: number) => {
    const secret = pipeline.env.SLACK_SIGNING_SECRET!;
    const sign = (body: string) => {
      const ts = Math.floor(Date.now() / 1000);
      return {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(ts),
        'x-slack-signature': `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`,
      };
    };
    const chosen = nextFarms(n);
    // The proposals first (not timed): a slash command each, and its plan with the Apply button.
    const values = await Promise.all(
      chosen.map(async (f, i) => {
        const path = `/commands/${cursor}-${i}`;
        const body = new URLSearchParams({
          team_id: 'T0BENCH',
          channel_id: 'C0BENCH',
          user_id: 'U0BENCH',
          command: '/stickiness',
          text: `set ${f.service} http/${f.farmId} ${target(f)}`,
          response_url: `${slackOrigin}${path}`,
        }).toString();
        await fetch(`${api}/slack/commands`, { method: 'POST', body, headers: sign(body) });
        for (const end = Date.now() + 30_000; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
          const reply = replies.find((r) => r.path === path && r.body.blocks);
          const value = reply?.body.blocks
            ?.find((b) => b.type === 'actions')
            ?.elements?.find((e) => e.action_id === 'stickler_apply')?.value;
          if (value) return value;
        }
        throw new Error(`no proposal for ${f.service} http/${f.farmId}`);
      }),
    );
    const before = new Set(onBus.keys());
    const clicks = await Promise.all(
      values.map(async (value, i) => {
        const body = new URLSearchParams({
          payload: JSON.stringify({
            type: 'block_actions',
            user: { id: 'U0BENCH', team_id: 'T0BENCH' },
            team: { id: 'T0BENCH' },
            channel: { id: 'C0BENCH' },
            container: { type: 'message', channel_id: 'C0BENCH' },
            response_url: `${slackOrigin}/actions/${cursor}-${i}`,
            actions: [{ action_id: 'stickler_apply', block_id: 'stickler_proposal', value, type: 'button' }],
          }),
        }).toString();
        const sentAt = Date.now();
        const answer = await fetch(`${api}/slack/interactions`, {
          method: 'POST',
          body,
          headers: sign(body),
        });
        if (answer.status !== 200) throw new Error(`click: HTTP ${answer.status} ${await answer.text()}`);
        return sentAt;
      }),
    );
    // Each click's request: the new requests on the bus, matched to the clicks in order of arrival.
    for (const end = Date.now() + 60_000; [...onBus.keys()].filter((k) => !before.has(k)).length < n; ) {
      if (Date.now() > end) {
        const actions = replies
          .filter((r) => r.path.startsWith('/actions/'))
          .map((r) => JSON.stringify(r.body).slice(0, 300));
        throw new Error(`not every click reached the bus:\n${[...new Set(actions)].slice(0, 5).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const ids = [...onBus.keys()].filter((k) => !before.has(k));
    await untilApplied(ids);
    const firstClick = Math.min(...clicks);
    // Clicks were sent together: each request is timed from the first click (at most a few ms early).
    return ids.map((id) => partsOf(id, firstClick));
  };

  const rows: string[] = [];
  for (const [door, run] of [
    ['webhook', webhook],
    ['Slack Apply', slack],
  ] as const) {
    for (const n of SIZES) {
      const results = await run(n);
      const cells = PARTS.map((p) => {
        const sorted = results.map((r) => r[p]).sort((a, b) => a - b);
        return `${fmt(quantile(sorted, 0.5))} / ${fmt(quantile(sorted, 0.95))} / ${fmt(sorted.at(-1)!)}`;
      });
      rows.push(`| ${door} | ${n} | ${cells.join(' | ')} |`);
      process.stderr.write(`${door} ×${n} done\n`);
    }
  }
  process.stdout.write(
    [
      `Latency to \`Stickiness Change Applied\`, local pipeline (1 s batching window), simulator ${values.latency} ms per call, ${TASK_MS} ms refresh tasks; p50 / p95 / max:`,
      '',
      `| door | requests at once | ${PARTS.join(' | ')} |`,
      `|---|---|${PARTS.map(() => '---').join('|')}|`,
      ...rows,
      '',
    ].join('\n'),
  );
  if (process.env.LATENCY_CALLS) process.stderr.write(`${JSON.stringify(sim.stats.calls)}\n`);
  slackServer.close();
  await pipeline.close();
  await sim.close();
};

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
