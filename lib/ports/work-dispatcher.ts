/** Hands work to a later invocation, so that an HTTP entry point can answer first. */
export interface WorkDispatcher<W> {
  /** Resolves once the work is queued (not done); throws when it could not be. */
  dispatch(work: W): Promise<void>;
}
