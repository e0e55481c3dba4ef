import { makeJsonCall } from '../../../lib/adapters/http/json-call';
import { SlackIncomingWebhook } from '../../../lib/adapters/http/slack-incoming-webhook';
import { startFakeHttp } from '../../helpers/fake-http';

describe('Slack incoming webhook (report summaries)', () => {
  it('posts the text to the webhook, which answers plain "ok"', async () => {
    const slack = await startFakeHttp(() => ({ status: 200 }));
    try {
      const sink = new SlackIncomingWebhook({
        url: async () => `${slack.url}/services/T000/B000/secret`,
        call: makeJsonCall({ timeoutMs: 2_000 }),
        allowedOrigin: slack.url, // a test origin, by configuration
      });
      await sink.post('3 farms drifted');
      expect(slack.requests.map((r) => [r.method, r.path, JSON.parse(r.body)])).toEqual([
        ['POST', '/services/T000/B000/secret', { text: '3 farms drifted' }],
      ]);
    } finally {
      await slack.close();
    }
  });

  it('calls nothing but https://hooks.slack.com unless configured otherwise', async () => {
    const elsewhere = await startFakeHttp();
    try {
      const sink = new SlackIncomingWebhook({
        url: async () => `${elsewhere.url}/steal`,
        call: makeJsonCall(),
      });
      await expect(sink.post('x')).rejects.toThrow(
        'the Slack webhook URL must be on https://hooks.slack.com',
      );
      expect(elsewhere.requests).toEqual([]);
    } finally {
      await elsewhere.close();
    }
  });
});
