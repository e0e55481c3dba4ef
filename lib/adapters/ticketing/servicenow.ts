/**
 * ServiceNow `change_request` records, pushed by an outbound REST message from a business rule
 * (README: the script, which signs `X-Hub-Signature-256`). Accepts the Table API shape (plain
 * strings, or `{value, display_value}` pairs), bare or in `{"result": …}`. Only approved changes in
 * state Scheduled or Implement ask for a change; the window is `start_date`/`end_date` (UTC).
 */
import type { TicketChangeSet } from '../../app/ticket-change';
import { InvalidInputError } from '../../domain/errors';
import { farmChangesOf, farmRefsOf, textOf, windowOf } from './field-values';

export interface ServiceNowFieldMap {
  service: string;
  farms: string;
  stickiness: string;
}

export const DEFAULT_SERVICENOW_FIELDS: ServiceNowFieldMap = {
  service: 'u_stickler_service',
  farms: 'u_stickler_farms',
  stickiness: 'u_stickler_stickiness',
};

/** Scheduled (-2) and Implement (-1), by value or display word. */
const ACTIONABLE_STATES = new Set(['-2', '-1', 'scheduled', 'implement']);

/** `2026-11-25 22:00:00` (UTC, as the Table API gives it) → ISO 8601. */
export const serviceNowTime = (value: unknown): string | undefined => {
  const text = textOf(value);
  if (!text) return undefined;
  const ms = Date.parse(`${text.replace(' ', 'T')}Z`);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
};

/** A field as plain value: `{value, display_value}` pairs give their value; numbers like 3.0 read as "3". */
const plainValue = (field: unknown): string | undefined => {
  if (field && typeof field === 'object' && 'value' in (field as object)) {
    const v = (field as { value: unknown }).value;
    return typeof v === 'number' ? String(Math.trunc(v)) : textOf(v);
  }
  return textOf(field);
};
const displayOf = (field: unknown): string | undefined =>
  field && typeof field === 'object' && 'display_value' in (field as object)
    ? textOf((field as { display_value: unknown }).display_value)
    : undefined;

export const readServiceNowChange = (json: unknown, fieldsMap: ServiceNowFieldMap): TicketChangeSet => {
  const wrapper = (json ?? {}) as { result?: unknown };
  const record = (wrapper.result ?? json ?? {}) as Record<string, unknown>;
  const number = plainValue(record.number);
  const sysId = plainValue(record.sys_id);
  if (!number || !sysId)
    throw new InvalidInputError('not a ServiceNow change_request record', [
      { path: 'number', message: 'required, with sys_id' },
    ]);
  const approval = plainValue(record.approval);
  const state = plainValue(record.state);
  const stateWord = displayOf(record.state) ?? state;
  const actionable = approval === 'approved' && ACTIONABLE_STATES.has((state ?? '').toLowerCase());
  const service = plainValue(record[fieldsMap.service]);
  const stickiness = plainValue(record[fieldsMap.stickiness]);
  const refs = farmRefsOf(plainValue(record[fieldsMap.farms]));
  const notBefore = serviceNowTime(plainValue(record.start_date));
  const notAfter = serviceNowTime(plainValue(record.end_date));
  const requester = record.requested_by;
  const updatedAt = serviceNowTime(plainValue(record.sys_updated_on));
  return {
    ticket: number,
    identity: `${sysId}:${plainValue(record.sys_mod_count) ?? '0'}`,
    requester: {
      id: plainValue(requester) ?? 'unknown',
      ...(displayOf(requester) ? { name: displayOf(requester)! } : {}),
    },
    ...(actionable
      ? {}
      : {
          notApproved: `change ${number} is ${approval ?? 'not approved'} in state '${stateWord ?? 'unknown'}': only approved changes in Scheduled or Implement are carried out`,
        }),
    changes: farmChangesOf(refs, service, stickiness),
    ...windowOf(notBefore, notAfter),
    ...(plainValue(record.short_description)
      ? { reason: plainValue(record.short_description)!.slice(0, 2000) }
      : {}),
    ...(updatedAt ? { sentAt: updatedAt } : {}),
  };
};
