export interface SticklerErrorOptions {
  cause?: unknown;
  /** True when the same call may succeed later (a timeout, throttling, an outage). Default false. */
  retryable?: boolean;
  /**
   * True when the call may or may not have been carried out (no answer, a 5xx after sending):
   * whoever repeats it must first find out what happened.
   */
  outcomeUnknown?: boolean;
  /** A reference the provider's support asks for (OVH's X-Ovh-QueryID, AWS's request id). */
  reference?: string;
}

/**
 * Base class of every error stickler raises: a stable `code` for machines, a message for
 * people, its `cause`, and what the caller may do about it (`retryable`, `outcomeUnknown`), so
 * no layer has to read an adapter's codes to decide.
 */
export class SticklerError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly outcomeUnknown: boolean;
  readonly reference: string | undefined;
  constructor(code: string, message: string, options: SticklerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.outcomeUnknown = options.outcomeUnknown ?? false;
    this.reference = options.reference;
  }
}

export interface InputIssue {
  /** Dotted path into the document, e.g. `rules[2].stickiness`. */
  path: string;
  line?: number;
  column?: number;
  message: string;
}

/** A run refused whole before any write (for example, more changes than the policy allows). */
export class RunRefusedError extends SticklerError {}

/** The object asked for does not exist (for example a farm id that is not on the service). */
export class NotFoundError extends SticklerError {
  constructor(message: string, options?: SticklerErrorOptions) {
    super('not-found', message, options);
  }
}

/** Input that does not read as what it must be (a request body, a command), said field by field. */
export class InvalidInputError extends SticklerError {
  readonly issues: InputIssue[];
  constructor(message: string, issues: InputIssue[] = [], code = 'invalid-input') {
    super(code, message);
    this.issues = issues;
  }
}

/** A load balancer stickler cannot work on: expired or suspended, or not granted to its key. */
export class ServiceUnavailableError extends SticklerError {
  readonly service: string;
  constructor(service: string, message: string, options?: SticklerErrorOptions) {
    super('service-unavailable', message, options);
    this.service = service;
  }
}

/** A setting that is missing or unusable (environment, endpoint). */
export class ConfigError extends SticklerError {
  constructor(message: string) {
    super('invalid-config', message);
  }
}

/** A request whose sender could not be authenticated (a missing or wrong signature); says nothing of why. */
export class UnauthenticatedError extends SticklerError {
  constructor() {
    super('unauthorized', 'unauthorized');
  }
}

/** A request body over the size stickler accepts. */
export class PayloadTooLargeError extends SticklerError {
  constructor(limitBytes: number) {
    super('too-large', `the request body is over ${Math.round(limitBytes / 1024)} KiB`);
  }
}

/** A request body in a format stickler does not read. */
export class UnsupportedMediaTypeError extends SticklerError {
  constructor(expected: string) {
    super('unsupported-media-type', `the request body must be ${expected}`);
  }
}

/** Well-formed input that asks for something that cannot be done (cookie on a TCP farm). */
export class UnprocessableError extends InvalidInputError {
  constructor(message: string, issues: InputIssue[] = []) {
    super(message, issues, 'unprocessable');
  }
}

/**
 * What an error is, as a log line carries it: its name, code, message, whether a retry may help,
 * and its causes (three deep), every text bounded. Never a stack, never a secret an error did not
 * already leave out of its message.
 */
export const errorFields = (error: unknown, depth = 0): Record<string, unknown> => {
  if (!(error instanceof Error)) return { message: String(error).slice(0, 500) };
  return {
    name: error.name,
    message: error.message.slice(0, 1000),
    ...(error instanceof SticklerError ? { code: error.code, retryable: error.retryable } : {}),
    ...(error.cause !== undefined && depth < 3 ? { cause: errorFields(error.cause, depth + 1) } : {}),
  };
};
