/** OVH request signing: "$1$" + sha1_hex(AS+CK+METHOD+FULL_URL+BODY+TIMESTAMP joined by "+"). */
import { createHash } from 'node:crypto';

export interface SignatureInput {
  applicationSecret: string;
  consumerKey: string;
  method: string;
  url: string;
  body: string;
  timestamp: number;
}

export const signRequest = (input: SignatureInput): string =>
  `$1$${createHash('sha1')
    .update(
      [
        input.applicationSecret,
        input.consumerKey,
        input.method.toUpperCase(),
        input.url,
        input.body,
        input.timestamp,
      ].join('+'),
    )
    .digest('hex')}`;
