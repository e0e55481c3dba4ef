/**
 * ServiceNow `change_request` records, pushed by an outbound REST message from a business rule
 * (README: the rule and its script, which signs `X-Hub-Signature-256`). Accepts the Table API
 * shape (plain strings, or `{value, display_value}` pairs), bare or in `{"result": …}`.
 *
 * A change is asked for only by the approval itself: `approval` moving to `approved` from another
 * value (`previous_approval`, which the README's script sends). The approval's identity is
 * `sys_id:sys_mod_count` as sent then. A record whose approval did not change (a work note, an
 * edit, stickler's own outcome note coming back through an unconditioned rule) is ignored; one
 * whose approval moves away from `approved`, or that is cancelled, withdraws it. `sys_updated_on`
 * (the signed time, for the replay rule) and `previous_approval` are required.
 */
import type { TicketChangeSet, TicketVerdict } from '../../app/ticket-change';
import { InvalidInputError } from '../../domain/errors';
import { approvedPlanOf, farmChangesOf, farmRefsOf, preferOf, textOf, windowOf } from './field-values';

export interface ServiceNowFieldMap {
  service: string;
  farms: string;
  stickiness: string;
  /** `quietest` applies at the quietest slot of the window (start_date to end_date); empty, as soon as it opens. */
  prefer?: string;
  /** A saved plan's digest (`stickler plan --out FILE --pipeline`): the change approves that plan's changes. */
  plan?: string;
}

export const DEFAULT_SERVICENOW_FIELDS: ServiceNowFieldMap = {
  service: 'u_stickler_service',
  farms: 'u_stickler_farms',
  stickiness: 'u_stickler_stickiness',
  prefer: 'u_stickler_prefer',
  plan: 'u_stickler_plan',
};

/** The change model's states, by value (ServiceNow's documentation), for the messages. */
const STATE_WORDS: Record<string, string> = {
  '-5': 'New',
  '-4': 'Assess',
  '-3': 'Authorize',
  '-2': 'Scheduled',
  '-1': 'Implement',
  '0': 'Review',
  '3': 'Closed',
  '4': 'Canceled',
};

/** Canceled (4) and Closed (3), by value or display word: a change that will not be implemented. */
const ENDED_STATES = new Set(['4', '3', 'canceled', 'cancelled', 'closed']);

/** `2026-11-25 22:00:00` (UTC, as the Table API gives it) → ISO 8601. */
export const serviceNowTime = (value: unknown): string | undefined => {
  const text = textOf(value);
  if (!text || !/^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d$/.test(text)) return undefined;
  const ms = Date.parse(`${text.replace(' ', 'T')}Z`);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
};

/** A field as plain value: `{value, display_value}` pairs give their value; numbers like 3.0 read as "3". */
const plainValue = (field: unknown): string | undefined => {
  if (field && typeof field === 'object' && 'value' in (field as object)) {
    const v = (field as { value: unknown }).value;
    return typeof v === 'number' ? String(Math.trunc(v)) : textOf(v);
  }
  return typeof field === 'string' ? field.trim() || undefined : textOf(field);
};
const displayOf = (field: unknown): string | undefined =>
  field && typeof field === 'object' && 'display_value' in (field as object)
    ? textOf((field as { display_value: unknown }).display_value)
    : undefined;

const missing = (path: string, what: string) =>
  new InvalidInputError(`not a ServiceNow change stickler can read: ${path} is missing`, [
    { path, message: `missing (${what}; the README's business rule sends it)` },
  ]);

export const readServiceNowChange = (json: unknown, fieldsMap: ServiceNowFieldMap): TicketChangeSet => {
  const wrapper = (json !== null && typeof json === 'object' ? json : {}) as { result?: unknown };
  const record = (wrapper.result ?? wrapper) as Record<string, unknown>;
  if (record === null || typeof record !== 'object') throw missing('result', 'the change_request record');
  const number = plainValue(record.number);
  if (!number) throw missing('number', 'the change number');
  const sysId = plainValue(record.sys_id);
  if (!sysId) throw missing('sys_id', "the record's id");
  if (record.sys_updated_on === undefined) throw missing('sys_updated_on', 'when the record was updated');
  const updatedAt = serviceNowTime(plainValue(record.sys_updated_on));
  if (!updatedAt)
    throw new InvalidInputError('not a ServiceNow change stickler can read: sys_updated_on is not a time', [
      { path: 'sys_updated_on', message: 'expected YYYY-MM-DD HH:MM:SS (UTC)' },
    ]);
  const modCount = plainValue(record.sys_mod_count);
  if (modCount === undefined) throw missing('sys_mod_count', "the record's revision");
  if (!('previous_approval' in record)) throw missing('previous_approval', 'the approval before this update');
  const approval = plainValue(record.approval) ?? '';
  const previous = plainValue(record.previous_approval) ?? '';
  const state = (plainValue(record.state) ?? '').toLowerCase();
  const stateWord =
    displayOf(record.state) ??
    STATE_WORDS[plainValue(record.state) ?? ''] ??
    plainValue(record.state) ??
    'unknown';
  // The record's revision: a transition's place in its history (deliveries come in any order).
  const sequence = /^\d{1,15}$/.test(modCount) ? { sequence: Number(modCount) } : {};
  let verdict: TicketVerdict;
  if (ENDED_STATES.has(state) || ENDED_STATES.has(stateWord.toLowerCase()))
    verdict = {
      kind: 'withdrawn',
      reason: `change ${number} is ${stateWord}: nothing of it is carried out any more`,
      withdrawal: `${sysId}:${modCount}`,
      ...sequence,
    };
  else if (approval === 'approved' && previous !== 'approved')
    verdict = { kind: 'approved', approval: `${sysId}:${modCount}`, ...sequence };
  else if (previous === 'approved' && approval !== 'approved')
    verdict = {
      kind: 'withdrawn',
      reason: `change ${number}'s approval moved from approved to '${approval || 'empty'}'`,
      withdrawal: `${sysId}:${modCount}`,
      ...sequence,
    };
  else
    verdict = {
      kind: 'ignored',
      reason: `change ${number}'s approval did not move to approved (it was '${previous || 'empty'}', it is '${approval || 'empty'}'): not an approval`,
    };
  const windowEnd = (field: 'start_date' | 'end_date'): string | undefined => {
    const raw = plainValue(record[field]);
    if (raw === undefined || raw === '') return undefined;
    const time = serviceNowTime(raw);
    if (time) return time;
    // A window read as "none" would apply the change at once: refused, naming the field.
    throw new InvalidInputError(`${field} is not a time`, [
      {
        path: field,
        message: `expected YYYY-MM-DD HH:MM:SS (UTC, as the Table API gives it), got ${JSON.stringify(raw).slice(0, 60)}`,
      },
    ]);
  };
  const prefer = fieldsMap.prefer
    ? preferOf(plainValue(record[fieldsMap.prefer]), fieldsMap.prefer)
    : undefined;
  const window = windowOf(windowEnd('start_date'), windowEnd('end_date'), prefer);
  const service = plainValue(record[fieldsMap.service]);
  const stickiness = plainValue(record[fieldsMap.stickiness]);
  const refs = farmRefsOf(plainValue(record[fieldsMap.farms]));
  const requester = record.requested_by;
  const planned = fieldsMap.plan
    ? approvedPlanOf(
        verdict.kind === 'approved',
        { path: fieldsMap.plan, value: plainValue(record[fieldsMap.plan]) },
        [
          { path: fieldsMap.service, given: service !== undefined },
          { path: fieldsMap.farms, given: refs.length > 0 },
          { path: fieldsMap.stickiness, given: stickiness !== undefined },
        ],
      )
    : {};
  return {
    ticket: number,
    verdict,
    requester: {
      id: plainValue(requester) ?? 'unknown',
      ...(displayOf(requester) ? { name: displayOf(requester)! } : {}),
    },
    changes: planned.plan ? [] : farmChangesOf(refs, service, stickiness),
    ...planned,
    ...window,
    ...(plainValue(record.short_description) ? { reason: plainValue(record.short_description)! } : {}),
    sentAt: updatedAt,
  };
};
