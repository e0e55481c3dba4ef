/** What the core needs to know of an error from a port, whatever adapter raised it. */
import { SticklerError } from '../domain/errors';

export interface ErrorFacts {
  reason: string;
  /** True when the same call may succeed later. */
  retryable: boolean;
  queryId?: string;
}

export const errorFacts = (error: unknown): ErrorFacts => {
  if (error instanceof SticklerError) {
    return {
      reason: error.message,
      retryable: error.retryable,
      ...(error.reference ? { queryId: error.reference } : {}),
    };
  }
  // Not raised by stickler (a bug, a runtime failure): worth another try, and said as it is.
  const message = (error as { message?: unknown } | null)?.message;
  return { reason: typeof message === 'string' ? message : String(error), retryable: true };
};

/** A failure after which the call may or may not have been carried out (no answer, 5xx). */
export const isAmbiguous = (error: unknown): boolean =>
  error instanceof SticklerError && error.outcomeUnknown;
