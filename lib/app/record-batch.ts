/**
 * One batch's records of a kind the worker carries out one at a time (cancels, zone refreshes):
 * each idempotency key once (a later copy in the batch is a duplicate), and what each says put
 * together as the batch's result (fates, records handed back with their delay, events published).
 */
import type { OutgoingEvent } from '../domain/audit-events';
import type { ProcessResult, RecordFate } from './process-change-requests';

/** What carrying out one record came to: its fate, a delay when it is handed back, what went out. */
export interface RecordDone {
  fate: RecordFate;
  retryDelaySeconds?: number;
  published: readonly OutgoingEvent[];
}

export async function eachRecordOnce<R extends { recordId: string; parsed: { key: string } }>(
  records: readonly R[],
  carryOut: (record: R) => Promise<RecordDone>,
): Promise<ProcessResult> {
  const fates = new Map<string, RecordFate>();
  const retry: ProcessResult['retry'] = [];
  const published: OutgoingEvent[] = [];
  const seen = new Set<string>();
  for (const record of records) {
    if (seen.has(record.parsed.key)) {
      fates.set(record.recordId, 'duplicate');
      continue;
    }
    seen.add(record.parsed.key);
    const done = await carryOut(record);
    fates.set(record.recordId, done.fate);
    if (done.retryDelaySeconds !== undefined)
      retry.push({ recordId: record.recordId, delaySeconds: done.retryDelaySeconds });
    published.push(...done.published);
  }
  return { retry, fates, published };
}
