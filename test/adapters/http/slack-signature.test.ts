import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { slackSignature, verifySlackSignature } from '../../../lib/adapters/http/slack-signature';

/** Slack's own walk-through (test/fixtures/triggers/SOURCES.md): secret, timestamp, body and signature. */
const vector = JSON.parse(
  readFileSync(join(__dirname, '../../fixtures/triggers/slack/slash-command.signature-vector.json'), 'utf8'),
) as { signing_secret: string; headers: Record<string, string>; expected_signature: string };
const body = readFileSync(
  join(__dirname, '../../fixtures/triggers/slack/slash-command.signature-vector.body.txt'),
);
const headers = Object.fromEntries(Object.entries(vector.headers).map(([k, v]) => [k.toLowerCase(), v]));
const signedAt = Number(headers['x-slack-request-timestamp']) * 1000;

describe("Slack's v0 request signature", () => {
  it("accepts Slack's published example at its time", () => {
    expect(slackSignature(vector.signing_secret, headers['x-slack-request-timestamp']!, body)).toBe(
      vector.expected_signature,
    );
    expect(verifySlackSignature(headers, body, vector.signing_secret, signedAt + 1_000)).toBe('ok');
    expect(verifySlackSignature(headers, body, vector.signing_secret, signedAt - 299_000)).toBe('ok');
  });

  it('calls it stale more than 5 minutes either side of its timestamp (a replay)', () => {
    expect(verifySlackSignature(headers, body, vector.signing_secret, signedAt + 301_000)).toBe('stale');
    expect(verifySlackSignature(headers, body, vector.signing_secret, signedAt - 301_000)).toBe('stale');
    // Today, the documented example is a replay.
    expect(verifySlackSignature(headers, body, vector.signing_secret, Date.now())).toBe('stale');
  });

  it('refuses another secret, a changed body, a changed timestamp, and malformed or missing headers', () => {
    const now = signedAt;
    expect(verifySlackSignature(headers, body, 'another secret', now)).toBe('bad');
    expect(
      verifySlackSignature(headers, Buffer.concat([body, Buffer.from('&x=1')]), vector.signing_secret, now),
    ).toBe('bad');
    expect(
      verifySlackSignature(
        { ...headers, 'x-slack-request-timestamp': String(signedAt / 1000 + 1) },
        body,
        vector.signing_secret,
        now,
      ),
    ).toBe('bad');
    for (const broken of [
      { ...headers, 'x-slack-signature': undefined },
      { ...headers, 'x-slack-request-timestamp': undefined },
      { ...headers, 'x-slack-signature': vector.expected_signature.toUpperCase() },
      { ...headers, 'x-slack-signature': `v1=${vector.expected_signature.slice(3)}` },
      { ...headers, 'x-slack-signature': vector.expected_signature.slice(0, -2) },
      { ...headers, 'x-slack-request-timestamp': '1e9' },
    ])
      expect(verifySlackSignature(broken, body, vector.signing_secret, now)).toBe('bad');
    expect(verifySlackSignature(headers, body, '', now)).toBe('bad');
  });
});
