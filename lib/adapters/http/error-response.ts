/**
 * The one mapping from errors to HTTP answers, for every HTTP entry point (http-edge.ts): a
 * status, and a body that says what the caller can act on and nothing internal. Each error class
 * decides what is exposed: a refused signature says nothing of why; field-level input errors list
 * their fields; an outage behind stickler is a 503 to retry; an error stickler did not raise on
 * purpose is a bare 500 (its message goes to the log only, never to the caller).
 */
import {
  InvalidInputError,
  NotFoundError,
  PayloadTooLargeError,
  RunRefusedError,
  SticklerError,
  UnauthenticatedError,
  UnprocessableError,
  UnsupportedMediaTypeError,
} from '../../domain/errors';

export interface HttpAnswer {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const GENERIC: Record<number, string> = {
  400: 'bad request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not found',
  409: 'conflict',
  413: 'request body too large',
  415: 'unsupported media type',
  422: 'unprocessable request',
  500: 'internal error',
  503: 'temporarily unavailable, try again later',
};

export const jsonAnswer = (
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpAnswer => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

export const errorResponse = (error: unknown): HttpAnswer => {
  if (error instanceof UnauthenticatedError)
    return jsonAnswer(401, { error: error.code, message: GENERIC[401] });
  if (error instanceof PayloadTooLargeError)
    return jsonAnswer(413, { error: error.code, message: error.message });
  if (error instanceof UnsupportedMediaTypeError)
    return jsonAnswer(415, { error: error.code, message: error.message });
  if (error instanceof InvalidInputError) {
    return jsonAnswer(error instanceof UnprocessableError ? 422 : 400, {
      error: error.code,
      message: error.message,
      errors: error.issues.map((i) => ({ path: i.path, message: i.message })),
    });
  }
  if (error instanceof NotFoundError) return jsonAnswer(404, { error: error.code, message: error.message });
  if (error instanceof RunRefusedError) return jsonAnswer(409, { error: error.code, message: error.message });
  if (error instanceof SticklerError && error.retryable) {
    // An outage behind us: the caller may send the same request again later.
    return jsonAnswer(503, { error: 'unavailable', message: GENERIC[503] }, { 'retry-after': '30' });
  }
  return jsonAnswer(500, { error: 'internal-error', message: GENERIC[500] });
};
