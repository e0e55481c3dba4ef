import { hubSignature } from '../../lib/adapters/http/hub-signature';
import { readGenericTicket } from '../../lib/adapters/ticketing/generic';
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
