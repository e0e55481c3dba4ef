/** Loads the sample trigger events under events/, the same files `serverless invoke local` uses. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const loadEvent = <T = unknown>(fn: string, name: string): T =>
  JSON.parse(readFileSync(join(__dirname, '../../events', fn, `${name}.json`), 'utf8')) as T;

const shiftIso = (iso: unknown, deltaMs: number) =>
  typeof iso === 'string' && !Number.isNaN(Date.parse(iso))
    ? new Date(Date.parse(iso) + deltaMs).toISOString()
    : iso;

/**
 * The sample SQS event with every time in it (SentTimestamp, the envelope's time, requestedAt,
 * the window) moved by the same amount so that the first record was sent at `now`: the worker
 * refuses stale requests, and tests must not depend on the day they run.
 */
export const freshSqsEvent = <
  T extends { Records: { body: string; attributes: { SentTimestamp: string } }[] },
>(
  event: T,
  now = Date.now(),
): T => {
  const first = Number(event.Records[0]?.attributes.SentTimestamp ?? now);
  const delta = now - first;
  for (const record of event.Records) {
    record.attributes.SentTimestamp = String(Number(record.attributes.SentTimestamp) + delta);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(record.body) as Record<string, unknown>;
    } catch {
      continue; // a poison record stays as it is
    }
    body.time = shiftIso(body.time, delta);
    const detail = body.detail as Record<string, unknown> | undefined;
    if (detail && typeof detail === 'object') {
      detail.requestedAt = shiftIso(detail.requestedAt, delta);
      const window = detail.window as Record<string, unknown> | undefined;
      if (window && typeof window === 'object') {
        for (const k of ['notBefore', 'notAfter']) if (k in window) window[k] = shiftIso(window[k], delta);
      }
    }
    record.body = JSON.stringify(body);
  }
  return event;
};

/** A sample event from events/, with its times moved to now (see freshSqsEvent). */
export const loadFreshEvent = <
  T extends { Records: { body: string; attributes: { SentTimestamp: string } }[] },
>(
  fn: string,
  name: string,
  now?: number,
): T => freshSqsEvent(loadEvent<T>(fn, name), now);

/**
 * A sample ticketing webhook event with the ticket's own signed time (Jira `timestamp`,
 * ServiceNow `sys_updated_on`, generic `sentAt`) moved to now, and signed again with the `local` stage's secret
 * for its source, as the ticketing system would send it today.
 */
export const loadFreshWebhookEvent = <
  T extends { body?: string; isBase64Encoded: boolean; headers: Record<string, string | undefined> },
>(
  name: string,
  now = Date.now(),
): T => {
  const { createHmac } = require('node:crypto') as typeof import('node:crypto');
  const event = loadEvent<T & { pathParameters: { source: string } }>('ticketing-webhook', name);
  const source = event.pathParameters.source;
  const text = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8').toString('utf8');
  const body = JSON.parse(text) as {
    timestamp?: number;
    sentAt?: string;
    result?: { sys_updated_on?: string };
  };
  if (typeof body.timestamp === 'number') body.timestamp = now;
  if (typeof body.sentAt === 'string') body.sentAt = new Date(now).toISOString();
  if (body.result?.sys_updated_on !== undefined)
    body.result.sys_updated_on = new Date(now).toISOString().slice(0, 19).replace('T', ' ');
  const raw = JSON.stringify(body);
  const header = source === 'jira' ? 'x-hub-signature' : 'x-hub-signature-256';
  event.body = event.isBase64Encoded ? Buffer.from(raw).toString('base64') : raw;
  event.headers[header] =
    `sha256=${createHmac('sha256', `stickler-local-${source}-secret`).update(raw).digest('hex')}`;
  return event;
};

/**
 * A Slack sample from events/slack/ with its signed timestamp moved to `now` and signed again
 * with the `local` stage's secret (or `secret`), as Slack would send it today; `edit` may change
 * the form fields first.
 */
export const loadFreshSlackEvent = <
  T extends { body?: string; isBase64Encoded: boolean; headers: Record<string, string | undefined> },
>(
  name: string,
  options: { now?: number; secret?: string; edit?: (form: URLSearchParams) => void } = {},
): T => {
  const { createHmac } = require('node:crypto') as typeof import('node:crypto');
  const event = loadEvent<T>('slack', name);
  const form = new URLSearchParams(
    Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8').toString('utf8'),
  );
  options.edit?.(form);
  const body = form.toString();
  const ts = String(Math.floor((options.now ?? Date.now()) / 1000));
  event.body = event.isBase64Encoded ? Buffer.from(body).toString('base64') : body;
  event.headers['x-slack-request-timestamp'] = ts;
  event.headers['x-slack-signature'] = `v0=${createHmac(
    'sha256',
    options.secret ?? 'stickler-local-slack-secret',
  )
    .update(`v0:${ts}:${body}`)
    .digest('hex')}`;
  return event;
};
