import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { PutEventsRequestEntry } from '../../lib/adapters/eventbridge/eventbridge-publisher';
import { hubSignature } from '../../lib/adapters/http/hub-signature';
import { CancelRequestedDetailSchema, ChangeRequestedDetailSchema } from '../../lib/domain/events';
import { startDynalite } from '../../lib/local/dynalite';
import { localWebhookSecret, makeTicketingWebhookHandler } from '../../lib/wiring/ticketing-webhook';
import { TEST_AWS_CREDENTIALS } from '../helpers/aws-signature';
import { loadEvent, loadFreshWebhookEvent } from '../helpers/events';
import { type FakeAws, startFakeAws } from '../helpers/fake-aws';

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;
const context = {
  functionName: 'stickler-test-ticketing-webhook',
  awsRequestId: 'r-1',
} as unknown as Context;

/** The sample with its body replaced and signed again, as the sender would. */
const resigned = (
  event: APIGatewayProxyEventV2,
  body: string,
  secret: string,
  header = 'x-hub-signature-256',
): APIGatewayProxyEventV2 => ({
  ...event,
  body: event.isBase64Encoded ? Buffer.from(body).toString('base64') : body,
  headers: { ...event.headers, [header]: hubSignature(body, secret) },
});
const bodyOf = (event: APIGatewayProxyEventV2) =>
  Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8').toString('utf8');

describe('ticketing-webhook handler (real envelopes, EventBridge and SSM over HTTP)', () => {
  let eventBridge: FakeAws;
  let ssm: FakeAws;
  let published: PutEventsRequestEntry[];
  const baseEnv = () => ({
    AWS_REGION: 'eu-west-3',
    AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.url,
    AWS_ENDPOINT_URL_SSM: ssm.url,
    EVENT_BUS_NAME: 'stickler-test',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  let local: Handler;
  beforeAll(async () => {
    eventBridge = await startFakeAws({ service: 'events' });
    ssm = await startFakeAws({ service: 'ssm' });
    local = makeTicketingWebhookHandler({ ...baseEnv(), STAGE: 'local' }) as unknown as Handler;
  });
  afterAll(async () => {
    await eventBridge.close();
    await ssm.close();
  });
  beforeEach(() => {
    published = [];
    eventBridge.reset();
    eventBridge.on('AWSEvents.PutEvents', (input) => {
      const entries = (input as { Entries: PutEventsRequestEntry[] }).Entries;
      published.push(...entries);
      return { body: { FailedEntryCount: 0, Entries: entries.map((_, i) => ({ EventId: `e-${i}` })) } };
    });
  });
  const json = (answer: APIGatewayProxyStructuredResultV2) => JSON.parse(answer.body ?? '{}');
  const details = () => published.map((e) => JSON.parse(e.Detail!));

  it('turns a signed generic ticket into one change request on the bus and answers 202 with its id', async () => {
    const answer = await local(loadFreshWebhookEvent('generic-signed'), context);
    expect(answer.statusCode).toBe(202);
    const { requestIds } = json(answer);
    expect(requestIds).toHaveLength(1);
    expect(published).toEqual([
      expect.objectContaining({
        EventBusName: 'stickler-test',
        Source: 'stickler.ticketing',
        DetailType: 'Stickiness Change Requested',
      }),
    ]);
    const [detail] = details();
    expect(ChangeRequestedDetailSchema.safeParse(detail).success).toBe(true);
    expect(detail).toMatchObject({
      requestId: requestIds[0],
      service: 'loadbalancer-7f3a9c21',
      farmType: 'http',
      farmId: 101,
      stickiness: 'cookie',
      ticket: 'OPS-1042',
      actor: { kind: 'ticket', id: 'generic:alice@example.com', name: 'Alice Martin' },
    });
  });

  it('gives the same signed bytes the same request ids whatever headers come with them (the worker makes a resend a no-op)', async () => {
    const sample = loadFreshWebhookEvent<APIGatewayProxyEventV2>('generic-signed');
    const first = json(await local(sample, context));
    for (const other of ['anything-else', 'd-7f1c2a9e', undefined]) {
      const headers = { ...sample.headers, 'x-delivery-id': other };
      const again = json(await local({ ...sample, headers }, context));
      expect(again.requestIds).toEqual(first.requestIds);
    }
    const jira = loadFreshWebhookEvent<APIGatewayProxyEventV2>('jira-approved');
    const jiraFirst = json(await local(jira, context));
    const jiraAgain = json(
      await local(
        { ...jira, headers: { ...jira.headers, 'x-atlassian-webhook-identifier': '99999' } },
        context,
      ),
    );
    expect(jiraAgain.requestIds).toEqual(jiraFirst.requestIds);
    // Every copy published the same requests, to the letter: the worker keeps one.
    expect(new Set(published.map((e) => e.Detail)).size).toBe(3);
  });

  it('answers a resend of signed bytes already acted on as before, and publishes nothing (the delivery log)', async () => {
    const db = await startDynalite('webhook-deliveries');
    try {
      const withLog = makeTicketingWebhookHandler({
        ...baseEnv(),
        STAGE: 'local',
        IDEMPOTENCY_TABLE: 'webhook-deliveries',
        AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
      }) as unknown as Handler;
      const sample = loadFreshWebhookEvent<APIGatewayProxyEventV2>('jira-approved');
      const first = await withLog(sample, context);
      expect(first.statusCode).toBe(202);
      const count = published.length;
      const again = await withLog(
        { ...sample, headers: { ...sample.headers, 'x-atlassian-webhook-identifier': 'replayed-1' } },
        context,
      );
      expect([again.statusCode, json(again)]).toEqual([202, json(first)]);
      expect(published.length).toBe(count);
      // A withdrawal is kept too; an ignored delivery is not (nothing was published for it).
      const withdrawn = loadFreshWebhookEvent<APIGatewayProxyEventV2>('jira-approval-withdrawn');
      await withLog(withdrawn, context);
      await withLog(withdrawn, context);
      expect(published.filter((e) => e.DetailType === 'Stickiness Change Cancel Requested')).toHaveLength(1);
    } finally {
      await db.close();
    }
  });

  it('gives other signed content other ids (a new sending of a ticket is a new request)', async () => {
    const a = json(await local(loadFreshWebhookEvent('generic-signed', Date.now() - 60_000), context));
    const b = json(await local(loadFreshWebhookEvent('generic-signed'), context));
    expect(a.requestIds[0]).not.toEqual(b.requestIds[0]);
  });

  it('reads a base64-encoded body, several farms and a window', async () => {
    const sample = loadFreshWebhookEvent<APIGatewayProxyEventV2>('generic-two-farms-base64');
    const ticket = JSON.parse(bodyOf(sample));
    ticket.window = { notBefore: new Date(Date.now() + 3_600_000).toISOString() };
    const answer = await local(
      resigned(sample, JSON.stringify(ticket), localWebhookSecret('generic')),
      context,
    );
    expect(answer.statusCode).toBe(202);
    expect(details().map((d) => [d.farmId, d.window?.notBefore])).toEqual([
      [111, ticket.window.notBefore],
      [112, ticket.window.notBefore],
    ]);
  });

  it('turns a Jira issue moved into an approved status into one request per farm named in its fields, requested by its reporter', async () => {
    const event = loadFreshWebhookEvent<APIGatewayProxyEventV2>('jira-approved');
    const answer = await local(event, context);
    expect(answer.statusCode).toBe(202);
    // Requested at the time Jira signed, so that a resend is the same request.
    expect(details()[0].requestedAt).toBe(new Date(JSON.parse(event.body!).timestamp).toISOString());
    expect(details()[0].notify).toEqual({ kind: 'ticket', system: 'jira' });
    expect(details().map((d) => [d.service, d.farmType, d.farmId, d.stickiness, d.ticket])).toEqual([
      ['loadbalancer-7f3a9c21', 'http', 102, 'cookie', 'KAN-3'],
      ['loadbalancer-7f3a9c21', 'http', 104, 'cookie', 'KAN-3'],
    ]);
    expect(details()[0].actor).toEqual({
      kind: 'ticket',
      id: 'jira:712020:28d10afc-d4b0-47f2-b86f-74d9a5f29c81',
      name: 'Pritesh Shetty',
    });
  });

  it('acknowledges a Jira issue moved into a status that is not approved with 200 and publishes nothing', async () => {
    const answer = await local(loadFreshWebhookEvent('jira-not-approved'), context);
    expect(answer.statusCode).toBe(200);
    expect(json(answer)).toEqual({
      requestIds: [],
      ignored: expect.stringContaining("moved from 'To Do' to 'Awaiting approval': not an approval"),
    });
    expect(published).toEqual([]);
  });

  it("ignores a comment on an approved issue (stickler's own outcome comment coming back): 200, nothing published", async () => {
    for (let round = 0; round < 3; round++) {
      const answer = await local(loadFreshWebhookEvent('jira-commented'), context);
      expect([answer.statusCode, json(answer).ignored]).toEqual([200, expect.stringContaining('a comment')]);
    }
    expect(published).toEqual([]);
  });

  it('ignores an edit of the change after its approval, saying so: only what was approved is carried out', async () => {
    const answer = await local(loadFreshWebhookEvent('jira-edited-after-approval'), context);
    expect(answer.statusCode).toBe(200);
    expect(json(answer).ignored).toMatch(/edited after its approval \(Stickler farms\)/);
    expect(published.filter((e) => e.DetailType === 'Stickiness Change Requested')).toEqual([]);
  });

  it('ignores every Jira event but the move into an approved status: a creation, a comment event, a move between approved statuses', async () => {
    const sample = loadFreshWebhookEvent<APIGatewayProxyEventV2>('jira-approved');
    const body = JSON.parse(sample.body!);
    const variants = [
      { ...body, webhookEvent: 'jira:issue_created' },
      { ...body, webhookEvent: 'comment_created' },
      {
        ...body,
        changelog: {
          id: '10600',
          items: [{ field: 'status', fieldId: 'status', fromString: 'Approved', toString: 'Implementing' }],
        },
      },
    ];
    for (const variant of variants) {
      const answer = await local(
        resigned(sample, JSON.stringify(variant), localWebhookSecret('jira'), 'x-hub-signature'),
        context,
      );
      expect([answer.statusCode, json(answer).requestIds]).toEqual([200, []]);
    }
    expect(published).toEqual([]);
  });

  it("publishes a cancel of the ticket's waiting requests when a Jira issue leaves its approved status", async () => {
    const answer = await local(loadFreshWebhookEvent('jira-approval-withdrawn'), context);
    expect(answer.statusCode).toBe(202);
    const body = json(answer);
    expect(body).toEqual({
      requestIds: [],
      cancelId: expect.stringMatching(/^tkt-cancel-[0-9a-f]{40}$/),
      withdrawn: expect.stringContaining("moved from 'Approved' to 'Declined'"),
    });
    expect(published).toEqual([
      expect.objectContaining({
        Source: 'stickler.ticketing',
        DetailType: 'Stickiness Change Cancel Requested',
      }),
    ]);
    expect(details()[0]).toMatchObject({ cancelId: body.cancelId, ticket: { system: 'jira', key: 'KAN-3' } });
    expect(CancelRequestedDetailSchema.safeParse(details()[0]).success).toBe(true);
  });

  it('cancels the waiting requests of a deleted Jira issue', async () => {
    const sample = loadFreshWebhookEvent<APIGatewayProxyEventV2>('jira-approved');
    const body = { ...JSON.parse(sample.body!), webhookEvent: 'jira:issue_deleted' };
    const answer = await local(
      resigned(sample, JSON.stringify(body), localWebhookSecret('jira'), 'x-hub-signature'),
      context,
    );
    expect([answer.statusCode, json(answer).withdrawn]).toEqual([
      202,
      expect.stringContaining('was deleted'),
    ]);
    expect(published.map((e) => e.DetailType)).toEqual(['Stickiness Change Cancel Requested']);
  });

  it('reads the plan field TICKETING_JIRA_FIELDS names: 400 naming it when it is no digest, 422 when no plan can be read', async () => {
    const handler = makeTicketingWebhookHandler({
      ...baseEnv(),
      STAGE: 'local',
      TICKETING_JIRA_FIELDS: JSON.stringify({
        service: 'customfield_10100',
        farms: 'customfield_10101',
        stickiness: 'customfield_10102',
        plan: 'customfield_10106',
      }),
    }) as unknown as Handler;
    const send = async (value: string) => {
      const jira = loadFreshWebhookEvent<APIGatewayProxyEventV2>('jira-approved');
      const body = JSON.parse(jira.body!);
      for (const id of ['customfield_10100', 'customfield_10101', 'customfield_10102'])
        delete body.issue.fields[id];
      body.issue.fields.customfield_10106 = value;
      return handler(
        resigned(jira, JSON.stringify(body), localWebhookSecret('jira'), 'x-hub-signature'),
        context,
      );
    };
    const bad = await send('plan-7');
    expect([bad.statusCode, json(bad).errors]).toEqual([
      400,
      [
        {
          path: 'issue.fields.customfield_10106',
          message: expect.stringContaining('64 lower-case hex digits'),
        },
      ],
    ]);
    // No table configured here: the webhook keeps no plans.
    const none = await send('ab'.repeat(32));
    expect([none.statusCode, json(none).errors]).toEqual([
      422,
      [{ path: 'issue.fields.customfield_10106', message: expect.stringContaining('keeps no saved plans') }],
    ]);
    // No change request: only the notice telling the issue why (the 422 reaches Jira, not its people).
    expect(published.map((e) => [e.DetailType, e.Source])).toEqual([
      ['Ticket Approval Refused', 'stickler.ticketing'],
    ]);
    expect(JSON.parse(published[0]!.Detail!)).toMatchObject({
      system: 'jira',
      ticket: 'KAN-3',
      message: expect.stringContaining('stickler did not act on this approval: the saved plan abab'),
    });
  });

  describe('a ticket that asks for the quietest time of its window', () => {
    const inAnHour = () => new Date(Date.now() + 3_600_000);
    /** Jira as `yyyy-MM-ddTHH:mm:ss.SSS+0000`, ServiceNow as `YYYY-MM-DD HH:MM:SS` (UTC). */
    const jiraTime = (d: Date) => d.toISOString().replace('Z', '+0000');
    const snTime = (d: Date) => d.toISOString().slice(0, 19).replace('T', ' ');
    const quietJira = () =>
      makeTicketingWebhookHandler({
        ...baseEnv(),
        STAGE: 'local',
        TICKETING_JIRA_FIELDS: JSON.stringify({
          service: 'customfield_10100',
          farms: 'customfield_10101',
          stickiness: 'customfield_10102',
          notAfter: 'customfield_10104',
          prefer: 'customfield_10105',
        }),
      }) as unknown as Handler;

    it('carries Jira’s configured field (text or select, any case) into the window', async () => {
      const end = inAnHour();
      const handler = quietJira();
      for (const value of ['quietest', { value: 'Quietest', id: '10050' }]) {
        published.length = 0;
        const jira = loadFreshWebhookEvent<APIGatewayProxyEventV2>('jira-approved');
        const body = JSON.parse(jira.body!);
        body.issue.fields.customfield_10104 = jiraTime(end);
        body.issue.fields.customfield_10105 = value;
        const answer = await handler(
          resigned(jira, JSON.stringify(body), localWebhookSecret('jira'), 'x-hub-signature'),
          context,
        );
        expect(answer.statusCode).toBe(202);
        expect(details().map((d) => d.window)).toEqual([
          { notAfter: end.toISOString(), prefer: 'quietest' },
          { notAfter: end.toISOString(), prefer: 'quietest' },
        ]);
      }
    });

    it('carries ServiceNow’s column (u_stickler_prefer by default), and the generic window.prefer', async () => {
      const end = inAnHour();
      const sn = loadFreshWebhookEvent<APIGatewayProxyEventV2>('servicenow-approved');
      const record = JSON.parse(sn.body!);
      record.result.end_date = snTime(end);
      record.result.u_stickler_prefer = 'quietest';
      expect(
        (await local(resigned(sn, JSON.stringify(record), localWebhookSecret('servicenow')), context))
          .statusCode,
      ).toBe(202);
      expect(details()[0].window).toEqual({
        notAfter: new Date(Math.floor(end.getTime() / 1000) * 1000).toISOString(),
        prefer: 'quietest',
      });
      published.length = 0;
      const sample = loadFreshWebhookEvent<APIGatewayProxyEventV2>('generic-signed');
      const ticket = JSON.parse(bodyOf(sample));
      ticket.window = { notAfter: end.toISOString(), prefer: 'quietest' };
      const answer = await local(
        resigned(sample, JSON.stringify(ticket), localWebhookSecret('generic')),
        context,
      );
      expect(answer.statusCode).toBe(202);
      expect(details()[0].window).toEqual({ notAfter: end.toISOString(), prefer: 'quietest' });
    });

    it('refuses 400 a preference it does not know, naming the field, and one without an end to its window', async () => {
      const jira = loadFreshWebhookEvent<APIGatewayProxyEventV2>('jira-approved');
      const body = JSON.parse(jira.body!);
      body.issue.fields.customfield_10104 = jiraTime(inAnHour());
      body.issue.fields.customfield_10105 = 'quiet';
      const jiraAnswer = await quietJira()(
        resigned(jira, JSON.stringify(body), localWebhookSecret('jira'), 'x-hub-signature'),
        context,
      );
      expect(jiraAnswer.statusCode).toBe(400);
      expect(json(jiraAnswer).errors).toEqual([
        { path: 'issue.fields.customfield_10105', message: expect.stringContaining('expected quietest') },
      ]);
      const sn = loadFreshWebhookEvent<APIGatewayProxyEventV2>('servicenow-approved');
      const record = JSON.parse(sn.body!);
      record.result.end_date = snTime(inAnHour());
      record.result.u_stickler_prefer = 'asap';
      const snAnswer = await local(
        resigned(sn, JSON.stringify(record), localWebhookSecret('servicenow')),
        context,
      );
      expect(snAnswer.statusCode).toBe(400);
      expect(json(snAnswer).errors).toEqual([
        { path: 'u_stickler_prefer', message: expect.stringContaining('expected quietest') },
      ]);
      const sample = loadFreshWebhookEvent<APIGatewayProxyEventV2>('generic-signed');
      for (const window of [{ notAfter: inAnHour().toISOString(), prefer: 'soon' }, { prefer: 'quietest' }]) {
        const ticket = { ...JSON.parse(bodyOf(sample)), window };
        const answer = await local(
          resigned(sample, JSON.stringify(ticket), localWebhookSecret('generic')),
          context,
        );
        expect(answer.statusCode).toBe(400);
        expect(JSON.stringify(json(answer).errors)).toContain('window');
      }
      expect(published).toEqual([]);
    });
  });

  it('refuses 400 a ticket window it cannot read, naming the field, rather than applying at once', async () => {
    const jira = loadFreshWebhookEvent<APIGatewayProxyEventV2>('jira-approved');
    for (const value of ['next tuesday', 1797000000000, '2026-12-24']) {
      const body = JSON.parse(jira.body!);
      body.issue.fields.customfield_10103 = value;
      const answer = await local(
        resigned(jira, JSON.stringify(body), localWebhookSecret('jira'), 'x-hub-signature'),
        context,
      );
      expect(answer.statusCode).toBe(400);
      expect(json(answer).errors).toEqual([
        {
          path: 'issue.fields.customfield_10103',
          message: expect.stringContaining('expected a date-time with its offset'),
        },
      ]);
    }
    const sn = loadFreshWebhookEvent<APIGatewayProxyEventV2>('servicenow-approved');
    for (const [field, value] of [
      ['start_date', '2026-12-07T18:00:00Z'],
      ['start_date', '07/12/2026 18:00'],
      ['end_date', 'tomorrow'],
    ] as const) {
      const body = JSON.parse(sn.body!);
      body.result[field] = value;
      const answer = await local(
        resigned(sn, JSON.stringify(body), localWebhookSecret('servicenow')),
        context,
      );
      expect(answer.statusCode).toBe(400);
      expect(json(answer).errors).toEqual([
        { path: field, message: expect.stringContaining('YYYY-MM-DD HH:MM:SS') },
      ]);
    }
    expect(published).toEqual([]);
  });

  it('refuses 400 a generic ticket naming the same farm twice, whatever the targets', async () => {
    const sample = loadFreshWebhookEvent<APIGatewayProxyEventV2>('generic-signed');
    const ticket = JSON.parse(sample.body!);
    const { service, farmType, farmId, stickiness, ...rest } = ticket;
    const twice = {
      ...rest,
      changes: [
        { service, farmType, farmId, stickiness },
        { service, farmType, farmId, stickiness: 'sourceIp' },
      ],
    };
    const answer = await local(
      resigned(sample, JSON.stringify(twice), localWebhookSecret('generic')),
      context,
    );
    expect(answer.statusCode).toBe(400);
    expect(json(answer).errors).toEqual([
      { path: 'changes[1]', message: expect.stringContaining('one change per farm') },
    ]);
    expect(published).toEqual([]);
  });

  it('never echoes a bidi control it was sent in an error', async () => {
    const jira = loadFreshWebhookEvent<APIGatewayProxyEventV2>('jira-approved');
    const body = JSON.parse(jira.body!);
    body.issue.key = 'OPS\u202e-1';
    const answer = await local(
      resigned(jira, JSON.stringify(body), localWebhookSecret('jira'), 'x-hub-signature'),
      context,
    );
    expect(answer.statusCode).toBe(400);
    expect(answer.body).not.toMatch(/\u202e/);
    expect(answer.body).toContain('\\\\u202e');
  });

  it('refuses 400 a Jira approval without its changelog id or its signed time, saying which is missing', async () => {
    const sample = loadFreshWebhookEvent<APIGatewayProxyEventV2>('jira-approved');
    const body = JSON.parse(sample.body!);
    const noId = { ...body, changelog: { items: body.changelog.items } };
    const noTime = { ...body };
    delete noTime.timestamp;
    for (const [variant, path] of [
      [noId, 'changelog.id'],
      [noTime, 'timestamp'],
    ] as const) {
      const answer = await local(
        resigned(sample, JSON.stringify(variant), localWebhookSecret('jira'), 'x-hub-signature'),
        context,
      );
      expect(answer.statusCode).toBe(400);
      expect(json(answer).errors).toEqual([{ path, message: expect.stringMatching(/^missing/) }]);
    }
    expect(published).toEqual([]);
  });

  it('refuses 400 a Jira issue key that is not one (it goes in a URL path when the outcome is posted)', async () => {
    const sample = loadFreshWebhookEvent<APIGatewayProxyEventV2>('jira-approved');
    const body = JSON.parse(sample.body!);
    body.issue.key = '../../rest/api/3/myself';
    const answer = await local(
      resigned(sample, JSON.stringify(body), localWebhookSecret('jira'), 'x-hub-signature'),
      context,
    );
    expect(answer.statusCode).toBe(400);
    expect(json(answer).errors[0]).toMatchObject({
      path: 'ticket',
      message: expect.stringContaining('Jira issue key'),
    });
    expect(published).toEqual([]);
  });

  it('ignores a delivery whose own signed time is over a day old (a replay), and publishes nothing', async () => {
    const stale = await local(loadEvent('ticketing-webhook', 'jira-approved'), context); // stamped April 2026
    expect(stale.statusCode).toBe(200);
    expect(json(stale).ignored).toMatch(/more than a day from now/);
    const old = await local(loadEvent('ticketing-webhook', 'servicenow-approved'), context); // stamped 2015
    expect(json(old).requestIds).toEqual([]);
    const generic = loadFreshWebhookEvent<APIGatewayProxyEventV2>('generic-signed');
    const replayed = {
      ...JSON.parse(generic.body!),
      sentAt: new Date(Date.now() - 2 * 86_400_000).toISOString(),
    };
    const answer = await local(
      resigned(generic, JSON.stringify(replayed), localWebhookSecret('generic')),
      context,
    );
    expect([answer.statusCode, json(answer).requestIds]).toEqual([200, []]);
    expect(published).toEqual([]);
  });

  it('ignores a ServiceNow update whose approval did not change (a work note through an unconditioned rule)', async () => {
    const answer = await local(loadFreshWebhookEvent('servicenow-work-note'), context);
    expect([answer.statusCode, json(answer).ignored]).toEqual([
      200,
      expect.stringContaining('not an approval'),
    ]);
    expect(published).toEqual([]);
  });

  it('refuses 400 a ServiceNow payload without sys_updated_on (no replay window) or previous_approval', async () => {
    const sample = loadFreshWebhookEvent<APIGatewayProxyEventV2>('servicenow-approved');
    for (const field of ['sys_updated_on', 'previous_approval']) {
      const body = JSON.parse(sample.body!);
      delete body.result[field];
      const answer = await local(
        resigned(sample, JSON.stringify(body), localWebhookSecret('servicenow')),
        context,
      );
      expect(answer.statusCode).toBe(400);
      expect(json(answer).errors).toEqual([{ path: field, message: expect.stringMatching(/^missing/) }]);
    }
    expect(published).toEqual([]);
  });

  it('turns a ServiceNow change whose approval moved to approved into requests', async () => {
    const answer = await local(loadFreshWebhookEvent('servicenow-approved'), context);
    expect(answer.statusCode).toBe(202);
    expect(details()).toEqual([
      expect.objectContaining({
        service: 'loadbalancer-b81e0d44',
        farmType: 'tcp',
        farmId: 211,
        ticket: 'CHG0000023',
      }),
    ]);
  });

  describe('refusals change nothing and publish nothing', () => {
    const generic = () => loadFreshWebhookEvent<APIGatewayProxyEventV2>('generic-signed');
    const refused = async (event: APIGatewayProxyEventV2, status: number) => {
      const answer = await local(event, context);
      expect([answer.statusCode, published]).toEqual([status, []]);
      return json(answer);
    };

    it('401 for a missing signature, without saying why', async () => {
      const event = generic();
      delete event.headers['x-hub-signature-256'];
      expect(await refused(event, 401)).toEqual({ error: 'unauthorized', message: 'unauthorized' });
    });

    it('401 for a signature over other bytes (a re-serialised body) or under another secret', async () => {
      const event = generic();
      await refused({ ...event, body: JSON.stringify(JSON.parse(event.body!), null, 1) }, 401);
      await refused(resigned(event, event.body!, 'guessed-secret'), 401);
      // Jira signs X-Hub-Signature: a GitHub-style header does not stand in for it.
      const jira = loadFreshWebhookEvent<APIGatewayProxyEventV2>('jira-approved');
      const moved: Record<string, string | undefined> = {
        ...jira.headers,
        'x-hub-signature-256': jira.headers['x-hub-signature'],
      };
      delete moved['x-hub-signature'];
      await refused({ ...jira, headers: moved as APIGatewayProxyEventV2['headers'] }, 401);
    });

    it('413 for a body over 256 KiB, before its signature is even computed', async () => {
      const big = JSON.stringify({ ...JSON.parse(generic().body!), reason: 'x'.repeat(300 * 1024) });
      await refused(resigned(generic(), big, localWebhookSecret('generic')), 413);
    });

    it('415 for a body that is not JSON by its content type, 400 when it does not parse', async () => {
      const event = generic();
      await refused({ ...event, headers: { ...event.headers, 'content-type': 'text/plain' } }, 415);
      await refused(resigned(event, '{"ticket":', localWebhookSecret('generic')), 400);
    });

    it('400 with the fields that are wrong', async () => {
      const bad = { ...JSON.parse(generic().body!), farmId: 'one', stickiness: 'sticky', extra: 1 };
      const body = await refused(
        resigned(generic(), JSON.stringify(bad), localWebhookSecret('generic')),
        400,
      );
      expect(body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['', 'farmId', 'stickiness']);
    });

    it('422 when a farm cannot take the target (cookie on TCP), or the window has closed', async () => {
      const tcp = { ...JSON.parse(generic().body!), farmType: 'tcp', farmId: 201 };
      const body = await refused(
        resigned(generic(), JSON.stringify(tcp), localWebhookSecret('generic')),
        422,
      );
      expect(body.errors[0].message).toContain("'cookie' is not allowed on a TCP farm");
      const late = { ...JSON.parse(generic().body!), window: { notAfter: '2020-01-01T00:00:00Z' } };
      await refused(resigned(generic(), JSON.stringify(late), localWebhookSecret('generic')), 422);
    });

    it('404 for a source that does not exist', async () => {
      await refused({ ...generic(), pathParameters: { source: 'gitlab' }, rawPath: '/webhooks/gitlab' }, 404);
    });
  });

  describe('in a deployed stage, secrets come from SSM', () => {
    let deployed: Handler;
    beforeAll(() => {
      deployed = makeTicketingWebhookHandler({
        ...baseEnv(),
        STAGE: 'test',
        WEBHOOK_SECRET_PARAMETER_PREFIX: '/stickler/test/webhook-secret/',
      }) as unknown as Handler;
    });

    it('reads the source secret from its SecureString, and answers 404 for a source whose parameter does not exist', async () => {
      ssm.on('AmazonSSM.GetParameter', (input) =>
        input.Name === '/stickler/test/webhook-secret/generic'
          ? { body: { Parameter: { Value: 'deployed-secret', Type: 'SecureString' } } }
          : { status: 400, body: { __type: 'ParameterNotFound', message: 'not found' } },
      );
      const sample = loadFreshWebhookEvent<APIGatewayProxyEventV2>('generic-signed');
      expect((await deployed(resigned(sample, sample.body!, 'deployed-secret'), context)).statusCode).toBe(
        202,
      );
      expect((await deployed(sample, context)).statusCode).toBe(401); // signed with the local secret
      expect(
        (await deployed(loadEvent('ticketing-webhook', 'servicenow-approved'), context)).statusCode,
      ).toBe(404);
    });
  });

  it('answers 503 when the bus refuses, so the ticketing system retries (same ids)', async () => {
    eventBridge.on('AWSEvents.PutEvents', () => ({
      status: 500,
      body: { __type: 'InternalException', message: 'x' },
    }));
    const answer = await local(loadFreshWebhookEvent('generic-signed'), context);
    expect(answer.statusCode).toBe(503);
    expect(answer.headers?.['retry-after']).toBe('30');
  });
});
