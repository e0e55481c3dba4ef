import { hubSignature } from '../../lib/adapters/http/hub-signature';
import type { ChangeAuditDetail } from '../../lib/domain/audit-events';
import type { LocalPipeline } from '../../lib/local/pipeline';
import type { RunningSimulator } from '../../lib/simulator/server';
import { loadFreshWebhookEvent } from '../helpers/events';
import { startFakeHttp } from '../helpers/fake-http';
import { type PipelineHarness, startPipelineHarness } from '../helpers/pipeline';

describe('a signed ticket through the local pipeline: HTTP API → webhook → bus → queue → worker → OVH', () => {
  let sim: RunningSimulator;
  let pipeline: LocalPipeline;
  let jira: Awaited<ReturnType<typeof startFakeHttp>>;
  let harness: PipelineHarness;
  const saved = { ...process.env };
  beforeAll(async () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    // A test Jira site for the notifier (the local stage allows http).
    jira = await startFakeHttp(() => ({ status: 201, body: { id: '1' } }));
    Object.assign(process.env, {
      JIRA_BASE_URL: jira.url,
      JIRA_EMAIL: 'stickler@example.com',
      JIRA_API_TOKEN: 'test-token',
    });
    harness = await startPipelineHarness();
    ({ sim, pipeline } = harness);
  });
  afterAll(async () => {
    await harness.close();
    await jira.close();
    process.env = saved;
  });

  const post = (body: string, headers: Record<string, string>) =>
    fetch(`${pipeline.env.STICKLER_API_URL}/webhooks/generic`, { method: 'POST', body, headers });
  const signed = (ticket: object, delivery: string) => {
    const body = JSON.stringify({ ...ticket, sentAt: new Date().toISOString() });
    return post(body, {
      'content-type': 'application/json',
      'x-delivery-id': delivery,
      'x-hub-signature-256': hubSignature(body, pipeline.env.STICKLER_WEBHOOK_SECRET_GENERIC!),
    });
  };
  const farm = (service: string, key: string) => sim.state.services.get(service)!.farms.get(key)!;
  const audit = (requestId: string) =>
    pipeline.bus.events.find(
      (e) =>
        e.source === 'stickler' &&
        (e.detail as ChangeAuditDetail).requestId === requestId &&
        e['detail-type'] !== 'Stickiness Change Deferred',
    );
  const until = async (found: () => unknown, ms: number) => {
    for (const end = Date.now() + ms; !found() && Date.now() < end; )
      await new Promise((r) => setTimeout(r, 50));
    return found();
  };

  it('applies the farm on the simulator, with an audit trail naming the ticket and the requester', async () => {
    const target =
      farm('loadbalancer-b81e0d44', 'tcp/212').stored.stickiness === 'sourceIp' ? 'none' : 'sourceIp';
    const answer = await signed(
      {
        ticket: 'OPS-2001',
        requestedBy: { id: 'alice@example.com', name: 'Alice Martin' },
        service: 'loadbalancer-b81e0d44',
        farmType: 'tcp',
        farmId: 212,
        stickiness: target,
      },
      'delivery-1',
    );
    expect(answer.status).toBe(202);
    const { requestIds } = (await answer.json()) as { requestIds: string[] };
    const applied = (await until(() => audit(requestIds[0]!), 10_000)) as {
      source: string;
      detail: ChangeAuditDetail;
    };
    expect(applied.detail).toMatchObject({
      outcome: 'applied',
      ticket: 'OPS-2001',
      actor: { kind: 'ticket', id: 'generic:alice@example.com', name: 'Alice Martin' },
      origin: { source: 'stickler.ticketing' },
    });
    expect(farm('loadbalancer-b81e0d44', 'tcp/212').applied.get('sbg')?.stickiness ?? 'none').toBe(target);
  });

  it('applies a ticket whose window opens in 5 s after it opens, not before', async () => {
    const notBefore = new Date(Date.now() + 5_000);
    const before = farm('loadbalancer-b81e0d44', 'http/111').stored.stickiness;
    const target = before === 'cookie' ? 'sourceIp' : 'cookie';
    const answer = await signed(
      {
        ticket: 'OPS-2002',
        requestedBy: 'bob@example.com',
        window: { notBefore: notBefore.toISOString() },
        service: 'loadbalancer-b81e0d44',
        farmType: 'http',
        farmId: 111,
        stickiness: target,
      },
      'delivery-2',
    );
    expect(answer.status).toBe(202);
    const { requestIds } = (await answer.json()) as { requestIds: string[] };
    await new Promise((r) => setTimeout(r, Math.max(0, notBefore.getTime() - Date.now() - 1_000)));
    expect(farm('loadbalancer-b81e0d44', 'http/111').stored.stickiness).toBe(before);
    const applied = (await until(() => audit(requestIds[0]!), 15_000)) as { detail: ChangeAuditDetail };
    expect(applied.detail.outcome).toBe('applied');
    expect(Date.parse(applied.detail.decidedAt)).toBeGreaterThanOrEqual(notBefore.getTime());
  }, 30_000);

  it('applies an approved Jira issue and posts the outcome back on it', async () => {
    const event = loadFreshWebhookEvent<{
      body: string;
      isBase64Encoded: boolean;
      headers: Record<string, string>;
    }>('jira-approved');
    const answer = await fetch(`${pipeline.env.STICKLER_API_URL}/webhooks/jira`, {
      method: 'POST',
      body: event.body,
      headers: {
        'content-type': 'application/json',
        'x-atlassian-webhook-identifier': event.headers['x-atlassian-webhook-identifier']!,
        'x-hub-signature': event.headers['x-hub-signature']!,
      },
    });
    expect(answer.status).toBe(202);
    const { requestIds } = (await answer.json()) as { requestIds: string[] };
    expect(requestIds).toHaveLength(2);
    // Outcome comments only (another test's notice may be on the same issue).
    const comments = () =>
      jira.requests
        .filter((r) => r.path === '/rest/api/3/issue/KAN-3/comment')
        .filter((r) =>
          (JSON.parse(r.body).body.content[0].content[0].text as string).startsWith('stickler, request'),
        );
    await until(() => comments().length === 2, 10_000);
    const texts = comments().map((r) => JSON.parse(r.body).body.content[0].content[0].text as string);
    expect(texts.sort((a, b) => a.replace(/tkt-\w+/, '').localeCompare(b.replace(/tkt-\w+/, '')))).toEqual([
      expect.stringMatching(
        /^stickler, request tkt-\w+: loadbalancer-7f3a9c21 http\/102 .*(applied|already cookie)/,
      ),
      expect.stringMatching(
        /^stickler, request tkt-\w+: loadbalancer-7f3a9c21 http\/104 .*(applied|already cookie)/,
      ),
    ]);
    expect(comments()[0]!.headers.authorization).toBe(
      `Basic ${Buffer.from('stickler@example.com:test-token').toString('base64')}`,
    );
  });

  const send = (source: string, body: string, headers: Record<string, string>) =>
    fetch(`${pipeline.env.STICKLER_API_URL}/webhooks/${source}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...headers },
    });
  const changesOf = (requestId: string) =>
    pipeline.bus.events.filter(
      (e) => (e.detail as { requestId?: string }).requestId === requestId && e.source === 'stickler',
    );

  it('a captured delivery resent with another delivery header changes nothing: the newer ticket stays applied', async () => {
    const ticket = (key: string, stickiness: string) =>
      JSON.stringify({
        ticket: key,
        sentAt: new Date().toISOString(),
        requestedBy: 'alice@example.com',
        service: 'ip-203.0.113.7',
        farmType: 'http',
        farmId: 121,
        stickiness,
      });
    const secret = pipeline.env.STICKLER_WEBHOOK_SECRET_GENERIC!;
    const a = ticket('OPS-3001', 'none');
    const first = (await (
      await send('generic', a, { 'x-delivery-id': 'a-1', 'x-hub-signature-256': hubSignature(a, secret) })
    ).json()) as { requestIds: string[] };
    await until(() => audit(first.requestIds[0]!), 10_000);
    const b = ticket('OPS-3002', 'cookie');
    const second = (await (
      await send('generic', b, { 'x-delivery-id': 'b-1', 'x-hub-signature-256': hubSignature(b, secret) })
    ).json()) as { requestIds: string[] };
    await until(() => audit(second.requestIds[0]!), 10_000);
    expect(farm('ip-203.0.113.7', 'http/121').stored.stickiness).toBe('cookie');
    const refreshes = sim.state.services.get('ip-203.0.113.7')!.tasks.length;

    // The attacker's copy: A's bytes and signature, another delivery id.
    const onTheBus = pipeline.bus.events.length;
    const replay = await send('generic', a, {
      'x-delivery-id': 'anything-else',
      'x-hub-signature-256': hubSignature(a, secret),
    });
    expect(((await replay.json()) as { requestIds: string[] }).requestIds).toEqual(first.requestIds);
    expect(pipeline.bus.events.length).toBe(onTheBus); // nothing published
    await new Promise((r) => setTimeout(r, 1_500)); // past the local batching window
    expect(farm('ip-203.0.113.7', 'http/121').stored.stickiness).toBe('cookie');
    expect(sim.state.services.get('ip-203.0.113.7')!.tasks.length).toBe(refreshes);
    expect(changesOf(first.requestIds[0]!).map((e) => e['detail-type'])).toEqual([
      'Stickiness Change Applied',
    ]);
  }, 30_000);

  it("an approved Jira issue's later edits and its outcome comments publish nothing (three rounds, no new request)", async () => {
    const requested = () =>
      pipeline.bus.events.filter((e) => e['detail-type'] === 'Stickiness Change Requested').length;
    const before = requested();
    for (const name of ['jira-edited-after-approval', 'jira-commented', 'jira-commented', 'jira-commented']) {
      const event = loadFreshWebhookEvent<{
        body: string;
        isBase64Encoded: boolean;
        headers: Record<string, string>;
      }>(name);
      const answer = await send('jira', event.body, { 'x-hub-signature': event.headers['x-hub-signature']! });
      expect(answer.status).toBe(200);
    }
    const snow = loadFreshWebhookEvent<{
      body: string;
      isBase64Encoded: boolean;
      headers: Record<string, string>;
    }>('servicenow-work-note');
    expect(
      (await send('servicenow', snow.body, { 'x-hub-signature-256': snow.headers['x-hub-signature-256']! }))
        .status,
    ).toBe(200);
    expect(requested()).toBe(before);
  });

  it("a bus publisher's request naming a ticket to notify makes no comment on it", async () => {
    const before = jira.requests.length;
    await pipeline.publish(
      [
        {
          requestId: 'payroll-forged-1',
          service: 'ip-203.0.113.7',
          farmType: 'http',
          farmId: 122,
          stickiness: 'none',
          actor: { kind: 'system', id: 'payroll' },
          ticket: 'PAYROLL-7',
          requestedAt: new Date().toISOString(),
          notify: { kind: 'ticket', system: 'jira' },
        },
      ],
      'payroll.app',
    );
    await until(() => audit('payroll-forged-1'), 10_000);
    await new Promise((r) => setTimeout(r, 300)); // the notifier runs after the audit event
    expect(jira.requests.length).toBe(before);
  });

  it('a Jira issue approved with a window, then withdrawn before it opens: its requests are cancelled, never applied, and the issue is told', async () => {
    const notBefore = new Date(Date.now() + 3_600_000);
    const jiraTimeOf = (d: Date) => d.toISOString().replace('Z', '+0000');
    const approved = loadFreshWebhookEvent<{
      body: string;
      isBase64Encoded: boolean;
      headers: Record<string, string>;
    }>('jira-approved');
    const body = JSON.parse(approved.body);
    body.issue.key = 'KAN-31';
    body.changelog.id = '20001';
    body.issue.fields.customfield_10103 = jiraTimeOf(notBefore);
    const secret = pipeline.env.STICKLER_WEBHOOK_SECRET_JIRA!;
    const raw = JSON.stringify(body);
    const answer = await send('jira', raw, { 'x-hub-signature': hubSignature(raw, secret) });
    expect(answer.status).toBe(202);
    const { requestIds } = (await answer.json()) as { requestIds: string[] };
    const deferred = (id: string) =>
      pipeline.bus.events.find(
        (e) =>
          e['detail-type'] === 'Stickiness Change Deferred' &&
          (e.detail as ChangeAuditDetail).requestId === id,
      );
    await until(() => requestIds.every(deferred), 10_000);
    const schedules = pipeline.scheduler.schedules.size;

    body.changelog = {
      id: '20002',
      items: [
        {
          field: 'status',
          fieldtype: 'jira',
          fieldId: 'status',
          fromString: 'Approved',
          toString: 'Declined',
        },
      ],
    };
    body.issue.fields.status.name = 'Declined';
    body.timestamp = Date.now();
    const withdrawn = JSON.stringify(body);
    const cancel = await send('jira', withdrawn, { 'x-hub-signature': hubSignature(withdrawn, secret) });
    expect(cancel.status).toBe(202);
    const cancelled = (id: string) =>
      pipeline.bus.events.find(
        (e) =>
          e['detail-type'] === 'Stickiness Change Cancelled' &&
          (e.detail as ChangeAuditDetail).requestId === id,
      );
    await until(() => requestIds.every(cancelled), 10_000);
    expect(requestIds.every(cancelled)).toBe(true);
    await until(() => pipeline.scheduler.schedules.size === schedules - requestIds.length, 5_000);
    expect(pipeline.scheduler.schedules.size).toBe(schedules - requestIds.length);
    const comments = () => jira.requests.filter((r) => r.path === '/rest/api/3/issue/KAN-31/comment');
    await until(() => comments().length === 2, 10_000);
    expect(comments().map((r) => JSON.parse(r.body).body.content[0].content[0].text)).toEqual([
      expect.stringContaining('cancelled before its change window opened'),
      expect.stringContaining('cancelled before its change window opened'),
    ]);
  }, 30_000);

  it('publishes nothing for an unsigned or wrongly signed ticket', async () => {
    const events = pipeline.bus.events.length;
    const body = JSON.stringify({
      ticket: 'OPS-2003',
      requestedBy: 'eve',
      service: 'loadbalancer-b81e0d44',
      farmType: 'http',
      farmId: 112,
      stickiness: 'none',
    });
    expect((await post(body, { 'content-type': 'application/json' })).status).toBe(401);
    expect(
      (
        await post(body, {
          'content-type': 'application/json',
          'x-hub-signature-256': hubSignature(body, 'guess'),
        })
      ).status,
    ).toBe(401);
    expect(pipeline.bus.events.length).toBe(events);
  });
});
