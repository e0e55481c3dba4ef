/**
 * Remembers, per farm, the newest change request already carried out, so that an older request
 * delivered later (a standard queue keeps no order) cannot undo a newer one. Entries expire
 * after RECORD_RETENTION_MS, longer than any request is accepted (DEFAULT_TIME_LIMITS.maxAgeMs).
 */
import type { LedgerEntry } from '../domain/request-rules';

export type { LedgerEntry } from '../domain/request-rules';

export interface FarmLedger {
  /** The newest request carried out for each of these farm keys (absent: none yet). */
  latest(farmKeys: readonly string[]): Promise<Map<string, LedgerEntry>>;
  /** Records a request as carried out, unless a newer one is already recorded for the farm. */
  record(farmKey: string, entry: LedgerEntry, now: Date): Promise<void>;
}
