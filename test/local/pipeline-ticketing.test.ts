/**
 * The README's ticketing walk-throughs on the local pipeline, as a user runs them: `stickler send`
 * with the sample events, and the comment or work note the ticket receives, on the local Jira and
 * ServiceNow stand-ins.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { standInSysId, startTicketingStandIns } from '../../lib/local/ticketing-standins';
import { captureCli } from '../helpers/cli';
import { loadFreshWebhookEvent } from '../helpers/events';
import { type PipelineHarness, startPipelineHarness } from '../helpers/pipeline';

const root = join(__dirname, '../..');

describe('the ticketing walk-throughs on the local pipeline (stickler send, Jira and ServiceNow stand-ins)', () => {
  let harness: PipelineHarness;
  const saved = { ...process.env };
  beforeAll(async () => {
    delete process.env.JIRA_BASE_URL;
    delete process.env.SERVICENOW_BASE_URL;
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    harness = await startPipelineHarness();
  });
  afterAll(async () => {
    await harness.close();
    process.env = saved;
  });
  const notes = () => harness.pipeline.ticketing?.notes ?? [];
  const until = async (found: () => boolean, ms: number) => {
    for (const end = Date.now() + ms; !found() && Date.now() < end; )
      await new Promise((r) => setTimeout(r, 50));
  };
  const send = (file: string) =>
    captureCli(['send', `events/ticketing-webhook/${file}.json`], harness.pipeline.env, root);

  it('sends the approved Jira sample, stamped now and signed, and the issue gets one comment per farm', async () => {
    const sent = await send('jira-approved');
    expect(sent).toMatchObject({ code: 0, out: expect.stringContaining('POST /webhooks/jira → HTTP 202') });
    // Outcome comments only (another test's notice may be on the same issue).
    const outcomes = () =>
      notes().filter((n) => n.ticket === 'KAN-3' && n.text.startsWith('stickler, request'));
    await until(() => outcomes().length === 2, 10_000);
    expect(outcomes()).toEqual([
      {
        system: 'jira',
        ticket: 'KAN-3',
        text: expect.stringMatching(/^stickler, request tkt-\w+: loadbalancer-7f3a9c21 http\/10[24]/),
      },
      {
        system: 'jira',
        ticket: 'KAN-3',
        text: expect.stringMatching(/^stickler, request tkt-\w+: loadbalancer-7f3a9c21 http\/10[24]/),
      },
    ]);
    // Its own comment coming back, three times: nothing asked, nothing more said.
    for (let i = 0; i < 3; i++) expect((await send('jira-commented')).out).toContain('HTTP 200');
    await new Promise((r) => setTimeout(r, 500));
    expect(outcomes()).toHaveLength(2);
  });

  it('tells an approved issue once that an edit of its change is not carried out, and its own notice coming back says nothing', async () => {
    const edited = loadFreshWebhookEvent<{
      body: string;
      isBase64Encoded: boolean;
      headers: Record<string, string>;
    }>('jira-edited-after-approval');
    const post = () =>
      fetch(`${harness.pipeline.env.STICKLER_API_URL}/webhooks/jira`, {
        method: 'POST',
        body: edited.body,
        headers: {
          'content-type': 'application/json',
          'x-hub-signature': edited.headers['x-hub-signature']!,
        },
      });
    const before = notes().length;
    for (let i = 0; i < 2; i++) expect((await post()).status).toBe(200); // Jira delivers it twice
    await until(() => notes().length > before, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const told = notes()
      .slice(before)
      .filter((n) => !n.text.startsWith('stickler, request'));
    expect(told).toEqual([
      { system: 'jira', ticket: 'KAN-3', text: expect.stringContaining('edited after it was approved') },
    ]);
    expect((await send('jira-commented')).out).toContain('HTTP 200');
    await new Promise((r) => setTimeout(r, 300));
    expect(notes().filter((n) => n.text.includes('edited after it was approved'))).toHaveLength(1);
  });

  it('tells a change why its approval was refused: a saved plan that is not registered gets a work note, and nothing is requested', async () => {
    const sample = JSON.parse(
      readFileSync(join(root, 'events/ticketing-webhook/servicenow-approved.json'), 'utf8'),
    );
    const body = JSON.parse(sample.body);
    for (const field of ['u_stickler_service', 'u_stickler_farms', 'u_stickler_stickiness'])
      delete body.result[field];
    body.result.u_stickler_plan = 'ab'.repeat(32);
    // A change of its own: the other tests' change keeps its approvals.
    body.result.number = 'CHG0000099';
    body.result.sys_id = 'c'.repeat(32);
    const dir = mkdtempSync(join(tmpdir(), 'stickler-refused-'));
    writeFileSync(join(dir, 'refused.json'), JSON.stringify({ ...sample, body: JSON.stringify(body) }));
    const requested = () =>
      harness.pipeline.bus.events.filter((e) => e['detail-type'] === 'Stickiness Change Requested').length;
    const before = requested();
    const sent = await captureCli(['send', 'refused.json'], harness.pipeline.env, dir);
    expect(sent.out).toContain('POST /webhooks/servicenow → HTTP 422');
    const told = () => notes().filter((n) => n.text.startsWith('stickler did not act on this approval'));
    await until(() => told().length > 0, 10_000);
    expect(told()).toEqual([
      {
        system: 'servicenow',
        ticket: 'CHG0000099',
        text: expect.stringContaining(
          `the saved plan ${'ab'.repeat(32)} cannot be applied: no saved plan with this digest is registered`,
        ),
      },
    ]);
    expect(requested()).toBe(before);
  });

  it('sends the approved ServiceNow sample, and the change gets a work note; a work note coming back asks nothing', async () => {
    const sent = await send('servicenow-approved');
    expect(sent.out).toContain('POST /webhooks/servicenow → HTTP 202');
    await until(() => notes().some((n) => n.ticket === 'CHG0000023'), 10_000);
    expect(notes().find((n) => n.ticket === 'CHG0000023')).toMatchObject({
      system: 'servicenow',
      text: expect.stringContaining('loadbalancer-b81e0d44 tcp/211'),
    });
    expect((await send('servicenow-work-note')).out).toContain('HTTP 200');
  });

  it('says what is wrong with what it is asked to send, and where to send it', async () => {
    expect(await captureCli(['send', 'examples/policy.yaml'], harness.pipeline.env, root)).toMatchObject({
      code: 1,
      err: expect.stringContaining('is not JSON'),
    });
    expect(
      await captureCli(['send', 'events/apply-worker/burst-two-zones.json'], harness.pipeline.env, root),
    ).toMatchObject({ code: 1, err: expect.stringContaining('is not a sample HTTP event') });
    expect(await captureCli(['send', 'events/ticketing-webhook/jira-approved.json'], {}, root)).toMatchObject(
      {
        code: 1,
        err: expect.stringContaining('STICKLER_API_URL'),
      },
    );
  });
});

describe('the local Jira and ServiceNow stand-ins', () => {
  it('take only their own credentials, and only what the real APIs take', async () => {
    const standIns = await startTicketingStandIns();
    try {
      const auth = (user: string, secret: string) =>
        `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
      const jira = (headers: Record<string, string>) =>
        fetch(`${standIns.jira.url}/rest/api/3/issue/OPS-1/comment`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({
            body: {
              type: 'doc',
              version: 1,
              content: [{ type: 'paragraph', content: [{ type: 'text', text: 'hi' }] }],
            },
          }),
        });
      expect((await jira({})).status).toBe(401);
      expect((await jira({ authorization: auth(standIns.jira.email, standIns.jira.apiToken) })).status).toBe(
        201,
      );
      const sn = { authorization: auth(standIns.servicenow.user, standIns.servicenow.password) };
      const found = await fetch(
        `${standIns.servicenow.url}/api/now/table/change_request?sysparm_query=number%3DCHG0030042&sysparm_fields=sys_id`,
        { headers: sn },
      );
      expect(await found.json()).toEqual({ result: [{ sys_id: standInSysId('CHG0030042') }] });
      const patched = await fetch(
        `${standIns.servicenow.url}/api/now/table/change_request/${standInSysId('CHG0030042')}`,
        {
          method: 'PATCH',
          headers: { ...sn, 'content-type': 'application/json' },
          body: JSON.stringify({ work_notes: 'noted' }),
        },
      );
      expect(patched.status).toBe(200);
      expect(standIns.notes).toEqual([
        { system: 'jira', ticket: 'OPS-1', text: 'hi' },
        { system: 'servicenow', ticket: 'CHG0030042', text: 'noted' },
      ]);
    } finally {
      await standIns.close();
    }
  });
});
