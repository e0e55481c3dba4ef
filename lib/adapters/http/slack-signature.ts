/**
 * Slack's request signature (https://docs.slack.dev/authentication/verifying-requests-from-slack):
 * `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:" + X-Slack-Request-Timestamp + ":" + raw body)>`,
 * compared in constant time; a timestamp more than 5 minutes from now is refused, so a captured
 * request cannot be replayed later. The verdict never says more than good, bad or stale.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack's documented replay window. */
export const SLACK_MAX_SKEW_MS = 5 * 60_000;

export type SlackSignatureVerdict = 'ok' | 'bad' | 'stale';

export const slackSignature = (secret: string, timestamp: string, body: Buffer | string): string =>
  `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:`).update(body).digest('hex')}`;

export const verifySlackSignature = (
  headers: Readonly<Record<string, string | undefined>>,
  body: Buffer,
  secret: string,
  nowMs: number,
): SlackSignatureVerdict => {
  const timestamp = headers['x-slack-request-timestamp']?.trim() ?? '';
  const given = headers['x-slack-signature']?.trim() ?? '';
  if (!secret || !/^\d{1,12}$/.test(timestamp) || !/^v0=[0-9a-f]{64}$/.test(given)) return 'bad';
  const expected = Buffer.from(slackSignature(secret, timestamp, body));
  if (!timingSafeEqual(expected, Buffer.from(given))) return 'bad';
  // Checked after the signature: the time is the signed one.
  return Math.abs(nowMs - Number(timestamp) * 1000) > SLACK_MAX_SKEW_MS ? 'stale' : 'ok';
};
