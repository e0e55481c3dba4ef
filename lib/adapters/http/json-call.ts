/**
 * An outgoing JSON call to a configured endpoint (a ticketing system's REST API): a timeout per
 * attempt, up to 3 attempts with full-jitter backoff on 429, 5xx and network errors. Errors name
 * the method, the path and the status, never credentials or the answer's body beyond a bounded,
 * control-character-free excerpt.
 */
import { SticklerError } from '../../domain/errors';
import { type Clock, systemClock } from '../../ports/clock';
import { retry } from '../../shared/retry';

export class HttpCallError extends SticklerError {}

/** A bounded excerpt of a server's answer with control characters (terminal escapes) replaced. */
const excerpt = (text: string) =>
  Array.from(text.slice(0, 300), (c) => {
    const code = c.charCodeAt(0);
    return code < 0x20 || (code >= 0x7f && code <= 0x9f) ? ' ' : c;
  }).join('');

export interface JsonCallOptions {
  timeoutMs?: number;
  maxAttempts?: number;
  clock?: Clock;
  fetchImpl?: typeof fetch;
}

export const makeJsonCall = (options: JsonCallOptions = {}) => {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxAttempts = options.maxAttempts ?? 3;
  const clock = options.clock ?? systemClock;
  const doFetch = options.fetchImpl ?? fetch;
  return async function call<T = unknown>(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body?: unknown,
  ): Promise<T> {
    const what = `${method} ${url.origin}${url.pathname}`;
    const attempt = async (): Promise<T> => {
      let response: Response;
      let text: string;
      try {
        response = await doFetch(url, {
          method,
          headers: {
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...headers,
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(timeoutMs),
          redirect: 'error',
        });
        text = await response.text();
      } catch (cause) {
        const timedOut = (cause as { name?: string }).name === 'TimeoutError';
        throw new HttpCallError(
          timedOut ? 'timeout' : 'network',
          `${what}: ${timedOut ? `no answer within ${timeoutMs} ms` : 'network error'}`,
          { cause, retryable: true, outcomeUnknown: true },
        );
      }
      if (response.ok) {
        // Some APIs answer success in plain text (Slack's incoming webhooks say `ok`).
        const json = (response.headers.get('content-type') ?? '').includes('json');
        try {
          return (json && text ? JSON.parse(text) : text || undefined) as T;
        } catch (cause) {
          throw new HttpCallError('bad-response', `${what}: the answer is not JSON`, { cause });
        }
      }
      throw new HttpCallError('http-error', `${what}: HTTP ${response.status} ${excerpt(text)}`.trim(), {
        retryable: response.status === 429 || response.status >= 500,
      });
    };
    return retry(attempt, {
      maxAttempts,
      baseDelayMs: 200,
      sleep: clock.sleep,
      now: () => clock.now().getTime(),
    });
  };
};
export type JsonCall = ReturnType<typeof makeJsonCall>;
