import { createServer, type RequestListener } from 'node:http';
import { HttpSlackResponder } from '../../../lib/adapters/slack/slack-responder';
import { startFakeHttp } from '../../helpers/fake-http';

describe('HttpSlackResponder (posts to a response_url)', () => {
  it('calls only https://hooks.slack.com by default, and nothing with credentials in it', () => {
    const responder = new HttpSlackResponder();
    expect(responder.allows('https://hooks.slack.com/commands/T1/2/abc')).toBe(true);
    for (const url of [
      'http://hooks.slack.com/commands/T1/2/abc',
      'https://hooks.slack.com.evil.example/x',
      'https://evil.example/https://hooks.slack.com/',
      'https://user:pw@hooks.slack.com/x',
      'https://hooks.slack.com:444/x',
      'not a url',
      '',
    ])
      expect([url, responder.allows(url)]).toEqual([url, false]);
  });

  it('posts the message as JSON, and names only the origin when Slack refuses (the path holds a token)', async () => {
    const slack = await startFakeHttp((_, n) =>
      n === 1 ? { status: 200 } : { status: 404, body: 'expired_url' },
    );
    try {
      const responder = new HttpSlackResponder({ allowedOrigin: slack.url });
      await responder.respond(`${slack.url}/commands/T1/2/secret-token`, {
        text: 'hi',
        response_type: 'ephemeral',
      });
      expect(JSON.parse(slack.requests[0]!.body)).toEqual({ text: 'hi', response_type: 'ephemeral' });
      const error = await responder
        .respond(`${slack.url}/commands/T1/2/secret-token`, { text: 'again' })
        .catch((e) => e);
      expect(error).toMatchObject({ code: 'slack-refused', retryable: false });
      expect(String(error.message)).toMatch(/HTTP 404 expired_url/);
      expect(String(error.message)).not.toContain('secret-token');
      expect(slack.requests).toHaveLength(2); // a 404 is not retried
    } finally {
      await slack.close();
    }
  });

  it('gives up after a timeout and a second attempt, and never follows a redirect', async () => {
    const listen = async (handler: RequestListener) => {
      const server = createServer(handler);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return { server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
    };
    const elsewhere = await startFakeHttp();
    let silentCalls = 0;
    const silent = await listen(() => {
      silentCalls++;
    });
    const redirect = await listen((_, res) => {
      res.writeHead(302, { location: `${elsewhere.url}/steal` });
      res.end();
    });
    try {
      const responder = new HttpSlackResponder({ allowedOrigin: silent.origin, timeoutMs: 100 });
      await expect(
        responder.respond(`${silent.origin}/commands/x/token`, { text: 'x' }),
      ).rejects.toMatchObject({
        code: 'timeout',
        message: `no answer from ${silent.origin} within 100 ms`,
      });
      // The second attempt was sent: the server may see it a moment after the client gave up.
      for (let waited = 0; silentCalls < 2 && waited < 2_000; waited += 20)
        await new Promise((r) => setTimeout(r, 20));
      expect(silentCalls).toBe(2);
      const redirecting = new HttpSlackResponder({ allowedOrigin: redirect.origin });
      await expect(redirecting.respond(`${redirect.origin}/moved`, { text: 'x' })).rejects.toMatchObject({
        code: 'network',
      });
      expect(elsewhere.requests).toEqual([]);
    } finally {
      for (const { server } of [silent, redirect]) {
        server.closeAllConnections();
        server.close();
      }
      await elsewhere.close();
    }
  });
});
