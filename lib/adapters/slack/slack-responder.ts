/**
 * SlackResponder over HTTPS: posts a message to a `response_url`. Only `https://hooks.slack.com`
 * is ever called (in the local stage, a test origin set by configuration, never by a payload),
 * redirects are not followed, every attempt has a timeout, and a 429/5xx/network error is tried
 * once more. The address holds a token: errors name the origin only, never the path.
 */
import { SticklerError } from '../../domain/errors';
import type { SlackMessage, SlackResponder } from '../../ports/slack-responder';
import { retry } from '../../shared/retry';

export const SLACK_RESPONSE_ORIGIN = 'https://hooks.slack.com';

export class SlackResponseError extends SticklerError {}

export interface HttpSlackResponderOptions {
  /** The one origin allowed (default https://hooks.slack.com). */
  allowedOrigin?: string;
  timeoutMs?: number;
  maxAttempts?: number;
  fetchImpl?: typeof fetch;
}

export class HttpSlackResponder implements SlackResponder {
  private readonly origin: string;

  constructor(private readonly options: HttpSlackResponderOptions = {}) {
    this.origin = options.allowedOrigin ?? SLACK_RESPONSE_ORIGIN;
  }

  allows(responseUrl: string): boolean {
    try {
      const url = new URL(responseUrl);
      return url.origin === this.origin && !url.username && !url.password;
    } catch {
      return false;
    }
  }

  async respond(responseUrl: string, message: SlackMessage): Promise<void> {
    if (!this.allows(responseUrl))
      throw new SlackResponseError('not-slack', `only ${this.origin} is called for Slack replies`);
    const doFetch = this.options.fetchImpl ?? fetch;
    const timeoutMs = this.options.timeoutMs ?? 2_500;
    const maxAttempts = this.options.maxAttempts ?? 2;
    const attempt = async (): Promise<void> => {
      let response: Response;
      try {
        response = await doFetch(responseUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8' },
          body: JSON.stringify(message),
          redirect: 'error',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (cause) {
        const timedOut = (cause as { name?: string }).name === 'TimeoutError';
        throw new SlackResponseError(
          timedOut ? 'timeout' : 'network',
          `no answer from ${this.origin}${timedOut ? ` within ${timeoutMs} ms` : ''}`,
          { retryable: true, outcomeUnknown: true, cause },
        );
      }
      const text = (await response.text().catch(() => '')).slice(0, 100).replace(/[^\w -]/g, '');
      if (response.ok) return;
      throw new SlackResponseError(
        'slack-refused',
        `Slack refused the reply at ${this.origin}: HTTP ${response.status}${text ? ` ${text}` : ''}`,
        { retryable: response.status === 429 || response.status >= 500 },
      );
    };
    // Slack's answer path is short: one quick retry, 100 ms of jitter at most.
    await retry(attempt, {
      maxAttempts,
      baseDelayMs: 100,
      maxDelayMs: 100,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      now: Date.now,
    });
  }
}
