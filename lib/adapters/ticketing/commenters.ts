/**
 * Writing an outcome on the ticket it came from, at the base URL configured for that system
 * (never a URL from a payload): a Jira comment (REST API v3, an API token), a ServiceNow work note
 * (Table API). The ticket key is checked against the system's format before it goes in a path.
 */
import { ticketKeyProblem } from '../../domain/change-request';
import { InvalidInputError } from '../../domain/errors';
import type { TicketCommenter } from '../../ports/ticket-commenter';
import type { JsonCall } from '../http/json-call';

/** `path` under the base URL, by assignment (a relative `//x` would name another host). */
const under = (base: URL, path: string): URL => {
  const url = new URL(base.href);
  url.pathname = `${base.pathname.replace(/\/+$/, '')}${path}`;
  return url;
};

const basic = (user: string, secret: string) =>
  `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

/** An https base URL (http only where `allowHttp`, the local stage), without a trailing slash. */
export const checkedBaseUrl = (raw: string, what: string, allowHttp = false): URL => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidInputError(`${what} is not a URL`);
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:'))
    throw new InvalidInputError(`${what} must be https`);
  if (url.username || url.password) throw new InvalidInputError(`${what} must not carry credentials`);
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
};

export class JiraCommenter implements TicketCommenter {
  constructor(
    private readonly options: {
      baseUrl: URL;
      credentials: () => Promise<{ email: string; apiToken: string }>;
      call: JsonCall;
    },
  ) {}

  async comment(ticket: string, text: string): Promise<void> {
    if (ticketKeyProblem(ticket, 'jira'))
      throw new InvalidInputError(`'${ticket.slice(0, 40)}' is not a Jira issue key`);
    const { email, apiToken } = await this.options.credentials();
    const url = under(this.options.baseUrl, `/rest/api/3/issue/${ticket}/comment`);
    await this.options.call(
      'POST',
      url,
      { authorization: basic(email, apiToken) },
      {
        // Atlassian Document Format: one paragraph of plain text.
        body: {
          type: 'doc',
          version: 1,
          content: [{ type: 'paragraph', content: [{ type: 'text', text }] }],
        },
      },
    );
  }
}

export class ServiceNowCommenter implements TicketCommenter {
  constructor(
    private readonly options: {
      baseUrl: URL;
      credentials: () => Promise<{ user: string; password: string }>;
      call: JsonCall;
    },
  ) {}

  async comment(ticket: string, text: string): Promise<void> {
    if (ticketKeyProblem(ticket, 'servicenow'))
      throw new InvalidInputError(`'${ticket.slice(0, 40)}' is not a ServiceNow change number`);
    const { user, password } = await this.options.credentials();
    const auth = { authorization: basic(user, password) };
    const base = this.options.baseUrl;
    const find = under(base, '/api/now/table/change_request');
    find.search = new URLSearchParams({
      sysparm_query: `number=${ticket}`,
      sysparm_fields: 'sys_id',
      sysparm_limit: '1',
    }).toString();
    const found = await this.options.call<{ result?: { sys_id?: string }[] }>('GET', find, auth);
    const sysId = found?.result?.[0]?.sys_id;
    if (!sysId || !/^[0-9a-f]{32}$/.test(sysId))
      throw new InvalidInputError(`change ${ticket} was not found`);
    await this.options.call('PATCH', under(base, `/api/now/table/change_request/${sysId}`), auth, {
      // ServiceNow renders `[code]…[/code]` in journal fields as HTML: text from outside (an OVH
      // message, a farm's name) must never open such a block.
      work_notes: text.replace(/\[(\/?)code\]/gi, '($1code)'),
    });
  }
}
