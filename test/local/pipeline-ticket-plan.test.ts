/**
 * A saved plan approved through a ticket, end to end on the local pipeline: `stickler plan --out
 * FILE --pipeline` registers it, a signed generic ticket naming its digest is approved, and the
 * worker applies exactly the plan's changes, each audited once with the plan's digest; a farm
 * changed between the plan and the approval is refused changed-since, the others applied.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hubSignature } from '../../lib/adapters/http/hub-signature';
import type { ChangeAuditDetail } from '../../lib/domain/audit-events';
import type { SavedPlan } from '../../lib/domain/saved-plan';
import { captureCli } from '../helpers/cli';
import { type PipelineHarness, startPipelineHarness } from '../helpers/pipeline';

const SERVICE = 'loadbalancer-7f3a9c21';

describe('a saved plan approved through a ticket, on the local pipeline', () => {
  let harness: PipelineHarness;
  let dir: string;
  const saved = { ...process.env };
  beforeAll(async () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    harness = await startPipelineHarness();
    dir = mkdtempSync(join(tmpdir(), 'stickler-ticket-plan-'));
  });
  afterAll(async () => {
    await harness.close();
    rmSync(dir, { recursive: true, force: true });
    process.env = saved;
  });

  const env = () => ({ ...process.env, ...harness.pipeline.env });
  /** `stickler plan --out FILE --pipeline` of the checkout farms to `target`: the saved plan and what was said. */
  const registerPlan = async (target: string, name: string) => {
    writeFileSync(
      join(dir, `${name}.yaml`),
      `version: 1\nrules:\n  - name: checkout\n    match: { displayName: "web-checkout-*" }\n    stickiness: ${target}\n`,
    );
    const run = await captureCli(
      ['plan', '--policy', `${name}.yaml`, '--service', SERVICE, '--out', `${name}.json`, '--pipeline'],
      env(),
      dir,
    );
    return { run, plan: JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as SavedPlan };
  };
  /** The checkout farm of each zone brought to a stickiness, stored and applied (a direct apply). */
  const settle = async (to: Record<'gra' | 'sbg' | 'rbx', string>) => {
    const rules = Object.entries(to)
      .map(
        ([zone, value]) => `  - match: { displayName: "web-checkout-${zone}" }\n    stickiness: ${value}\n`,
      )
      .join('');
    writeFileSync(join(dir, 'settle.yaml'), `version: 1\nrules:\n${rules}`);
    const run = await captureCli(
      ['apply', '--policy', 'settle.yaml', '--service', SERVICE, '--yes', '--poll-interval', '10'],
      env(),
      dir,
    );
    expect(run.code).toBe(0);
  };
  const approve = async (ticket: string, plan: string) => {
    const body = JSON.stringify({ ticket, sentAt: new Date().toISOString(), requestedBy: 'alice', plan });
    const answer = await fetch(`${harness.pipeline.env.STICKLER_API_URL}/webhooks/generic`, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'x-hub-signature-256': hubSignature(body, harness.pipeline.env.STICKLER_WEBHOOK_SECRET_GENERIC!),
      },
    });
    return {
      status: answer.status,
      json: (await answer.json()) as { requestIds: string[]; errors?: unknown },
    };
  };
  /** The audit events of these requests, once each has its terminal one (or the time is up). */
  const auditsOf = async (requestIds: string[]) => {
    const events = () =>
      harness.pipeline.bus.events
        .filter(
          (e) => e.source === 'stickler' && requestIds.includes((e.detail as ChangeAuditDetail).requestId),
        )
        .map((e) => e.detail as ChangeAuditDetail);
    for (const end = Date.now() + 15_000; Date.now() < end; ) {
      if (new Set(events().map((d) => d.requestId)).size === requestIds.length) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300)); // nothing more comes
    return events();
  };
  const farm = (key: string) => harness.sim.state.services.get(SERVICE)!.farms.get(key)!;

  it('registers the plan, and a ticket naming its digest applies exactly its changes, each audited once with the digest', async () => {
    // The checkout farms as the example fleet has them (whichever test ran before).
    await settle({ gra: 'none', sbg: 'sourceIp', rbx: 'cookie' });
    const { run, plan } = await registerPlan('cookie', 'first');
    expect(run.code).toBe(2); // drift found: the plan holds changes
    expect(run.err).toContain('Plan registered with the local pipeline, for 7 days');
    expect(run.err).toContain(`\n${plan.digest}\n`);
    expect(plan.changes.map((c) => [`${c.type}/${c.farmId}`, c.from, c.to])).toEqual([
      ['http/101', 'none', 'cookie'],
      ['http/102', 'sourceIp', 'cookie'],
    ]);
    const answer = await approve('OPS-3001', plan.digest);
    expect(answer.status).toBe(202);
    expect(answer.json.requestIds).toHaveLength(2);
    const audits = await auditsOf(answer.json.requestIds);
    expect(audits.map((a) => [a.farmId, a.outcome, a.before, a.after, a.plan, a.ticket])).toEqual(
      expect.arrayContaining([
        [101, 'applied', 'none', 'cookie', plan.digest, 'OPS-3001'],
        [102, 'applied', 'sourceIp', 'cookie', plan.digest, 'OPS-3001'],
      ]),
    );
    expect(audits).toHaveLength(2);
    expect(farm('http/101').applied.get('gra')?.stickiness).toBe('cookie');
    expect(farm('http/102').applied.get('sbg')?.stickiness).toBe('cookie');
    // Nothing else of the load balancer was touched (103 was already cookie).
    expect(farm('http/104').stored.stickiness).toBe('cookie');
  }, 40_000);

  it('refuses changed-since a farm changed between the plan and the approval, and applies the others', async () => {
    // The checkout farms all at cookie first (whichever test ran before).
    await settle({ gra: 'cookie', sbg: 'cookie', rbx: 'cookie' });
    const { plan } = await registerPlan('sourceIp', 'second');
    expect(plan.changes.map((c) => c.farmId)).toEqual([101, 102, 103]);
    // Someone changes (and applies) 103 outside stickler after the plan was made.
    const f = farm('http/103');
    f.stored.stickiness = null;
    f.applied.get('rbx')!.stickiness = null;

    const answer = await approve('OPS-3002', plan.digest);
    expect(answer.status).toBe(202);
    const audits = await auditsOf(answer.json.requestIds);
    expect(audits.map((a) => [a.farmId, a.outcome, a.code, a.plan])).toEqual(
      expect.arrayContaining([
        [101, 'applied', null, plan.digest],
        [102, 'applied', null, plan.digest],
        [103, 'refused', 'changed-since', plan.digest],
      ]),
    );
    expect(audits).toHaveLength(3);
    expect(farm('http/103').stored.stickiness).toBeNull();
    expect(farm('http/101').applied.get('gra')?.stickiness).toBe('sourceIp');
  }, 40_000);

  it('refuses 422 a ticket naming a plan never registered, and publishes nothing', async () => {
    const before = harness.pipeline.bus.events.length;
    const answer = await approve('OPS-3003', '0'.repeat(64));
    expect(answer.status).toBe(422);
    expect(answer.json.errors).toEqual([
      { path: 'plan', message: expect.stringContaining('no saved plan with this digest is registered') },
    ]);
    expect(harness.pipeline.bus.events.length).toBe(before);
  });
});
