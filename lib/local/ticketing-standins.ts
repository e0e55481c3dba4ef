/**
 * Local stand-ins for a Jira site and a ServiceNow instance, for the notifier on the local
 * pipeline: they take what the real APIs take from stickler (Jira's REST API v3 comment, the
 * ServiceNow Table API's lookup by number and work-note PATCH), check its Basic credentials, keep
 * what they received, and tell it (the pipeline prints it with the bus), so that the README's
 * walk-throughs end with the comment a user would see on the ticket.
 */

import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { listenOn } from './listen';

export interface TicketNote {
  system: 'jira' | 'servicenow';
  ticket: string;
  text: string;
}

export interface TicketingStandIns {
  jira: { url: string; email: string; apiToken: string };
  servicenow: { url: string; user: string; password: string };
  notes: TicketNote[];
  close(): Promise<void>;
}

/** The sys_id the stand-in gives a change number: stable, 32 hex digits like ServiceNow's. */
export const standInSysId = (number: string) => createHash('md5').update(number).digest('hex');

const JIRA = { email: 'stickler@localhost', apiToken: 'stickler-local-jira-token' };
const SERVICENOW = { user: 'stickler', password: 'stickler-local-servicenow-password' };
const basic = (user: string, secret: string) =>
  `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

/** ADF's plain text: every text node, in order. */
const adfText = (node: unknown): string => {
  if (!node || typeof node !== 'object') return '';
  const n = node as { type?: unknown; text?: unknown; content?: unknown };
  if (n.type === 'text' && typeof n.text === 'string') return n.text;
  return Array.isArray(n.content) ? n.content.map(adfText).join('') : '';
};

export const startTicketingStandIns = async (
  onNote?: (note: TicketNote) => void,
  port = 0,
): Promise<TicketingStandIns> => {
  const notes: TicketNote[] = [];
  const sysIds = new Map<string, string>();
  const keep = (note: TicketNote) => {
    notes.push(note);
    onNote?.(note);
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json', 'X-Request-Id': randomUUID() });
        res.end(JSON.stringify(body));
      };
      const url = new URL(req.url ?? '/', 'http://localhost');
      const auth = req.headers.authorization;
      let body: unknown;
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      } catch {
        return reply(400, { errorMessages: ['the body is not JSON'] });
      }
      const comment = /^\/jira\/rest\/api\/3\/issue\/([A-Z][A-Z0-9_]*-[1-9]\d*)\/comment$/.exec(url.pathname);
      if (comment && req.method === 'POST') {
        if (auth !== basic(JIRA.email, JIRA.apiToken)) return reply(401, { errorMessages: ['unauthorized'] });
        const text = adfText((body as { body?: unknown })?.body);
        keep({ system: 'jira', ticket: comment[1]!, text });
        return reply(201, { id: String(notes.length), body: (body as { body?: unknown })?.body });
      }
      if (url.pathname.startsWith('/servicenow/')) {
        if (auth !== basic(SERVICENOW.user, SERVICENOW.password))
          return reply(401, { error: { message: 'User Not Authenticated' } });
        if (url.pathname === '/servicenow/api/now/table/change_request' && req.method === 'GET') {
          const number = /^number=([A-Z]{2,10}\d{4,12})$/.exec(
            url.searchParams.get('sysparm_query') ?? '',
          )?.[1];
          if (!number) return reply(200, { result: [] });
          const sysId = standInSysId(number);
          sysIds.set(sysId, number);
          return reply(200, { result: [{ sys_id: sysId }] });
        }
        const patch = /^\/servicenow\/api\/now\/table\/change_request\/([0-9a-f]{32})$/.exec(url.pathname);
        if (patch && req.method === 'PATCH') {
          const number = sysIds.get(patch[1]!);
          const text = (body as { work_notes?: unknown })?.work_notes;
          if (!number) return reply(404, { error: { message: 'No Record found' } });
          if (typeof text !== 'string') return reply(400, { error: { message: 'work_notes is required' } });
          keep({ system: 'servicenow', ticket: number, text });
          return reply(200, { result: { sys_id: patch[1], number } });
        }
      }
      reply(404, { errorMessages: [`${req.method} ${url.pathname} is not served by the local stand-in`] });
    });
  });
  const base = `http://127.0.0.1:${await listenOn(server, port, 'Jira and ServiceNow stand-ins')}`;
  return {
    jira: { url: `${base}/jira`, ...JIRA },
    servicenow: { url: `${base}/servicenow`, ...SERVICENOW },
    notes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};
