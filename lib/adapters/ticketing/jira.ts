/**
 * Jira admin webhooks (signed `X-Hub-Signature`). Which fields hold the service, the farms, the
 * target stickiness, the window and the preference for its quietest time is configuration
 * (custom field ids differ per site).
 *
 * A change is asked for only by the approval itself: a `jira:issue_updated` whose changelog moves
 * the status *into* an approved status from one that is not. The approval's identity is that
 * changelog's id, and the change is what the issue's fields said in that very delivery. Anything
 * else is answered and ignored: comments (stickler's own outcome comments come back this way),
 * edits while approved (an edit of the change's fields after approval is ignored with a notice:
 * approve it again), moves between approved statuses, deletions, other events. `jira:issue_created`
 * counts only when the configuration says so (`approveOnCreate`) and the issue is created approved.
 * A move out of the approved statuses withdraws the approval.
 */
import type { TicketChangeSet, TicketVerdict } from '../../app/ticket-change';
import { InvalidInputError } from '../../domain/errors';
import { approvedPlanOf, farmChangesOf, farmRefsOf, preferOf, textOf, windowOf } from './field-values';

export interface JiraFieldMap {
  service: string;
  /** A text field (`http/101, tcp/201`), a list, or a multi-select. */
  farms: string;
  stickiness: string;
  notBefore?: string;
  notAfter?: string;
  /** `quietest` (text or select) applies at the quietest slot of the window; empty, as soon as it opens. No default. */
  prefer?: string;
  /**
   * A text field holding a saved plan's digest (registered with `stickler plan --out FILE
   * --pipeline`): the issue approves that plan's changes instead of the farms field's. No default.
   */
  plan?: string;
  /** Status names in which an issue's change is approved. */
  approvedStatuses: string[];
  /** An issue created directly in an approved status counts as approved (default false). */
  approveOnCreate?: boolean;
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

/** A date-time with its offset, as Jira writes one (`2026-04-25T18:35:13.605+0530`) or in ISO 8601. */
const JIRA_DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?(Z|[+-]\d\d:?\d\d)$/;

/** Jira's `2026-04-25T18:35:13.605+0530` (no colon in the offset) → ISO 8601; undefined when it is not one. */
export const jiraTime = (value: unknown): string | undefined => {
  const text = typeof value === 'string' ? value.trim() : undefined;
  if (!text || !JIRA_DATE_TIME.test(text)) return undefined;
  const ms = Date.parse(text.replace(/([+-]\d\d)(\d\d)$/, '$1:$2'));
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
};

/**
 * A window field: empty is no bound; anything else must be a date-time with its offset, or the
 * delivery is refused naming the field (a window read as "none" would apply the change at once).
 */
const windowField = (fields: Record<string, unknown>, id: string | undefined): string | undefined => {
  if (!id) return undefined;
  const value = fields[id];
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === ''))
    return undefined;
  const time = jiraTime(value);
  if (time) return time;
  throw new InvalidInputError(`issue field ${id} is not a date-time`, [
    {
      path: `issue.fields.${id}`,
      message: `expected a date-time with its offset (as Jira writes one: 2026-04-25T18:35:00.000+0200), got ${JSON.stringify(value).slice(0, 60)}`,
    },
  ]);
};

interface ChangelogItem {
  field?: unknown;
  fieldId?: unknown;
  fromString?: unknown;
  toString?: unknown;
}

/** Jira's changelog ids grow with the site's history: a transition's place in its issue's. */
const sequenceOf = (changelogId: string): { sequence?: number } =>
  /^\d{1,15}$/.test(changelogId) ? { sequence: Number(changelogId) } : {};

const missing = (path: string, what: string) =>
  new InvalidInputError(`not a Jira webhook stickler can read: ${path} is missing`, [
    { path, message: `missing (${what})` },
  ]);

/** What the delivery means: see the module's comment. */
const verdictOf = (
  body: { webhookEvent?: unknown; issue_event_type_name?: unknown; comment?: unknown; changelog?: unknown },
  key: string,
  issueId: string | undefined,
  status: string | undefined,
  map: JiraFieldMap,
): TicketVerdict => {
  const approved = (s: unknown) => typeof s === 'string' && map.approvedStatuses.includes(s);
  const event = textOf(body.webhookEvent) ?? 'unknown';
  const changelog = (body.changelog ?? {}) as { id?: unknown; items?: unknown };
  const items = (Array.isArray(changelog.items) ? changelog.items : []) as ChangelogItem[];
  if (event === 'jira:issue_created') {
    if (!map.approveOnCreate)
      return {
        kind: 'ignored',
        reason: `issue ${key} was created: creation is not an approval (only a move into ${map.approvedStatuses.join(' or ')} is)`,
      };
    if (!approved(status))
      return {
        kind: 'ignored',
        reason: `issue ${key} was created in status '${status ?? 'unknown'}', not an approved one`,
      };
    return { kind: 'approved', approval: `created:${issueId ?? key}`, sequence: 0 };
  }
  if (event === 'jira:issue_deleted')
    return {
      kind: 'withdrawn',
      reason: `issue ${key} was deleted: nothing of it is carried out any more`,
      withdrawal: `deleted:${issueId ?? key}`,
      // Final: no approval of a deleted issue, delivered late, is acted on.
      sequence: Number.MAX_SAFE_INTEGER,
    };
  if (event !== 'jira:issue_updated')
    return {
      kind: 'ignored',
      reason: `'${event.slice(0, 64)}' is not an event stickler acts on (only an issue moved into an approved status)`,
    };
  const move = items.find(
    (i) => textOf(i.fieldId) === 'status' || textOf(i.field)?.toLowerCase() === 'status',
  );
  if (move) {
    const from = textOf(move.fromString);
    const to = textOf(move.toString);
    if (approved(to) && !approved(from)) {
      const id = textOf(changelog.id);
      if (!id) throw missing('changelog.id', "the approval's identity");
      return { kind: 'approved', approval: `changelog:${id}`, ...sequenceOf(id) };
    }
    if (approved(from) && !approved(to)) {
      const id = textOf(changelog.id);
      if (!id) throw missing('changelog.id', "the withdrawal's identity");
      return {
        kind: 'withdrawn',
        reason: `issue ${key} moved from '${from}' to '${to ?? 'unknown'}': its approval is withdrawn`,
        withdrawal: `changelog:${id}`,
        ...sequenceOf(id),
      };
    }
    return {
      kind: 'ignored',
      reason: `issue ${key} moved from '${from ?? 'unknown'}' to '${to ?? 'unknown'}': not an approval`,
    };
  }
  const ours = new Set(
    [map.service, map.farms, map.stickiness, map.notBefore, map.notAfter, map.prefer, map.plan].filter(
      Boolean,
    ),
  );
  const edited = items.filter((i) => ours.has(textOf(i.fieldId) ?? ''));
  if (edited.length > 0 && approved(status))
    return {
      kind: 'ignored',
      reason: `issue ${key}'s change was edited after its approval (${edited.map((i) => textOf(i.field) ?? textOf(i.fieldId)).join(', ')}): only what was approved is carried out`,
      notice: `stickler: this issue's change was edited after it was approved, so the edit is not carried out. To carry it out, approve the issue again (move it out of ${map.approvedStatuses.join('/')} and back).`,
    };
  if (textOf(body.issue_event_type_name) === 'issue_commented' || body.comment !== undefined)
    return { kind: 'ignored', reason: `a comment on issue ${key}: not an approval` };
  return {
    kind: 'ignored',
    reason: `issue ${key} was updated without moving into an approved status: not an approval`,
  };
};

export const readJiraWebhook = (json: unknown, fieldsMap: JiraFieldMap): TicketChangeSet => {
  const body = (json !== null && typeof json === 'object' ? json : {}) as {
    timestamp?: unknown;
    webhookEvent?: unknown;
    issue?: { id?: unknown; key?: unknown; fields?: Record<string, unknown> };
  };
  if (body.timestamp === undefined) throw missing('timestamp', 'when Jira sent it');
  if (
    typeof body.timestamp !== 'number' ||
    !Number.isFinite(body.timestamp) ||
    Math.abs(body.timestamp) > 8.64e15
  )
    throw new InvalidInputError('not a Jira webhook stickler can read: timestamp is not a time', [
      { path: 'timestamp', message: 'expected epoch milliseconds (a finite number)' },
    ]);
  const issue = body.issue;
  if (!issue || typeof issue !== 'object') throw missing('issue', 'the issue');
  const key = textOf(issue.key);
  if (!key) throw missing('issue.key', "the issue's key");
  if (!issue.fields || typeof issue.fields !== 'object') throw missing('issue.fields', "the issue's fields");
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
  const notBefore = windowField(f, fieldsMap.notBefore);
  const notAfter = windowField(f, fieldsMap.notAfter);
  const prefer = fieldsMap.prefer
    ? preferOf(f[fieldsMap.prefer], `issue.fields.${fieldsMap.prefer}`)
    : undefined;
  const verdict = verdictOf(body, key, textOf(issue.id), status, fieldsMap);
  const field = (id: string) => `issue.fields.${id}`;
  const planned = fieldsMap.plan
    ? approvedPlanOf(verdict.kind === 'approved', { path: field(fieldsMap.plan), value: f[fieldsMap.plan] }, [
        { path: field(fieldsMap.service), given: service !== undefined },
        { path: field(fieldsMap.farms), given: refs.length > 0 },
        { path: field(fieldsMap.stickiness), given: stickiness !== undefined },
      ])
    : {};
  return {
    ticket: key,
    verdict,
    requester: {
      id: textOf(reporter.accountId) ?? textOf(reporter.name) ?? 'unknown',
      ...(textOf(reporter.displayName) ? { name: textOf(reporter.displayName)! } : {}),
    },
    changes: planned.plan ? [] : farmChangesOf(refs, service, stickiness),
    ...planned,
    ...windowOf(notBefore, notAfter, prefer),
    ...(textOf(f.summary) ? { reason: textOf(f.summary)! } : {}),
    sentAt: new Date(body.timestamp).toISOString(),
  };
};
