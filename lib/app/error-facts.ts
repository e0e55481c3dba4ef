/** What the core needs to know of an error from a port, whatever adapter raised it. */

export interface ErrorFacts {
  reason: string;
  /** True when the same call may succeed later. */
  retryable: boolean;
  queryId?: string;
}

export const errorFacts = (error: unknown): ErrorFacts => {
  const e = error as { message?: unknown; retryable?: unknown; queryId?: unknown };
  return {
    reason: typeof e?.message === 'string' ? e.message : String(error),
    // Errors that do not say otherwise (network, unknown) are worth another try.
    retryable: typeof e?.retryable === 'boolean' ? e.retryable : true,
    ...(typeof e?.queryId === 'string' ? { queryId: e.queryId } : {}),
  };
};

/** A failure after which the request may or may not have been carried out (timeout, network, 5xx). */
export const isAmbiguous = (error: unknown): boolean => {
  const e = error as { code?: unknown; status?: unknown };
  return e?.code === 'timeout' || e?.code === 'network' || (typeof e?.status === 'number' && e.status >= 500);
};
