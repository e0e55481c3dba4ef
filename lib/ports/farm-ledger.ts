/**
 * Remembers, per farm, the order of its requests: the newest request that went (or is going) to
 * OVH, and the newest one waiting for its change window, each with the time stickler accepted it.
 * An older request delivered later (a standard queue keeps no order; a deferral fires, a redrive
 * comes back) can then never undo a newer one. The worker writes a farm's order before it writes
 * the farm, with optimistic concurrency. Entries expire after RECORD_RETENTION_MS, longer than any
 * request is accepted (DEFAULT_TIME_LIMITS.maxAgeMs).
 */
import type { FarmOrder } from '../domain/request-rules';

export type { FarmOrder, LedgerEntry } from '../domain/request-rules';

/** A farm's order and its version (0: nothing recorded yet). */
export interface VersionedOrder {
  order: FarmOrder;
  version: number;
}

export interface FarmLedger {
  /** The order of each of these farm keys (absent: nothing recorded). */
  read(farmKeys: readonly string[]): Promise<Map<string, VersionedOrder>>;
  /** Writes the farm's order if it is still at `version`; false when it changed meanwhile (read again). */
  write(farmKey: string, order: FarmOrder, version: number, now: Date): Promise<boolean>;
}
