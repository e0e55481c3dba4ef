/**
 * The sample HTTP events under events/ (API Gateway payload 2.0, as the ticketing-webhook and slack
 * functions receive them) made sendable today: the sender's own signed time (Jira's `timestamp`,
 * ServiceNow's `sys_updated_on`, the generic `sentAt`, Slack's request timestamp) moved to now,
 * and the body signed again with the secret of its source, as the sender would. Used by
 * `stickler send` against the local pipeline, and by the tests.
 */
import { createHmac } from 'node:crypto';

export interface HttpSample {
  rawPath?: string;
  body?: string;
  isBase64Encoded: boolean;
  headers: Record<string, string | undefined>;
  pathParameters?: { source?: string };
}

/** `YYYY-MM-DD HH:MM:SS` in UTC, as ServiceNow's Table API writes times. */
const serviceNowTime = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

const bodyText = (event: HttpSample) =>
  Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8').toString('utf8');

const withBody = <T extends HttpSample>(event: T, text: string): T => {
  event.body = event.isBase64Encoded ? Buffer.from(text).toString('base64') : text;
  if (event.headers['content-length'] !== undefined)
    event.headers['content-length'] = String(Buffer.byteLength(text));
  return event;
};

/** Which kind of sample it is, from its path: a ticketing source, or Slack. */
export const sampleKind = (
  event: HttpSample,
): { kind: 'webhook'; source: string } | { kind: 'slack' } | undefined => {
  const path = event.rawPath ?? '';
  const source = event.pathParameters?.source ?? /^\/webhooks\/([^/]+)$/.exec(path)?.[1];
  if (source) return { kind: 'webhook', source };
  if (path.startsWith('/slack/')) return { kind: 'slack' };
  return undefined;
};

/**
 * A ticketing sample with its signed time moved to `now` and signed again with `secret`
 * (`X-Hub-Signature` for Jira, `X-Hub-Signature-256` for the others).
 */
export const freshWebhookSample = <T extends HttpSample>(event: T, secret: string, now = Date.now()): T => {
  const kind = sampleKind(event);
  if (kind?.kind !== 'webhook')
    throw new Error('not a ticketing webhook sample (its path is not /webhooks/{source})');
  const body = JSON.parse(bodyText(event)) as {
    timestamp?: number;
    sentAt?: string;
    result?: { sys_updated_on?: string };
    sys_updated_on?: string;
  };
  if (typeof body.timestamp === 'number') body.timestamp = now;
  if (typeof body.sentAt === 'string') body.sentAt = new Date(now).toISOString();
  if (body.result?.sys_updated_on !== undefined) body.result.sys_updated_on = serviceNowTime(now);
  if (body.sys_updated_on !== undefined) body.sys_updated_on = serviceNowTime(now);
  const raw = JSON.stringify(body);
  const header = kind.source === 'jira' ? 'x-hub-signature' : 'x-hub-signature-256';
  withBody(event, raw);
  event.headers[header] = `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
  return event;
};

/** A Slack sample with its request timestamp moved to `now` and signed again with `secret` (v0). */
export const freshSlackSample = <T extends HttpSample>(
  event: T,
  secret: string,
  options: { now?: number; edit?: (form: URLSearchParams) => void } = {},
): T => {
  const form = new URLSearchParams(bodyText(event));
  options.edit?.(form);
  const body = form.toString();
  const ts = String(Math.floor((options.now ?? Date.now()) / 1000));
  withBody(event, body);
  event.headers['x-slack-request-timestamp'] = ts;
  event.headers['x-slack-signature'] =
    `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`;
  return event;
};
