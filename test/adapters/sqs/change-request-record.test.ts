import {
  incomingRecord,
  parseCancelBody,
  parseChangeRequestBody,
} from '../../../lib/adapters/sqs/change-request-record';
import { REQUEST_ID_PATTERN } from '../../../lib/domain/change-request';
import { aChangeRequest } from '../../helpers/factories';

const envelope = (detail: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    version: '0',
    id: 'e-1',
    'detail-type': 'Stickiness Change Requested',
    source: 'acme.chat',
    account: '123456789012',
    time: '2026-11-25T10:00:00Z',
    region: 'eu-west-3',
    resources: [],
    detail,
    ...extra,
  });

describe('parseChangeRequestBody (SQS body → EventBridge envelope → change request)', () => {
  it('reads a change request out of its EventBridge envelope, with where it came from', () => {
    const request = aChangeRequest({ requestId: 'ok-1' });
    expect(parseChangeRequestBody('m', envelope(request))).toEqual({
      ok: true,
      key: 'ok-1',
      request,
      origin: { source: 'acme.chat', account: '123456789012', eventId: 'e-1' },
      contentHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('hashes the content of a request: the same whatever the key order or requestedAt, another for any other field', () => {
    const request = aChangeRequest({ requestId: 'h-1', reason: 'why' });
    const hash = (detail: object) =>
      (parseChangeRequestBody('m', envelope(detail)) as { contentHash: string }).contentHash;
    const reordered = Object.fromEntries(Object.entries(request).reverse());
    expect(hash(reordered)).toBe(hash(request));
    expect(hash({ ...request, requestedAt: '2026-11-25T09:59:00Z' })).toBe(hash(request));
    for (const other of [
      { stickiness: 'none' },
      { farmId: 2 },
      { reason: 'other' },
      { window: { notBefore: '2026-11-25T22:00:00Z' } },
    ])
      expect(hash({ ...request, ...other })).not.toBe(hash(request));
  });

  it('refuses a misspelled safety field by name instead of dropping it (changeWindow for window)', () => {
    const parsed = parseChangeRequestBody(
      'm',
      envelope({
        ...aChangeRequest({ requestId: 'w-1' }),
        changeWindow: { notBefore: '2026-11-25T22:00:00Z' },
      }),
    );
    expect(parsed).toMatchObject({ ok: false, key: 'w-1', code: 'invalid-request' });
    expect((parsed as { message: string }).message).toBe(
      "invalid change request: (root): unknown key 'changeWindow'",
    );
  });

  it('refuses unknown keys inside the window, the actor and notify too', () => {
    const parsed = parseChangeRequestBody(
      'm',
      envelope({
        ...aChangeRequest({ requestId: 'w-2' }),
        window: { notBefore: '2026-11-25T22:00:00Z', notafter: '2026-11-25T23:00:00Z' },
        actor: { kind: 'system', id: 'x', role: 'admin' },
      }),
    );
    const message = (parsed as { message: string }).message;
    expect(message).toContain("window: unknown key 'notafter'");
    expect(message).toContain("actor: unknown key 'role'");
  });

  it('never quotes a notify URL in its error, which may work as a credential', () => {
    const secretUrl = 'http://hooks.slack.example/commands/T000/B000/very-secret-token';
    const parsed = parseChangeRequestBody(
      'm',
      envelope({
        ...aChangeRequest({ requestId: 'n-1' }),
        notify: { kind: 'slack-response-url', url: secretUrl },
      }),
    );
    expect(parsed).toMatchObject({ ok: false, key: 'n-1' });
    const message = (parsed as { message: string }).message;
    expect(message).toContain('notify.url: invalid (the value is not shown: it may be a secret)');
    expect(message).not.toContain('very-secret-token');
  });

  it('says which fields are wrong and what was found, keyed by the request id when there is one', () => {
    expect(
      parseChangeRequestBody('m', envelope({ ...aChangeRequest({ requestId: 'bad-1' }), farmId: 'twelve' })),
    ).toMatchObject({
      ok: false,
      key: 'bad-1',
      message: 'invalid change request: farmId: expected number, got "twelve"',
    });
  });

  it.each([
    ['10 KB long', 'x'.repeat(10_000)],
    ['whitespace only', '   '],
    ['with a newline', 'req\n1'],
    ['starting with punctuation', ':farm'],
  ])('refuses a request id %s, and keys the refusal by the event id instead', (_, requestId) => {
    const parsed = parseChangeRequestBody('m', envelope({ ...aChangeRequest(), requestId }));
    expect(parsed).toMatchObject({ ok: false, key: '~event:e-1', code: 'invalid-request' });
    expect((parsed as { message: string }).message).toContain('requestId: must be 1 to 128 characters');
    expect(JSON.stringify(parsed).length).toBeLessThan(4_000);
  });

  it('accepts ids shaped like other key spaces: they are kept apart by the store, not by the alphabet', () => {
    const request = aChangeRequest({ requestId: 'farm:lb-1/http/101' });
    expect(parseChangeRequestBody('m', envelope(request))).toMatchObject({
      ok: true,
      key: 'farm:lb-1/http/101',
    });
  });

  it('refuses an event replayed from the archive, however valid', () => {
    const parsed = parseChangeRequestBody(
      'm',
      envelope(aChangeRequest({ requestId: 'r-1' }), { 'replay-name': 'incident-42' }),
    );
    expect(parsed).toMatchObject({ ok: false, key: 'r-1', code: 'replayed' });
    expect((parsed as { message: string }).message).toMatch(/replayed from the archive/);
  });

  it('keys a record that is not JSON by its queue message id', () => {
    expect(parseChangeRequestBody('msg-9', '{')).toMatchObject({
      ok: false,
      key: '~record:msg-9',
      message: 'message body is not JSON',
    });
  });

  it('orders by the SentTimestamp SQS set, never by anything a publisher wrote', () => {
    const record = incomingRecord({
      messageId: 'm-1',
      receiptHandle: 'h',
      body: envelope(aChangeRequest({ requestId: 'o-1', requestedAt: '2099-01-01T00:00:00Z' }), {
        time: '2099-01-01T00:00:00Z',
      }),
      attributes: {
        ApproximateReceiveCount: '3',
        SentTimestamp: '1764064800000',
        SenderId: 'x',
        ApproximateFirstReceiveTimestamp: '1764064800100',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-west-3:123456789012:q',
      awsRegion: 'eu-west-3',
    });
    expect(record).toMatchObject({ recordId: 'm-1', receiveCount: 3, sentAt: new Date(1764064800000) });
  });
});

describe('record keys', () => {
  const envelope = (detailType: string, detail: unknown, id = 'e-1') =>
    JSON.stringify({
      version: '0',
      id,
      'detail-type': detailType,
      source: 'acme.ticketing',
      account: '123456789012',
      time: '2026-11-25T10:00:00Z',
      region: 'eu-west-3',
      resources: [],
      detail,
    });

  it('never gives a change request the key of a cancel or of a message without a usable id: those keys are outside the request-id alphabet', () => {
    const cancel = parseCancelBody(
      'm-1',
      envelope('Stickiness Change Cancel Requested', {
        cancelId: 'c-9',
        requestId: 'r-1',
        actor: { kind: 'cli', id: 'x' },
      }),
    );
    const request = parseChangeRequestBody(
      'm-2',
      envelope('Stickiness Change Requested', aChangeRequest({ requestId: 'cancel:c-9' })),
    );
    expect(request.key).toBe('cancel:c-9');
    expect(cancel.key).toBe('~cancel:c-9');
    const keys = [
      cancel.key,
      parseCancelBody('m-3', envelope('Stickiness Change Cancel Requested', {})).key,
      parseCancelBody('m-4', 'not json').key,
      parseChangeRequestBody('m-5', envelope('Stickiness Change Requested', { requestId: 'bad id' })).key,
      parseChangeRequestBody('m-6', 'not json').key,
    ];
    for (const key of keys) expect(REQUEST_ID_PATTERN.test(key)).toBe(false);
  });
});
