/** Loads the sample trigger events under events/, the same files `serverless invoke local` uses. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshSlackSample, freshWebhookSample } from '../../lib/local/sample-events';

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
 * ServiceNow `sys_updated_on`, generic `sentAt`) moved to now, and signed again with the `local`
 * stage's secret for its source, as the ticketing system would send it today (as `stickler send`
 * does).
 */
export const loadFreshWebhookEvent = <
  T extends { body?: string; isBase64Encoded: boolean; headers: Record<string, string | undefined> },
>(
  name: string,
  now = Date.now(),
): T => {
  const event = loadEvent<T & { pathParameters: { source: string } }>('ticketing-webhook', name);
  return freshWebhookSample(event, `stickler-local-${event.pathParameters.source}-secret`, now);
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
): T =>
  freshSlackSample(loadEvent<T>('slack', name), options.secret ?? 'stickler-local-slack-secret', {
    ...(options.now !== undefined ? { now: options.now } : {}),
    ...(options.edit ? { edit: options.edit } : {}),
  });
