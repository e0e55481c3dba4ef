/**
 * One invocation at a time per load balancer: a lease on a service is taken before its ledger is
 * read and its farms are written, and released when its zones are applied. Different services
 * are applied in parallel by different invocations; one service never by two at once, so two
 * batches can neither refresh the same zone twice nor carry each other's half-written changes.
 */
export interface Lease {
  /** The services this acquisition holds. */
  services: Set<string>;
  /** Identifies this holder: only it can release them. */
  token: string;
}

export interface ServiceLeases {
  /** Takes the lease of each service it can (for `holdMs`, past the function timeout). */
  acquire(services: readonly string[], now: Date, holdMs: number): Promise<Lease>;
  /** Gives back what `acquire` took (a lease that expired and went to someone else stays theirs). */
  release(lease: Lease): Promise<void>;
}
