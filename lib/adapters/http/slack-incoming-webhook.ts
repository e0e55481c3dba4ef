/**
 * A Slack incoming webhook (the URL is a secret: from SSM, never logged or put in events). Only
 * `https://hooks.slack.com` is ever called; another origin is refused before any request (the
 * local stage may allow a test origin by configuration, never by payload).
 */
import { InvalidInputError } from '../../domain/errors';
import type { RunSummarySink } from '../../ports/run-summary';
import type { JsonCall } from './json-call';

export const SLACK_ORIGIN = 'https://hooks.slack.com';

export class SlackIncomingWebhook implements RunSummarySink {
  constructor(
    private readonly options: { url: () => Promise<string>; call: JsonCall; allowedOrigin?: string },
  ) {}

  async post(text: string): Promise<void> {
    const allowed = this.options.allowedOrigin ?? SLACK_ORIGIN;
    let url: URL;
    try {
      url = new URL((await this.options.url()).trim());
    } catch {
      throw new InvalidInputError('the Slack webhook URL is not a URL');
    }
    if (url.origin !== allowed) throw new InvalidInputError(`the Slack webhook URL must be on ${allowed}`);
    // Slack truncates long messages: keep the summary well under its limits.
    await this.options.call('POST', url, {}, { text: text.slice(0, 3500) });
  }
}
