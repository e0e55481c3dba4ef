import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { errorFields, httpEdge, httpIn } from '../../../lib/adapters/http/http-edge';
import { SticklerError } from '../../../lib/domain/errors';
import { silentLog } from '../../helpers/fakes';

const event = (body: string, base64 = false): APIGatewayProxyEventV2 =>
  ({
    version: '2.0',
    rawPath: '/webhooks/generic',
    headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': 'sha256=ab' },
    body: base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: base64,
    requestContext: {},
  }) as unknown as APIGatewayProxyEventV2;

describe('httpEdge (the one HTTP edge of the HTTP functions)', () => {
  const build = (
    handler: (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>,
  ) => {
    const log = silentLog();
    const fn = middy(handler).use(httpEdge({ log, what: 'test', maxBodyBytes: 16 }));
    return {
      log,
      call: (e: APIGatewayProxyEventV2) => fn(e, {} as Context) as Promise<APIGatewayProxyStructuredResultV2>,
    };
  };

  it('hands the handler the exact bytes and lower-case headers, decoding base64', async () => {
    const seen: unknown[] = [];
    const { call } = build(async (_e, c) => {
      seen.push(httpIn(c));
      return { statusCode: 200, body: '' };
    });
    await call(event('{"a":"é"}', true));
    expect(seen).toEqual([
      {
        path: '/webhooks/generic',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': 'sha256=ab' },
        body: Buffer.from('{"a":"é"}'),
      },
    ]);
  });

  it('refuses a body over the limit with 413 before the handler runs', async () => {
    let ran = false;
    const { call } = build(async () => {
      ran = true;
      return { statusCode: 200, body: '' };
    });
    const answer = await call(event('x'.repeat(40), true));
    expect([answer.statusCode, ran]).toEqual([413, false]);
  });

  it("maps the handler's errors to answers, and logs the function's own failures as objects with their cause", async () => {
    const { call, log } = build(async () => {
      throw new SticklerError('publish-failed', 'the bus refused', {
        retryable: true,
        cause: new Error('ThrottlingException'),
      });
    });
    const answer = await call(event('{}'));
    expect(answer.statusCode).toBe(503);
    expect(JSON.parse(answer.body!)).toEqual({
      error: 'unavailable',
      message: 'temporarily unavailable, try again later',
    });
    expect(log.lines).toEqual([expect.objectContaining({ level: 'error', message: 'test failed' })]);
    expect(errorFields(new SticklerError('x', 'outer', { cause: new Error('inner') }))).toEqual({
      name: 'SticklerError',
      message: 'outer',
      code: 'x',
      retryable: false,
      cause: { name: 'Error', message: 'inner' },
    });
  });
});
