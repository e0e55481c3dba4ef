import { parseRecord } from '../../lib/app/process-change-requests';
import { aChangeRequest } from '../helpers/factories';

const envelope = (detail: unknown) =>
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
  });

describe('parseRecord', () => {
  it('reads a change request out of its EventBridge envelope', () => {
    const request = aChangeRequest({ requestId: 'ok-1' });
    expect(parseRecord({ id: 'm', body: envelope(request), receiveCount: 1 })).toEqual({
      ok: true,
      key: 'ok-1',
      request,
    });
  });

  it('never quotes a notify URL in its error, which may work as a credential', () => {
    const secretUrl = 'http://hooks.slack.example/commands/T000/B000/very-secret-token';
    const parsed = parseRecord({
      id: 'm',
      body: envelope({
        ...aChangeRequest({ requestId: 'n-1' }),
        notify: { kind: 'slack-response-url', url: secretUrl },
      }),
      receiveCount: 1,
    });
    expect(parsed).toMatchObject({ ok: false, key: 'n-1' });
    const message = (parsed as { message: string }).message;
    expect(message).toContain('notify.url: invalid (the value is not shown: it may be a secret)');
    expect(message).not.toContain('very-secret-token');
  });

  it('says which fields are wrong and what was found, keyed by the request id when there is one', () => {
    const parsed = parseRecord({
      id: 'm',
      body: envelope({ ...aChangeRequest({ requestId: 'bad-1' }), farmId: 'twelve' }),
      receiveCount: 1,
    });
    expect(parsed).toMatchObject({
      ok: false,
      key: 'bad-1',
      message: 'invalid change request: farmId: expected number, got "twelve"',
    });
  });

  it('keys a record that is not JSON by its queue message id', () => {
    expect(parseRecord({ id: 'msg-9', body: '{', receiveCount: 1 })).toMatchObject({
      ok: false,
      key: 'record:msg-9',
      message: 'message body is not JSON',
    });
  });
});
