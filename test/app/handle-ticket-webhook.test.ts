import { hubSignature } from '../../lib/adapters/http/hub-signature';
import { readGenericTicket } from '../../lib/adapters/ticketing/generic';
import { DEFAULT_JIRA_FIELDS, readJiraWebhook } from '../../lib/adapters/ticketing/jira';
import { makeHandleTicketWebhook } from '../../lib/app/handle-ticket-webhook';
import { makeRequestChanges } from '../../lib/app/request-changes';
import { FakeClock, InMemoryDeliveryLog, RecordingPublisher, silentLog } from '../helpers/fakes';

const SECRET = 'shh';

const setup = () => {
  const clock = new FakeClock();
  const publisher = new RecordingPublisher();
  const deliveries = new InMemoryDeliveryLog();
  const log = silentLog();
  const handle = makeHandleTicketWebhook({
    secretFor: async () => SECRET,
    verify: (_s, headers, body, secret) =>
      headers['x-hub-signature-256'] === hubSignature(body.toString(), secret),
    read: (_source, json, raw) => readGenericTicket(json, raw),
    requestChanges: makeRequestChanges({ publisher, clock }),
    publisher,
    deliveries,
    clock,
    log,
  });
  const body = Buffer.from(
    JSON.stringify({
      ticket: 'OPS-1',
      sentAt: clock.now().toISOString(),
      requestedBy: 'alice',
      service: 'lb-a',
      farmType: 'http',
      farmId: 1,
      stickiness: 'cookie',
    }),
  );
  const request = {
    source: 'generic',
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': hubSignature(body.toString(), SECRET),
    },
    body,
  };
  return { handle, publisher, deliveries, log, request };
};

describe('handleTicketWebhook and its delivery log', () => {
  it('publishes once for the same signed bytes, and answers the copy as the first', async () => {
    const h = setup();
    const first = await h.handle(h.request);
    const again = await h.handle({
      ...h.request,
      headers: { ...h.request.headers, 'x-delivery-id': 'other' },
    });
    expect(again).toEqual(first);
    expect(h.publisher.published).toHaveLength(1);
  });

  it('still acts on a delivery when the log cannot be read, and still answers when it cannot be written', async () => {
    const h = setup();
    h.deliveries.failures.fail('answered').fail('remember');
    const first = await h.handle(h.request);
    expect(first).toMatchObject({ kind: 'accepted', requestIds: [expect.any(String)] });
    // Unremembered: a resend publishes the same request again, which the worker ignores.
    expect(await h.handle(h.request)).toEqual(first);
    expect(h.publisher.published.map((e) => e.dedupeKey)).toEqual([first.requestIds[0], first.requestIds[0]]);
    expect(h.log.lines.filter((l) => l.level === 'warn')).toHaveLength(4);
  });

  it('keeps no answer for a delivery whose requests could not be published (the sender retries it)', async () => {
    const h = setup();
    h.publisher.refuse = () => true;
    await expect(h.handle(h.request)).rejects.toMatchObject({ code: 'publish-failed', retryable: true });
    expect(h.deliveries.answers.size).toBe(0);
    h.publisher.refuse = () => false;
    expect(await h.handle(h.request)).toMatchObject({ kind: 'accepted' });
  });
});

describe("handleTicketWebhook and the order of a ticket's transitions", () => {
  const jiraSetup = () => {
    const clock = new FakeClock();
    const publisher = new RecordingPublisher();
    const deliveries = new InMemoryDeliveryLog();
    const fields = { ...DEFAULT_JIRA_FIELDS };
    const handle = makeHandleTicketWebhook({
      secretFor: async () => SECRET,
      verify: (_s, headers, body, secret) =>
        headers['x-hub-signature'] === hubSignature(body.toString(), secret),
      read: (_source, json) => readJiraWebhook(json, fields),
      requestChanges: makeRequestChanges({ publisher, clock }),
      publisher,
      deliveries,
      clock,
      log: silentLog(),
    });
    const transition = (changelogId: string, from: string, to: string) => {
      const body = Buffer.from(
        JSON.stringify({
          timestamp: clock.t,
          webhookEvent: 'jira:issue_updated',
          issue: {
            id: '1',
            key: 'OPS-21',
            fields: {
              status: { name: to },
              summary: 'pin sessions',
              reporter: { accountId: 'a-1' },
              customfield_10100: 'lb-a',
              customfield_10101: 'tcp/211',
              customfield_10102: 'none',
            },
          },
          changelog: {
            id: changelogId,
            items: [{ field: 'status', fieldId: 'status', fromString: from, toString: to }],
          },
        }),
      );
      return handle({
        source: 'jira',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature': hubSignature(body.toString(), SECRET),
        },
        body,
      });
    };
    return { transition, publisher };
  };

  it('does not act on an approval delivered after a later withdrawal of the same ticket', async () => {
    const h = jiraSetup();
    expect(await h.transition('20201', 'Approved', 'Declined')).toMatchObject({ kind: 'withdrawn' });
    expect(await h.transition('20200', 'Awaiting approval', 'Approved')).toMatchObject({
      kind: 'ignored',
      ignored: expect.stringContaining('older than a later transition'),
    });
    expect(h.publisher.published.map((e) => e.detailType)).toEqual(['Stickiness Change Cancel Requested']);
  });

  it('does not let an older withdrawal delivered late cancel a newer approval', async () => {
    const h = jiraSetup();
    expect(await h.transition('80003', 'Awaiting approval', 'Approved')).toMatchObject({ kind: 'accepted' });
    expect(await h.transition('80002', 'Approved', 'Declined')).toMatchObject({ kind: 'ignored' });
    expect(h.publisher.published.map((e) => e.detailType)).toEqual(['Stickiness Change Requested']);
  });
});
