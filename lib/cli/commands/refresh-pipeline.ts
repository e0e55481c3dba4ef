/**
 * `stickler refresh SERVICE ZONE --pipeline`: the zone's count of unapplied changes read from OVH
 * and shown with the session-loss warning, a confirmation, then one `Zone Refresh Requested`
 * carrying that count (`ifPending`) through the pipeline, followed to its outcome. The worker
 * applies the zone under the load balancer's lease (never racing its own writes there) only if it
 * still holds what was approved; otherwise it refuses `changed-since`, and nothing is applied.
 */
import type { ZoneRefreshResult } from '../../app/refresh-door';
import { newRefreshId } from '../../app/refresh-door';
import type { TerminalOutcome } from '../../domain/audit-events';
import { RECORD_KEYS } from '../../domain/change-request';
import { ALL_ZONES } from '../../domain/farm';
import { plainText } from '../../domain/text';
import { unappliedCountIn } from '../../domain/zones';
import { systemClock } from '../../ports/clock';
import type { Flags } from '../args';
import { type CliIo, EXIT, jsonDocument, UsageError } from '../io';
import { connectPipeline, type PipelineConnection } from '../pipeline';
import { followOptionsOf, followTimeoutMs, stopWaitingOnInterrupt } from '../pipeline-run';
import { SESSION_LOSS_WARNING } from '../render';
import type { Session } from '../session';
import { confirmOrStop } from '../terminal';

/** The exit code of each outcome: the README's (0 done, 2 refused, 1 failed or not known). */
const EXIT_OF: Record<ZoneRefreshResult['outcome'], number> = {
  applied: EXIT.ok,
  unchanged: EXIT.ok,
  refused: EXIT.refused,
  failed: EXIT.error,
  cancelled: EXIT.error,
  deferred: EXIT.error,
  'not-published': EXIT.error,
  running: EXIT.error,
};

/** The zone's count of unapplied changes, after checking that the load balancer has the zone. */
const pendingOf = async (session: () => Session, service: string, zone: string): Promise<number> => {
  const { api } = session();
  const known = await api.listZones(service);
  if (zone !== ALL_ZONES && !known.includes(zone))
    throw new UsageError(
      `${service} has no zone '${zone.slice(0, 40)}' (its zones: ${known.join(', ') || 'none'}, or all)`,
    );
  return unappliedCountIn(await api.pendingChanges(service))(zone);
};

/** One sentence per outcome, for a person. */
export const describeOutcome = (service: string, zone: string, out: ZoneRefreshResult): string => {
  const where = `Zone ${zone} of ${service}`;
  const t = out.terminal;
  const said = t?.message ? plainText(t.message, 600) : '';
  switch (out.outcome) {
    case 'applied':
      return `${where} applied through the pipeline (refresh ${out.refreshId}${t?.taskId ? `, task ${t.taskId}` : ''}).\n`;
    case 'unchanged':
      return `${where} held no unapplied change any more when the worker came to it: nothing applied (refresh ${out.refreshId}).\n`;
    case 'not-published':
      return `Not requested: the bus did not take the refresh ${out.refreshId} (${out.detail ?? 'refused'}); nothing was asked. Try again.\n`;
    case 'running':
      return `The refresh ${out.refreshId} is published but has no outcome yet${out.detail ? ` (${out.detail})` : ''}: 'stickler status ${out.refreshId} --pipeline' says where it stands.\n`;
    case 'refused':
      return `${where} NOT applied: refused${t?.code ? ` (${t.code})` : ''}: ${said} (refresh ${out.refreshId}).\n`;
    default:
      return `${where} NOT applied: ${out.outcome}${t?.code ? ` (${t.code})` : ''}: ${said} (refresh ${out.refreshId}).\n`;
  }
};

const jsonOf = (
  connection: PipelineConnection,
  ask: { service: string; zone: string; pending: number },
  out?: ZoneRefreshResult,
) => ({
  mode: 'pipeline',
  where: connection.where,
  actor: connection.actor,
  service: ask.service,
  zone: ask.zone,
  pendingChanges: ask.pending,
  refreshId: out?.refreshId ?? null,
  outcome: out?.outcome ?? 'unchanged',
  code: out?.terminal?.code ?? (out?.outcome === 'not-published' ? (out.detail ?? null) : null),
  message: out?.terminal?.message ?? null,
  taskId: out?.terminal?.taskId ?? null,
  decidedAt: out?.terminal?.decidedAt ?? null,
});

export async function refreshThroughPipeline(
  session: () => Session,
  io: CliIo,
  flags: Flags,
  service: string,
  zone: string,
): Promise<number> {
  followTimeoutMs(flags); // --wait checked before anything is read
  const connection = await connectPipeline(io.env, flags);
  const lookedAt = systemClock.now().toISOString();
  const pending = await pendingOf(session, service, zone);
  if (pending === 0) {
    if (flags.json) io.stdout.write(jsonDocument(jsonOf(connection, { service, zone, pending })));
    else io.stdout.write(`Zone ${zone} of ${service} has no unapplied changes: nothing to apply.\n`);
    return EXIT.ok;
  }
  if (!flags.json)
    io.stdout.write(
      `Zone ${zone} of ${service} holds ${pending} unapplied change(s), made by stickler or anyone else.\n` +
        `WARNING: ${SESSION_LOSS_WARNING}\n`,
    );
  const stop = await confirmOrStop(io, flags, `Apply zone ${zone} of ${service} through the pipeline?`);
  if (stop !== undefined) return stop;
  const refreshId = newRefreshId(systemClock.now());
  if (!flags.json)
    io.stderr.write(
      `Requesting the refresh of zone ${zone} of ${service} (${pending} change(s)) through ${connection.where} as ${connection.actor.id} (refresh ${refreshId}).\n`,
    );
  const asker = { actor: connection.actor, reason: flags.reason ?? `stickler refresh ${service} ${zone}` };
  const out = await stopWaitingOnInterrupt(io, (signal) =>
    connection.door.refresh(
      refreshId,
      { service, zone, ifPending: pending, lookedAt },
      asker,
      followOptionsOf(io, flags, connection, signal),
    ),
  );
  if (flags.json) io.stdout.write(jsonDocument(jsonOf(connection, { service, zone, pending }, out)));
  else io.stdout.write(describeOutcome(service, zone, out));
  return EXIT_OF[out.outcome];
}

/**
 * For `stickler status`: the ids not found among change requests, looked up as zone refreshes
 * (their records are `~refresh:<id>`). Returns the outcomes found, by id.
 */
export const refreshStatuses = async (
  connection: PipelineConnection,
  ids: readonly string[],
): Promise<
  Map<string, { kind: 'ended'; terminal: TerminalOutcome } | { kind: 'running'; state?: string }>
> => {
  if (ids.length === 0) return new Map();
  const found = await connection.door.status(ids.map(RECORD_KEYS.refresh));
  return new Map(
    ids.flatMap((id) => {
      const o = found.get(RECORD_KEYS.refresh(id));
      if (!o || o.kind === 'deferred' || (o.kind === 'running' && !o.state)) return [];
      return [[id, o] as const];
    }),
  );
};
