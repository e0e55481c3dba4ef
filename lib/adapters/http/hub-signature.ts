/**
 * HMAC-SHA256 webhook signatures over the raw body bytes, as GitHub (`X-Hub-Signature-256:
 * sha256=<hex>`) and Jira admin webhooks (`X-Hub-Signature: sha256=<hex>`) send them, and as the
 * documented ServiceNow business rule does (GlideCertificateEncryption.generateMac returns
 * base64, so base64 is accepted too). Compared in constant time; never says why it failed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** True when `header` (`sha256=<hex or base64>`) is the HMAC-SHA256 of `body` under `secret`. */
export const hubSignatureMatches = (header: string | undefined, body: Buffer, secret: string): boolean => {
  if (!header || !secret) return false;
  const match = /^sha256=([A-Za-z0-9+/=]{1,200})$/.exec(header.trim());
  if (!match) return false;
  const mac = createHmac('sha256', secret).update(body).digest();
  const given = match[1]!;
  const candidates = /^[0-9a-f]{64}$/i.test(given)
    ? [Buffer.from(given, 'hex')]
    : [Buffer.from(given, 'base64')];
  return candidates.some((c) => c.length === mac.length && timingSafeEqual(c, mac));
};

/** The header value a sender computes (for tests, examples and the README's curl line). */
export const hubSignature = (body: Buffer | string, secret: string): string =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
