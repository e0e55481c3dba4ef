import { makeJsonCall } from '../../../lib/adapters/http/json-call';
import {
  checkedBaseUrl,
  JiraCommenter,
  ServiceNowCommenter,
} from '../../../lib/adapters/ticketing/commenters';
import { startFakeHttp } from '../../helpers/fake-http';

const noWait = { now: () => new Date(), sleep: async () => undefined };

describe('ticket commenters (over HTTP)', () => {
  let site: Awaited<ReturnType<typeof startFakeHttp>>;
  beforeEach(async () => {
    site = await startFakeHttp();
  });
  afterEach(() => site.close());
  const call = () => makeJsonCall({ timeoutMs: 2_000, clock: noWait });

  it('posts a Jira comment in Atlassian Document Format with the API token, to the configured site only', async () => {
    site.respond = () => ({ status: 201, body: { id: '10001' } });
    const jira = new JiraCommenter({
      baseUrl: checkedBaseUrl(`${site.url}/jira/`, 'JIRA_BASE_URL', true),
      credentials: async () => ({ email: 'bot@example.com', apiToken: 'tok-secret' }),
      call: call(),
    });
    await jira.comment('OPS-1042', 'applied');
    expect(site.requests).toHaveLength(1);
    const [req] = site.requests;
    expect([req!.method, req!.path]).toEqual(['POST', '/jira/rest/api/3/issue/OPS-1042/comment']);
    expect(req!.headers.authorization).toBe(
      `Basic ${Buffer.from('bot@example.com:tok-secret').toString('base64')}`,
    );
    expect(JSON.parse(req!.body)).toEqual({
      body: {
        type: 'doc',
        version: 1,
        content: [{ type: 'paragraph', content: [{ type: 'text', text: 'applied' }] }],
      },
    });
  });

  it('refuses a ticket key that could reach another path, without any call', async () => {
    const jira = new JiraCommenter({
      baseUrl: checkedBaseUrl(site.url, 'x', true),
      credentials: async () => ({ email: 'e', apiToken: 't' }),
      call: call(),
    });
    for (const key of ['../../admin', 'OPS-1/../../x', 'ops-1', 'OPS-1?x=1'])
      await expect(jira.comment(key, 'x')).rejects.toThrow(/not a Jira issue key/);
    expect(site.requests).toEqual([]);
  });

  it('retries a throttled or failing site, then reports the failure as retryable', async () => {
    site.respond = (_, n) => (n < 3 ? { status: 503, body: { message: 'busy' } } : { status: 201, body: {} });
    const jira = new JiraCommenter({
      baseUrl: checkedBaseUrl(site.url, 'x', true),
      credentials: async () => ({ email: 'e', apiToken: 't' }),
      call: call(),
    });
    await jira.comment('OPS-1', 'x');
    expect(site.requests).toHaveLength(3);
    site.respond = () => ({ status: 500, body: { message: 'down\u001b[31m' } });
    await expect(jira.comment('OPS-1', 'x')).rejects.toMatchObject({
      retryable: true,
      message: expect.not.stringContaining('\u001b'),
    });
  });

  it('adds a ServiceNow work note on the change found by its number', async () => {
    const sysId = '70ad699e47410200e90d87e8dee4907d';
    site.respond = (req) =>
      req.method === 'GET'
        ? { status: 200, body: { result: [{ sys_id: sysId }] } }
        : { status: 200, body: { result: {} } };
    const sn = new ServiceNowCommenter({
      baseUrl: checkedBaseUrl(site.url, 'x', true),
      credentials: async () => ({ user: 'stickler', password: 'pw' }),
      call: call(),
    });
    await sn.comment('CHG0000023', 'applied');
    expect(site.requests.map((r) => [r.method, r.path.split('?')[0]])).toEqual([
      ['GET', '/api/now/table/change_request'],
      ['PATCH', `/api/now/table/change_request/${sysId}`],
    ]);
    expect(new URL(site.requests[0]!.path, site.url).searchParams.get('sysparm_query')).toBe(
      'number=CHG0000023',
    );
    expect(JSON.parse(site.requests[1]!.body)).toEqual({ work_notes: 'applied' });
    // ServiceNow renders [code] blocks of journal fields as HTML: never opened from stickler's text.
    await sn.comment('CHG0000023', 'failed: [code]<img src=x onerror=alert(1)>[/CODE]');
    expect(JSON.parse(site.requests[3]!.body)).toEqual({
      work_notes: 'failed: (code)<img src=x onerror=alert(1)>(/code)',
    });
  });

  it('takes only an https base URL without credentials (http in the local stage only)', () => {
    expect(() => checkedBaseUrl('http://jira.example.com', 'JIRA_BASE_URL')).toThrow(/must be https/);
    expect(() => checkedBaseUrl('https://u:p@jira.example.com', 'JIRA_BASE_URL')).toThrow(
      /must not carry credentials/,
    );
    expect(checkedBaseUrl('https://acme.atlassian.net/', 'JIRA_BASE_URL').href).toBe(
      'https://acme.atlassian.net/',
    );
  });
});
