/**
 * `stickler undo REQUEST_ID... --pipeline`: puts the farms of applied requests back to what they
 * were, from the outcomes the worker's records keep (before → after), through the pipeline like
 * any change: asked first, audited, serialised with every other writer. A farm another request
 * has changed since is refused, naming that request, unless --force.
 */
import { NotFoundError } from '../../domain/errors';
import { formatFarmRef } from '../../domain/farm';
import { toWord } from '../../domain/stickiness';
import type { Flags } from '../args';
import { type CliIo, EXIT, jsonDocument } from '../io';
import { connectPipeline } from '../pipeline';
import { followTimeoutMs, requestThroughPipeline } from '../pipeline-run';
import { SESSION_LOSS_WARNING, table } from '../render';
import type { Session } from '../session';
import { confirmOrStop } from '../terminal';
import { checkTicket } from './apply';
import { requestIdsOf, requirePipeline } from './status';

export async function undoCommand(
  session: () => Session,
  io: CliIo,
  flags: Flags,
  args: string[],
): Promise<number> {
  const ids = requestIdsOf('undo', args);
  requirePipeline(io, flags, 'undo');
  followTimeoutMs(flags);
  if (flags.ticket !== undefined) checkTicket(flags.ticket);
  const connection = await connectPipeline(io.env, flags);
  // Each farm is read as stored now: a change made since, even outside stickler, is seen.
  const { api } = session();
  const { reverse, refused } = await connection.door.planUndo(ids, flags.force ?? false, async (ref) => {
    try {
      return toWord((await api.getFarm(ref)).stickiness);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  });
  if (!flags.json) {
    if (reverse.length > 0)
      io.stdout.write(
        `Undo:\n${table(
          reverse.map((r) => [
            r.requestId,
            formatFarmRef(r.farm),
            `${r.from} → ${r.to}`,
            [
              r.newer
                ? `(forced over ${r.newer === 'outside' ? 'a change made outside stickler' : r.newer})`
                : '',
              r.supersedes
                ? `(supersedes ${r.supersedes.requestId}, waiting until ${r.supersedes.until})`
                : '',
            ]
              .filter(Boolean)
              .join(' '),
          ]),
        )}\n`,
      );
    if (refused.length > 0)
      io.stdout.write(
        `Not undone:\n${table(refused.map((r) => [r.requestId, `${r.reason}${r.newer ? ' (--force undoes it anyway)' : ''}`]))}\n`,
      );
  }
  if (reverse.length === 0) {
    if (flags.json) io.stdout.write(jsonDocument({ where: connection.where, refused, changes: [] }));
    return EXIT.refused;
  }
  if (!flags.json) io.stdout.write(`\nWARNING: ${SESSION_LOSS_WARNING}\n\n`);
  const stop = await confirmOrStop(
    io,
    flags,
    `Undo ${reverse.length} change(s) through ${connection.where}?`,
  );
  if (stop !== undefined) return stop;
  const undone = reverse.map((r) => r.requestId).join(', ');
  const exit = await requestThroughPipeline(
    io,
    flags,
    connection,
    reverse.map((r) => ({ farm: r.farm, stickiness: r.to })),
    {
      actor: connection.actor,
      reason: `undo of ${undone}${flags.reason ? `: ${flags.reason}` : ''}`,
      ...(flags.ticket ? { ticket: flags.ticket } : {}),
    },
    { undoOf: reverse.map((r) => r.requestId), refused },
  );
  return exit === EXIT.ok && refused.length > 0 ? EXIT.refused : exit;
}
