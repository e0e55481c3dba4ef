/**
 * The one HTTP edge of the two HTTP functions (ticketing-webhook and slack), as a middy
 * middleware, in the manner of middy's http-error-handler:
 * - before: the API Gateway (payload 2.0) event read once into what the use cases take: header
 *   names in lower case, the body as the exact bytes received (decoded from base64 when the
 *   gateway encoded it), refused 413 over the function's limit before anything else;
 * - on error: the one mapping from errors to answers (error-response.ts: a status, and a body that
 *   says only what the caller may know), and the error logged as an object (its code, message and
 *   cause) when it is the function's fault (5xx), never its secrets.
 */
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { errorFields, PayloadTooLargeError } from '../../domain/errors';

export { errorFields } from '../../domain/errors';

import type { Log } from '../../ports/log';
import { errorResponse } from './error-response';

/** An HTTP request as the use cases take it. */
export interface HttpRequestIn {
  path: string;
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  /** The body exactly as received. */
  body: Buffer;
}

/** The request read from the event (set by the middleware's `before`). */
export const httpRequestOf = (event: APIGatewayProxyEventV2, maxBodyBytes: number): HttpRequestIn => {
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) headers[k.toLowerCase()] = v;
  const raw = event.body ?? '';
  // Cheap bound first: base64 takes 4 characters for 3 bytes.
  if ((event.isBase64Encoded ? (raw.length * 3) / 4 : Buffer.byteLength(raw)) > maxBodyBytes + 3)
    throw new PayloadTooLargeError(maxBodyBytes);
  const body = Buffer.from(raw, event.isBase64Encoded ? 'base64' : 'utf8');
  if (body.length > maxBodyBytes) throw new PayloadTooLargeError(maxBodyBytes);
  return { path: event.rawPath ?? '', headers, body };
};

/**
 * The middleware: `maxBodyBytes` bounds the body; `what` names the function in its log lines.
 * The handler reads `request.context.http` (set here) rather than the raw event.
 */
export const httpEdge = (options: {
  log: Log;
  what: string;
  maxBodyBytes: number;
}): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> => ({
  before: (request) => {
    // An event without requestContext is not an HTTP request (the slack function's own work).
    if (!request.event || !('requestContext' in request.event)) return;
    (request.context as unknown as { http: HttpRequestIn }).http = httpRequestOf(
      request.event,
      options.maxBodyBytes,
    );
  },
  onError: (request) => {
    const answer = errorResponse(request.error);
    if (answer.statusCode >= 500)
      options.log.error(`${options.what} failed`, { error: errorFields(request.error) });
    request.response = answer;
  },
});

/** The request the middleware read, in a handler behind it. */
export const httpIn = (context: unknown): HttpRequestIn | undefined =>
  (context as { http?: HttpRequestIn } | undefined)?.http;
