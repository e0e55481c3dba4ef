/**
 * The simulator's own check of OVH's published request signature (NOTES: "$1$" + SHA-1 hex of
 * AS+CK+METHOD+FULL_URL+BODY+TIMESTAMP joined by "+"), written apart from the client's signer so
 * that a bug in one cannot hide in the other. The full URL is rebuilt from what reached the
 * server (its Host header and raw request target), as OVH sees it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export interface ReceivedRequest {
  method: string;
  /** `Host` as received. */
  host: string;
  /** The raw request target (path and query string), as received. */
  target: string;
  /** The raw body text ("" for none). */
  body: string;
  timestamp: string;
  signature: string;
}

export const ovhSignatureMatches = (
  request: ReceivedRequest,
  secrets: { applicationSecret: string; consumerKey: string },
  scheme = 'http',
): boolean => {
  const payload = Buffer.concat(
    [
      secrets.applicationSecret,
      secrets.consumerKey,
      request.method,
      `${scheme}://${request.host}${request.target}`,
      request.body,
      request.timestamp,
    ].flatMap((part, i) =>
      i === 0 ? [Buffer.from(part, 'utf8')] : [Buffer.from('+'), Buffer.from(part, 'utf8')],
    ),
  );
  const expected = Buffer.from(`$1$${createHash('sha1').update(payload).digest('hex')}`);
  const given = Buffer.from(request.signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
};
