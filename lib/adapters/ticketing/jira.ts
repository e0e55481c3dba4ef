/**
 * Jira admin webhooks (`jira:issue_updated`, `jira:issue_created`, signed `X-Hub-Signature`):
 * which fields hold the service, the farms, the target stickiness and the window is
 * configuration (custom field ids differ per site). Only issues in an approved status ask for
 * a change; the requester is the issue's reporter.
 */
import type { TicketChangeSet } from '../../app/ticket-change';
import { InvalidInputError } from '../../domain/errors';
import { farmChangesOf, farmRefsOf, textOf, windowOf } from './field-values';

export interface JiraFieldMap {
  service: string;
  /** A text field (`http/101, tcp/201`), a list, or a multi-select. */
  farms: string;
  stickiness: string;
  notBefore?: string;
  notAfter?: string;
  /** Status names in which an issue's change is carried out. */
  approvedStatuses: string[];
}

/** The documented default: custom fields created for stickler (set your site's ids in TICKETING_JIRA_FIELDS). */
export const DEFAULT_JIRA_FIELDS: JiraFieldMap = {
  service: 'customfield_10100',
  farms: 'customfield_10101',
  stickiness: 'customfield_10102',
  notBefore: 'customfield_10103',
  notAfter: 'customfield_10104',
  approvedStatuses: ['Approved', 'Implementing'],
};

/** Jira's `2026-04-25T18:35:13.605+0530` (no colon in the offset) → ISO 8601. */
export const jiraTime = (value: unknown): string | undefined => {
  const text = textOf(value);
  if (!text) return undefined;
  const iso = text.replace(/([+-]\d\d)(\d\d)$/, '$1:$2');
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
};

export const readJiraWebhook = (
  json: unknown,
  fieldsMap: JiraFieldMap,
  deliveryId: string | undefined,
): TicketChangeSet => {
  const body = (json ?? {}) as {
    timestamp?: unknown;
    issue?: { key?: unknown; fields?: Record<string, unknown> };
  };
  const issue = body.issue;
  const key = textOf(issue?.key);
  if (!issue || !key || !issue.fields)
    throw new InvalidInputError('not a Jira issue webhook', [
      { path: 'issue', message: 'required (an issue with a key and fields)' },
    ]);
  const f = issue.fields;
  const reporter = (f.reporter ?? f.creator ?? {}) as {
    accountId?: unknown;
    name?: unknown;
    displayName?: unknown;
  };
  const status = textOf(f.status);
  const service = textOf(f[fieldsMap.service]);
  const stickiness = textOf(f[fieldsMap.stickiness]);
  const refs = farmRefsOf(f[fieldsMap.farms]);
  const notBefore = fieldsMap.notBefore ? jiraTime(f[fieldsMap.notBefore]) : undefined;
  const notAfter = fieldsMap.notAfter ? jiraTime(f[fieldsMap.notAfter]) : undefined;
  return {
    ticket: key,
    identity: deliveryId ?? textOf(f.updated) ?? key,
    requester: {
      id: textOf(reporter.accountId) ?? textOf(reporter.name) ?? 'unknown',
      ...(textOf(reporter.displayName) ? { name: textOf(reporter.displayName)! } : {}),
    },
    ...(status && fieldsMap.approvedStatuses.includes(status)
      ? {}
      : {
          notApproved: `issue ${key} is in status '${status ?? 'unknown'}', not one of ${fieldsMap.approvedStatuses.map((s) => `'${s}'`).join(', ')}`,
        }),
    changes: farmChangesOf(refs, service, stickiness),
    ...windowOf(notBefore, notAfter),
    ...(textOf(f.summary) ? { reason: textOf(f.summary)!.slice(0, 2000) } : {}),
    ...(typeof body.timestamp === 'number' && Number.isFinite(body.timestamp)
      ? { sentAt: new Date(body.timestamp).toISOString() }
      : {}),
  };
};
