/**
 * A ticket approving a saved plan by its digest: exactly the registered plan's changes are
 * requested, each only if its farm still stores what the plan read (ifStores) and naming the plan;
 * a plan unknown, expired, edited where it is kept, or not a saved plan is refused 422 naming the
 * ticket's field, and nothing is published. Through the in-memory fakes.
 */
import { createHash } from 'node:crypto';
import { hubSignature } from '../../lib/adapters/http/hub-signature';
import { readGenericTicket } from '../../lib/adapters/ticketing/generic';
import { DEFAULT_JIRA_FIELDS, readJiraWebhook } from '../../lib/adapters/ticketing/jira';
import { DEFAULT_SERVICENOW_FIELDS, readServiceNowChange } from '../../lib/adapters/ticketing/servicenow';
import { makeHandleTicketWebhook, ticketRequestId } from '../../lib/app/handle-ticket-webhook';
import { makeRequestChanges } from '../../lib/app/request-changes';
import type { ChangeRequestedDetail } from '../../lib/domain/events';
import { planDigest, type SavedPlanBody } from '../../lib/domain/saved-plan';
import { aPlanBody } from '../contracts/plan-registry.contract';
import { FakeClock, InMemoryPlanRegistry, RecordingPublisher, silentLog } from '../helpers/fakes';

const SECRET = 'shh';
const WEEK = 7 * 24 * 3600_000;

const setup = (options: { registry?: boolean } = {}) => {
  const clock = new FakeClock();
  const publisher = new RecordingPublisher();
  const plans = new InMemoryPlanRegistry();
  const log = silentLog();
  const handle = makeHandleTicketWebhook({
    secretFor: async () => SECRET,
    verify: (_s, headers, body, secret) =>
      headers['x-hub-signature-256'] === hubSignature(body.toString(), secret),
    read: (_source, json, raw) => readGenericTicket(json, raw),
    requestChanges: makeRequestChanges({ publisher, clock }),
    publisher,
    ...(options.registry === false ? {} : { plans }),
    clock,
    log,
  });
  const deliver = (ticket: Record<string, unknown>) => {
    const body = Buffer.from(
      JSON.stringify({ ticket: 'OPS-7', sentAt: clock.now().toISOString(), requestedBy: 'alice', ...ticket }),
    );
    return {
      body,
      answer: handle({
        source: 'generic',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': hubSignature(body.toString(), SECRET),
        },
        body,
      }),
    };
  };
  /** A plan of two changes (lb-a http/1 none → cookie, http/2 cookie → sourceIp), registered for a week. */
  const registered = async (edit: (body: SavedPlanBody) => SavedPlanBody = (b) => b) => {
    const { body } = aPlanBody(2);
    const plan = edit({
      ...body,
      farms: [body.farms[0]!, { ...body.farms[1]!, stickiness: 'cookie' }],
      changes: [body.changes[0]!, { ...body.changes[1]!, from: 'cookie', to: 'sourceIp' }],
    });
    const digest = planDigest(plan);
    await plans.register(plan, digest, new Date(clock.t + WEEK));
    return { plan, digest };
  };
  const requests = () => publisher.published.map((e) => e.detail as ChangeRequestedDetail);
  return { clock, publisher, plans, log, deliver, registered, requests };
};

describe('a ticket approving a saved plan by its digest', () => {
  it('requests exactly the plan’s changes, each only if the farm stores what the plan read, naming the plan', async () => {
    const h = setup();
    const { digest } = await h.registered();
    const { body, answer } = h.deliver({
      plan: digest,
      reason: 'the reviewed plan',
      window: { notAfter: new Date(h.clock.t + 3_600_000).toISOString() },
    });
    const approval = `body:${createHash('sha256').update(body).digest('hex')}`;
    const ids = ['lb-a/http/1', 'lb-a/http/2'].map((farm, i) =>
      ticketRequestId('generic', 'OPS-7', approval, farm, ['cookie', 'sourceIp'][i]!),
    );
    expect(await answer).toEqual({ kind: 'accepted', requestIds: ids });
    expect(h.requests()).toEqual([
      expect.objectContaining({
        requestId: ids[0],
        service: 'lb-a',
        farmType: 'http',
        farmId: 1,
        stickiness: 'cookie',
        ifStores: 'none',
        ifStoresAt: '2026-12-07T10:00:00.000Z',
        plan: digest,
        ticket: 'OPS-7',
        reason: 'the reviewed plan',
        actor: { kind: 'ticket', id: 'generic:alice' },
        requestedAt: h.clock.now().toISOString(),
        window: { notAfter: expect.any(String) },
      }),
      expect.objectContaining({
        requestId: ids[1],
        farmId: 2,
        stickiness: 'sourceIp',
        ifStores: 'cookie',
        plan: digest,
      }),
    ]);
    expect(h.publisher.published.map((e) => e.source)).toEqual(['stickler.ticketing', 'stickler.ticketing']);
  });

  it.each([
    [
      'unknown',
      async (_h: ReturnType<typeof setup>) => 'e'.repeat(64),
      /no saved plan with this digest is registered/,
    ],
    [
      'expired',
      async (h: ReturnType<typeof setup>) => {
        const { digest } = await h.registered();
        h.clock.advance(WEEK);
        return digest;
      },
      /its registration expired at 2026-12-02T10:00:00.000Z: make a new plan/,
    ],
    [
      'made over 7 days ago, though its expiry was written later by hand',
      async (h: ReturnType<typeof setup>) => {
        const { digest } = await h.registered();
        const kept = h.plans.plans.get(digest)!;
        h.plans.plans.set(digest, { ...kept, expiresAt: new Date('2100-01-01T00:00:00Z') });
        // The plan was made on 2026-12-07; now is over a week after.
        h.clock.t = Date.parse('2026-12-14T11:00:00Z');
        return digest;
      },
      /it was made at 2026-12-07T10:00:00.000Z, more than 7 days ago: make a new plan/,
    ],
    [
      'edited where it is kept (tampered)',
      async (h: ReturnType<typeof setup>) => {
        const { plan, digest } = await h.registered();
        const kept = h.plans.plans.get(digest)!;
        const edited = { ...plan, changes: [{ ...plan.changes[0]!, to: 'sourceIp' }] };
        h.plans.plans.set(digest, { ...kept, body: JSON.stringify(edited) });
        return digest;
      },
      /has been edited since it was saved/,
    ],
    [
      'not a saved plan',
      async (h: ReturnType<typeof setup>) => {
        const digest = 'd'.repeat(64);
        h.plans.plans.set(digest, {
          body: '{"format":"stickler-plan/0"}',
          expiresAt: new Date(h.clock.t + WEEK),
        });
        return digest;
      },
      /is not a saved plan of this version \(stickler-plan\/1\)/,
    ],
    [
      'over the 50 changes of a ticket (written by hand under its own digest)',
      async (h: ReturnType<typeof setup>) => {
        const { body, digest } = aPlanBody(51);
        h.plans.plans.set(digest, { body: JSON.stringify(body), expiresAt: new Date(h.clock.t + WEEK) });
        return digest;
      },
      /holds 51 changes, over the 50 a ticket may carry/,
    ],
  ])('refuses a plan %s: 422 naming the field, nothing published, logged', async (_, arrange, why) => {
    const h = setup();
    const digest = await arrange(h);
    await expect(h.deliver({ plan: digest }).answer).rejects.toMatchObject({
      code: 'unprocessable',
      message: expect.stringContaining(`the saved plan ${digest} cannot be applied`),
      issues: [{ path: 'plan', message: expect.stringMatching(why) }],
    });
    expect(h.publisher.published).toEqual([]);
    expect(h.log.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'webhook refused the saved plan a ticket approved' }),
    );
  });

  it('refuses a plan when it keeps no plans, and asks for a resend when the registry cannot be read', async () => {
    const none = setup({ registry: false });
    await expect(none.deliver({ plan: 'e'.repeat(64) }).answer).rejects.toMatchObject({
      code: 'unprocessable',
      issues: [{ path: 'plan', message: expect.stringContaining('keeps no saved plans') }],
    });
    const h = setup();
    const { digest } = await h.registered();
    h.plans.failures.fail('read');
    await expect(h.deliver({ plan: digest }).answer).rejects.toMatchObject({
      code: 'plan-unreadable',
      retryable: true,
    });
    expect(h.publisher.published).toEqual([]);
  });

  it('answers a plan with no change "nothing to apply", and publishes nothing', async () => {
    const h = setup();
    const { digest } = await h.registered((b) => ({ ...b, changes: [] }));
    expect(await h.deliver({ plan: digest }).answer).toEqual({
      kind: 'ignored',
      requestIds: [],
      ignored: `the saved plan ${digest} holds no change: nothing to apply`,
    });
    expect(h.publisher.published).toEqual([]);
  });

  it('refuses a generic ticket giving both a plan and farm changes, naming both', async () => {
    const h = setup();
    const { digest } = await h.registered();
    const farm = { service: 'lb-a', farmType: 'http', farmId: 1, stickiness: 'cookie' };
    await expect(h.deliver({ plan: digest, changes: [farm] }).answer).rejects.toMatchObject({
      issues: [
        { path: 'plan', message: expect.stringContaining('not both') },
        { path: 'changes', message: expect.stringContaining('not both') },
      ],
    });
    await expect(h.deliver({ plan: digest, ...farm }).answer).rejects.toMatchObject({
      issues: [
        { path: 'plan', message: expect.stringContaining('not both') },
        { path: 'service', message: expect.stringContaining('not both') },
      ],
    });
    await expect(h.deliver({ plan: digest.toUpperCase() }).answer).rejects.toMatchObject({
      issues: [{ path: 'plan', message: expect.stringContaining('64 lower-case hex digits') }],
    });
    expect(h.publisher.published).toEqual([]);
  });
});

describe('the plan field of Jira and ServiceNow, read strictly', () => {
  const digest = 'a1'.repeat(32);
  const jira = (fields: Record<string, unknown>, move: [string, string] = ['To Do', 'Approved']) => ({
    timestamp: Date.parse('2026-11-25T10:00:00Z'),
    webhookEvent: 'jira:issue_updated',
    issue: {
      id: '1',
      key: 'OPS-9',
      fields: { status: { name: move[1] }, reporter: { accountId: 'a-1' }, ...fields },
    },
    changelog: {
      id: '500',
      items: [{ field: 'status', fieldId: 'status', fromString: move[0], toString: move[1] }],
    },
  });
  const map = { ...DEFAULT_JIRA_FIELDS, plan: 'customfield_10200' };

  it('Jira: the configured field holds the digest (text, trimmed); none configured, none read', () => {
    expect(readJiraWebhook(jira({ customfield_10200: ` ${digest}\n` }), map)).toMatchObject({
      plan: { digest, field: 'issue.fields.customfield_10200' },
      changes: [],
      verdict: { kind: 'approved' },
    });
    expect(readJiraWebhook(jira({ customfield_10200: digest }), DEFAULT_JIRA_FIELDS).plan).toBeUndefined();
    expect(
      readJiraWebhook(jira({ customfield_10200: '', customfield_10100: 'lb-a' }), map).plan,
    ).toBeUndefined();
  });

  it('Jira: refuses what is not exactly a digest, naming the field, and a plan given with farms, naming both', () => {
    for (const value of [
      `stickler plan: ${digest}`,
      digest.slice(1),
      digest.toUpperCase(),
      42,
      { value: 'x' },
    ])
      expect(() => readJiraWebhook(jira({ customfield_10200: value }), map)).toThrow(
        expect.objectContaining({
          issues: [
            {
              path: 'issue.fields.customfield_10200',
              message: expect.stringContaining('64 lower-case hex digits'),
            },
          ],
        }),
      );
    expect(() =>
      readJiraWebhook(
        jira({ customfield_10200: digest, customfield_10101: 'http/1', customfield_10102: 'cookie' }),
        map,
      ),
    ).toThrow(
      expect.objectContaining({
        issues: [
          {
            path: 'issue.fields.customfield_10200',
            message: expect.stringContaining('give one or the other'),
          },
          {
            path: 'issue.fields.customfield_10101',
            message: expect.stringContaining('give one or the other'),
          },
          {
            path: 'issue.fields.customfield_10102',
            message: expect.stringContaining('give one or the other'),
          },
        ],
      }),
    );
  });

  it('Jira: a withdrawal is acted on whatever the field holds, and an edit of the field after approval is told', () => {
    expect(
      readJiraWebhook(jira({ customfield_10200: 'garbage' }, ['Approved', 'Declined']), map).verdict,
    ).toMatchObject({
      kind: 'withdrawn',
    });
    const edit = {
      ...jira({ customfield_10200: digest }),
      changelog: { id: '501', items: [{ field: 'Plan', fieldId: 'customfield_10200' }] },
    };
    edit.issue.fields.status = { name: 'Approved' };
    expect(readJiraWebhook(edit, map).verdict).toMatchObject({
      kind: 'ignored',
      notice: expect.stringContaining('edited after it was approved'),
    });
  });

  const snow = (record: Record<string, unknown>) => ({
    number: 'CHG0000042',
    sys_id: 'abc',
    sys_mod_count: '4',
    sys_updated_on: '2026-11-25 10:00:00',
    approval: 'approved',
    previous_approval: 'requested',
    requested_by: { value: 'u-1', display_value: 'Bob' },
    ...record,
  });

  it('ServiceNow: u_stickler_plan by default, a {value} pair too; anything else refused naming the column; both named', () => {
    expect(
      readServiceNowChange(
        snow({ u_stickler_plan: { value: digest, display_value: digest } }),
        DEFAULT_SERVICENOW_FIELDS,
      ),
    ).toMatchObject({
      plan: { digest, field: 'u_stickler_plan' },
      changes: [],
    });
    expect(() =>
      readServiceNowChange(snow({ u_stickler_plan: 'plan-7' }), DEFAULT_SERVICENOW_FIELDS),
    ).toThrow(
      expect.objectContaining({
        issues: [{ path: 'u_stickler_plan', message: expect.stringContaining('got "plan-7"') }],
      }),
    );
    expect(() =>
      readServiceNowChange(
        snow({ u_stickler_plan: digest, u_stickler_service: 'lb-a' }),
        DEFAULT_SERVICENOW_FIELDS,
      ),
    ).toThrow(
      expect.objectContaining({
        issues: [
          { path: 'u_stickler_plan', message: expect.any(String) },
          { path: 'u_stickler_service', message: expect.any(String) },
        ],
      }),
    );
    // Not an approval: the column is not read.
    expect(
      readServiceNowChange(
        snow({ u_stickler_plan: 'plan-7', previous_approval: 'approved', approval: 'rejected' }),
        DEFAULT_SERVICENOW_FIELDS,
      ).verdict,
    ).toMatchObject({ kind: 'withdrawn' });
  });
});
