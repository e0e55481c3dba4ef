/** Errors from the OVH API, with what OVH support needs (status, errorCode/class, X-Ovh-QueryID). */
import { SticklerError } from '../../domain/errors';

export interface OvhErrorDetails {
  method: string;
  path: string;
  status?: number;
  errorCode?: string;
  errorClass?: string;
  queryId?: string;
  retryable: boolean;
  /**
   * The call may have been carried out although it failed (default: no answer, or a 5xx). A
   * success status whose answer cannot be read is one too: OVH did it, stickler cannot tell.
   */
  outcomeUnknown?: boolean;
}

export class OvhApiError extends SticklerError {
  readonly method: string;
  readonly path: string;
  readonly status: number | undefined;
  readonly errorCode: string | undefined;
  readonly errorClass: string | undefined;
  readonly queryId: string | undefined;

  constructor(code: string, message: string, details: OvhErrorDetails, options?: { cause?: unknown }) {
    const tags = [
      details.status ? `HTTP ${details.status}` : undefined,
      details.errorCode ?? details.errorClass,
      details.queryId ? `query id ${details.queryId}` : undefined,
    ].filter(Boolean);
    super(
      code,
      `OVH ${details.method} ${details.path}: ${message}${tags.length ? ` (${tags.join(', ')})` : ''}`,
      {
        ...options,
        retryable: details.retryable,
        // No answer, or a server error: the call may have been carried out all the same.
        outcomeUnknown:
          details.outcomeUnknown ??
          (code === 'timeout' || code === 'network' || (details.status ?? 0) >= 500),
        ...(details.queryId ? { reference: details.queryId } : {}),
      },
    );
    this.method = details.method;
    this.path = details.path;
    this.status = details.status;
    this.errorCode = details.errorCode;
    this.errorClass = details.errorClass;
    this.queryId = details.queryId;
  }

  /**
   * The same error as a new object: one failure shared by several calls (a token fetch they all
   * waited on) is told apart, so that what each call adds to its message stays its own.
   */
  copy(): OvhApiError {
    const twin = Object.create(Object.getPrototypeOf(this)) as OvhApiError;
    Object.defineProperties(twin, Object.getOwnPropertyDescriptors(this));
    return twin;
  }
}
