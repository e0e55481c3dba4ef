/** Human output: plans read like an infrastructure plan, grouped by service and zone. */
import type { ApplyReport } from '../app/apply-plan';
import type { StoredNotApplied } from '../app/plan-policy';
import type { TrafficReport } from '../app/read-traffic';
import type { ZoneWaitingSlot } from '../app/waiting-slot';
import { type Farm, formatFarmRef } from '../domain/farm';
import type { Change, ChangeOrigin, Plan, Rejection } from '../domain/plan';
import { type Stickiness, toWord } from '../domain/stickiness';
import { formatRate, formatUtcMinute } from '../domain/traffic';
import { batchByZone, type PendingChange, SESSION_LOSS_WARNING } from '../domain/zones';

export { SESSION_LOSS_WARNING };

const w = (s: Stickiness) => toWord(s);
const origin = (o: ChangeOrigin) =>
  o.kind === 'rule' ? o.rule : `request ${o.requestId}${o.ticket ? ` (${o.ticket})` : ''}`;

/** Left-aligned columns, two spaces apart. */
export const table = (rows: string[][], indent = '  '): string => {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) => indent + r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '))
    .join('\n');
};

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export const renderChanges = (changes: readonly Change[]): string => {
  const out: string[] = [];
  for (const batch of batchByZone(changes)) {
    out.push(`${batch.service} · zone ${batch.zone}`);
    const rows = [['FARM', 'NAME', 'FROM', '', 'TO', 'BECAUSE']];
    for (const c of batch.changes) {
      rows.push([
        `${c.farm.type}/${c.farm.farmId}${batch.zone !== c.farm.zone ? ` (${c.farm.zone})` : ''}`,
        c.farm.displayName ?? '-',
        w(c.from),
        '→',
        w(c.to),
        origin(c.origin),
      ]);
    }
    out.push(table(rows), '');
  }
  return out.join('\n');
};

export const renderRejections = (title: string, list: readonly Rejection[]): string =>
  list.length === 0
    ? ''
    : [
        `${title}:`,
        ...list.map(
          (r) =>
            `  ${formatFarmRef(r.ref)}${r.farm?.displayName ? ` ${r.farm.displayName}` : ''} → ${r.to === undefined ? '?' : w(r.to)}: ${r.reason} [${origin(r.origin)}]`,
        ),
        '',
      ].join('\n');

/**
 * Farms that store their target in a zone holding unapplied changes: not compliant yet, since
 * traffic may still see the old value (a refresh that failed or was cut, a control-panel edit).
 */
export const renderStoredNotApplied = (list: readonly StoredNotApplied[]): string => {
  if (list.length === 0) return '';
  const zones = new Set(list.filter((s) => !s.own).map((s) => `${s.farm.service} ${s.farm.zone}`));
  const own = new Set(list.filter((s) => s.own).map((s) => `${s.farm.service} ${s.farm.zone}`));
  return [
    'Stored, not applied (the zone holds unapplied changes: the farm may not run its value yet):',
    ...list.map(
      (s) =>
        `  ${formatFarmRef(s.farm)}${s.farm.displayName ? ` ${s.farm.displayName}` : ''} stores ${w(s.farm.stickiness)}; zone ${s.farm.zone} holds ${plural(s.pending, 'unapplied change')}${s.own ? ", all this machine's own earlier writes" : ''} [${origin(s.origin)}]`,
    ),
    ...(own.size > 0
      ? [
          `  A direct 'stickler apply' refreshes the zones holding only this machine's earlier writes (a refresh of an earlier apply failed), after asking: ${[...own].join(', ')}`,
        ]
      : []),
    ...(zones.size > 0
      ? [`  'stickler refresh SERVICE ZONE' shows and applies them, after asking: ${[...zones].join(', ')}`]
      : []),
    '',
  ].join('\n');
};

export const renderPlan = (plan: Plan, storedNotApplied: readonly StoredNotApplied[] = []): string => {
  const zones = batchByZone(plan.changes);
  const head = `Plan: ${plural(plan.changes.length, 'change')} in ${plural(zones.length, 'zone')}, ${plan.unchanged.length - storedNotApplied.length} compliant${storedNotApplied.length > 0 ? `, ${storedNotApplied.length} stored but not applied` : ''}, ${plan.invalid.length} invalid.`;
  const parts = [head, ''];
  if (plan.changes.length > 0) parts.push(renderChanges(plan.changes));
  parts.push(renderRejections('Invalid (never written)', plan.invalid));
  parts.push(renderStoredNotApplied(storedNotApplied));
  if (plan.changes.length === 0 && plan.invalid.length === 0 && storedNotApplied.length === 0)
    parts.push('Every matched farm complies with the policy.', '');
  return parts.filter((p, i) => p !== '' || parts[i - 1] !== '').join('\n');
};

/**
 * A saved plan as `apply FILE` shows it: its changes, and the zones of its load balancers that
 * held unapplied changes when it was made (they hold the same now, or the plan would be stale):
 * a saved plan says nothing of compliance, and applies none of those zones but where it writes.
 */
export const renderSavedPlan = (
  plan: Plan,
  saved: {
    file: string;
    digest: string;
    createdAt: string;
    pending: readonly (PendingChange & { service: string })[];
  },
): string => {
  const zones = batchByZone(plan.changes);
  const parts = [
    `Saved plan ${saved.file} (digest ${saved.digest.slice(0, 16)}…, made ${saved.createdAt}): ${plural(plan.changes.length, 'change')} in ${plural(zones.length, 'zone')}.`,
    '',
  ];
  if (plan.changes.length > 0) parts.push(renderChanges(plan.changes));
  const dirty = saved.pending.filter((p) => p.number > 0);
  if (dirty.length > 0)
    parts.push(
      [
        'Zones holding unapplied changes (stored, not applied: their farms may not run what they store yet):',
        ...dirty.map((p) => `  ${p.service} ${p.zone}: ${plural(p.number, 'unapplied change')}`),
        "  'stickler refresh SERVICE ZONE' shows and applies them, after asking",
        '',
      ].join('\n'),
    );
  else if (plan.changes.length === 0) parts.push('Nothing to apply: the plan holds no change.', '');
  return parts.filter((p, i) => p !== '' || parts[i - 1] !== '').join('\n');
};

export const renderApplyReport = (report: ApplyReport): string => {
  const out = [
    `Applied ${report.applied.length}, unchanged ${report.unchanged.length}, refused ${report.refused.length}, failed ${report.failed.length}.`,
  ];
  if (report.refreshes.length > 0) {
    out.push('', 'Zone applies:');
    out.push(
      table(
        report.refreshes.map((r) => [
          r.service,
          r.zone,
          r.taskId === null ? 'no task' : `task ${r.taskId}`,
          r.status,
          `${r.changes} change(s)${r.error ? `: ${r.error}` : ''}`,
        ]),
      ),
    );
  }
  if (report.refused.length > 0)
    out.push('', renderRejections('Refused (nothing written)', report.refused).trimEnd());
  if (report.failed.length > 0) {
    out.push('', 'Failed:');
    for (const f of report.failed) {
      out.push(
        `  ${formatFarmRef(f.ref)} → ${w(f.to)}: ${f.reason}${f.retryable ? ' (retrying later may help)' : ''} [${origin(f.origin)}]`,
      );
    }
  }
  return `${out.join('\n')}\n`;
};

export const renderFleet = (
  farms: readonly Farm[],
  pending: ReadonlyMap<string, readonly PendingChange[]>,
): string => {
  const out: string[] = [];
  const services = [...new Set(farms.map((f) => f.service))];
  for (const service of services) {
    const list = farms.filter((f) => f.service === service);
    const zonePending = new Map((pending.get(service) ?? []).map((p) => [p.zone, p.number]));
    out.push(`${service}`);
    const rows = [['ZONE', 'FARM', 'NAME', 'STICKINESS', 'APPLIED']];
    for (const f of list) {
      const n =
        f.zone === 'all'
          ? [...zonePending.values()].reduce((a, b) => a + b, 0)
          : (zonePending.get(f.zone) ?? 0) + (zonePending.get('all') ?? 0);
      rows.push([
        f.zone,
        `${f.type}/${f.farmId}`,
        f.displayName ?? '-',
        f.type === 'udp' ? '(n/a)' : w(f.stickiness),
        n > 0 ? `unknown: zone has ${plural(n, 'unapplied change')}` : 'yes',
      ]);
    }
    out.push(table(rows), '');
  }
  return out.join('\n');
};

/**
 * The traffic of each load balancer and the quietest slot of the window, one line per service;
 * a service without metrics says so and why.
 */
export const renderTraffic = (report: TrafficReport, what: string): string => {
  if (report.services.length === 0) return '';
  const rows = report.services.map((t) => [
    t.service,
    t.known
      ? `now ${formatRate(t.now.requestsPerSecond)} req/s, ${formatRate(t.now.connectionsPerSecond)} conn/s; ` +
        (t.quietest
          ? `quietest in the window: ${formatUtcMinute(t.quietest.at)} (≈ ${formatRate(t.quietest.typicalRate)} req/s typical)`
          : `quietest in the window: unknown (${t.quietestUnknown ?? 'no history'})`)
      : `traffic unknown: ${t.reason}`,
  ]);
  return [
    `Traffic of ${what}, window ${formatUtcMinute(report.window.start)} → ${formatUtcMinute(report.window.end)}`,
    '(each load balancer as a whole, every zone and farm together; typical = median of the same 5 minutes over 7 days):',
    table(rows),
    '',
  ].join('\n');
};

/** Whether a request preferring the quietest time joins a waiting slot, in words. */
const slotVerdict = (s: ZoneWaitingSlot): string => {
  if (!s.inWindow) return 'outside the window';
  if (s.joinedBy.length === 0)
    return 'in the window (another is joined: quieter, earlier, or of a zone first by name at the same time)';
  const whose =
    s.joinedBy.length === 1 && s.joinedBy[0] === s.zone ? '' : ` for zone ${s.joinedBy.join(', ')}`;
  return `in the window: a request${whose} preferring the quietest time joins it`;
};

/**
 * The slots the zones an apply would refresh already wait for in the pipeline (another request's):
 * of those a window holds, a request preferring the quietest time joins one per zone (the
 * quietest, then the earliest), said "joins it".
 */
export const renderWaitingSlots = (slots: readonly ZoneWaitingSlot[]): string => {
  if (slots.length === 0) return 'No zone an apply would refresh waits for a slot in the pipeline.\n';
  const rows = slots.map((s) => [
    `${s.service} · zone ${s.zone}`,
    `waiting slot: ${formatUtcMinute(s.slot.at)} (≈ ${formatRate(s.slot.typicalRate)} req/s typical), ${slotVerdict(s)}`,
  ]);
  return [
    "Zones that already wait for another request's slot in the pipeline (one refresh for them):",
    table(rows),
    '',
  ].join('\n');
};
