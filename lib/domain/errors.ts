/** Base class for errors stickler raises on purpose: a stable `code` for machines, a message for people. */
export class SticklerError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
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
  constructor(message: string, options?: { cause?: unknown }) {
    super('not-found', message, options);
  }
}

/** A load balancer stickler cannot work on: expired or suspended, or not granted to its key. */
export class ServiceUnavailableError extends SticklerError {
  readonly service: string;
  constructor(service: string, message: string, options?: { cause?: unknown }) {
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
