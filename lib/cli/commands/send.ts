/**
 * `stickler send FILE [--url URL]`: sends a sample HTTP event of events/ (a ticketing webhook or a
 * Slack request, API Gateway payload 2.0) to the local pipeline's HTTP API, as its sender would
 * today: its signed time moved to now and signed again with the pipeline's secret for it
 * (STICKLER_WEBHOOK_SECRET_<SOURCE>, SLACK_SIGNING_SECRET, or the local defaults). Prints the answer.
 */
import { freshSlackSample, freshWebhookSample, type HttpSample, sampleKind } from '../../local/sample-events';
import { type Flags, readInput } from '../args';
import { type CliIo, EXIT, UsageError } from '../io';

/** Headers a sender sets (the gateway's own, such as host and x-forwarded-*, are not sent again). */
const SENT_HEADERS =
  /^(content-type|user-agent|x-hub-signature(-256)?|x-atlassian-webhook-[a-z-]+|x-delivery-id|x-slack-[a-z-]+)$/;

export async function sendCommand(io: CliIo, flags: Flags, args: string[]): Promise<number> {
  if (args.length !== 1) throw new UsageError('usage: stickler send FILE [--url URL]');
  const file = args[0]!;
  let event: HttpSample;
  try {
    event = JSON.parse(readInput(io.cwd, file, 'sample event')) as HttpSample;
  } catch (error) {
    if (error instanceof SyntaxError) throw new UsageError(`${file} is not JSON`);
    throw error;
  }
  const kind = event && typeof event === 'object' && event.headers ? sampleKind(event) : undefined;
  if (!kind)
    throw new UsageError(`${file} is not a sample HTTP event of events/ticketing-webhook or events/slack`);
  const base = (flags.url ?? io.env.STICKLER_API_URL ?? '').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(base))
    throw new UsageError(
      "no HTTP API to send to: paste the exports 'stickler simulate --pipeline' prints (STICKLER_API_URL), or give --url",
    );
  const fresh =
    kind.kind === 'webhook'
      ? freshWebhookSample(
          event,
          io.env[`STICKLER_WEBHOOK_SECRET_${kind.source.toUpperCase()}`] ||
            `stickler-local-${kind.source}-secret`,
        )
      : freshSlackSample(event, io.env.SLACK_SIGNING_SECRET || 'stickler-local-slack-secret');
  const headers = Object.fromEntries(
    Object.entries(fresh.headers).filter(([k, v]) => v !== undefined && SENT_HEADERS.test(k.toLowerCase())),
  ) as Record<string, string>;
  const path = fresh.rawPath ?? `/webhooks/${kind.kind === 'webhook' ? kind.source : ''}`;
  const body = Buffer.from(fresh.body ?? '', fresh.isBase64Encoded ? 'base64' : 'utf8');
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers,
    body,
    signal: AbortSignal.timeout(10_000),
  }).catch((error: unknown) => {
    throw new UsageError(`could not reach ${base}: ${(error as Error).message}`);
  });
  const text = (await response.text()).slice(0, 4_000);
  io.stdout.write(`POST ${path} → HTTP ${response.status}\n${text}\n`);
  return response.ok ? EXIT.ok : EXIT.error;
}
