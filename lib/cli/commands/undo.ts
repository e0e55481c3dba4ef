/**
 * `stickler undo REQUEST_ID... | --ticket KEY | --run RUN_ID --pipeline`: puts the farms of
 * applied requests back to what they were, from the outcomes the worker's records keep (before →
 * after), through the pipeline like any change: asked first, audited, serialised with every other
 * writer. A farm another request has changed since is refused, naming that request, unless
 * --force. `--ticket` alone undoes every request of the ticket (whatever its door), `--run` every
 * request of a CLI run or a compliance run; with request ids, `--ticket` is the ticket the undo
 * is recorded under.
 */

import type { UndoChange, UndoRefusal } from '../../app/pipeline-door';
import { RUN_ID } from '../../app/request-groups';
import { NotFoundError } from '../../domain/errors';
import { formatFarmRef } from '../../domain/farm';
import { toWord } from '../../domain/stickiness';
import { quoted } from '../../domain/text';
import type { Flags } from '../args';
import { type CliIo, EXIT, jsonDocument, UsageError } from '../io';
import { connectPipeline } from '../pipeline';
import { followTimeoutMs, requestThroughPipeline } from '../pipeline-run';
import { SESSION_LOSS_WARNING, table } from '../render';
import type { Session } from '../session';
import { confirmOrStop } from '../terminal';
import { checkTicket } from './apply';
import { requestIdsOf, requirePipeline } from './status';

/** What to undo: request ids, or every request of a ticket or of a run. */
type Selection = { ids: string[] } | { ticket: string } | { run: string };

const selectionOf = (flags: Flags, args: string[]): Selection => {
  if (flags.run !== undefined) {
    if (args.length > 0) throw new UsageError('give request ids or --run RUN_ID, not both');
    if (flags.ticket !== undefined && flags.run !== undefined)
      throw new UsageError('give --ticket KEY or --run RUN_ID, not both');
    if (!RUN_ID.test(flags.run))
      throw new UsageError(
        `--run: a run id is 1 to 64 letters, digits, _ or -, as printed by 'apply --pipeline' or a compliance run, got ${quoted(flags.run)}`,
      );
    return { run: flags.run };
  }
  if (args.length === 0 && flags.ticket !== undefined) return { ticket: flags.ticket };
  if (args.length === 0)
    throw new UsageError('usage: stickler undo REQUEST_ID... | --ticket KEY | --run RUN_ID --pipeline');
  return { ids: requestIdsOf('undo', args) };
};

/** What the undo's requests say they undo (bounded: the reason is free text of at most 2000 characters). */
const reasonOf = (selection: Selection, undone: string[]): string => {
  if ('ticket' in selection) return `undo of ticket ${selection.ticket}`;
  if ('run' in selection) return `undo of run ${selection.run}`;
  return undone.length <= 5 ? `undo of ${undone.join(', ')}` : `undo of ${undone.length} requests`;
};

/** The reverse changes (what each undoes, over what) and what cannot be undone, with why. */
const printUndoPlan = (io: CliIo, reverse: UndoChange[], refused: UndoRefusal[]) => {
  if (reverse.length > 0)
    io.stdout.write(
      `Undo:\n${table(
        reverse.map((r) => [
          r.alsoUndoes ? `${r.requestId} (and ${r.alsoUndoes.join(', ')})` : r.requestId,
          formatFarmRef(r.farm),
          `${r.from} → ${r.to}`,
          [
            r.newer
              ? `(forced over ${r.newer === 'outside' ? 'a change made outside stickler' : r.newer === 'between' ? 'a request between two of this undo' : r.newer})`
              : '',
            r.supersedes ? `(supersedes ${r.supersedes.requestId}, waiting until ${r.supersedes.until})` : '',
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
};

export async function undoCommand(
  session: () => Session,
  io: CliIo,
  flags: Flags,
  args: string[],
): Promise<number> {
  const selection = selectionOf(flags, args);
  requirePipeline(io, flags, 'undo');
  followTimeoutMs(flags);
  if (flags.ticket !== undefined) checkTicket(flags.ticket);
  const connection = await connectPipeline(io.env, flags);
  // A run is one of the caller's own (their identity): another operator's requests never join it.
  const ids =
    'ids' in selection
      ? selection.ids
      : await connection.door.findRequests(
          'run' in selection ? { run: selection.run, actorId: connection.actor.id } : selection,
        );
  if (ids.length === 0) {
    const what =
      'ticket' in selection ? `ticket ${selection.ticket}` : `run ${(selection as { run: string }).run}`;
    const message = `No request of ${what} in ${connection.where}'s records (unknown, or older than its records are kept).`;
    if (flags.json)
      io.stdout.write(jsonDocument({ where: connection.where, refused: [], changes: [], message }));
    else io.stdout.write(`${message}\n`);
    return EXIT.refused;
  }
  if (!flags.json && !('ids' in selection))
    io.stdout.write(
      `${'ticket' in selection ? `Ticket ${selection.ticket}` : `Run ${selection.run}`}: ${ids.length} request(s) in the records.\n`,
    );
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
  if (!flags.json) printUndoPlan(io, reverse, refused);
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
  const undone = reverse.flatMap((r) => [...(r.alsoUndoes ?? []), r.requestId]);
  const exit = await requestThroughPipeline(
    io,
    flags,
    connection,
    // Each undo is carried out only over what it showed: a change made after the question (by
    // another operator, say) is not overwritten; the worker refuses it `changed-since`. --force
    // asked for the farm's real value as "from", so it holds the same.
    reverse.map((r) => ({ farm: r.farm, stickiness: r.to, ifStores: r.from })),
    {
      actor: connection.actor,
      reason: `${reasonOf(selection, undone)}${flags.reason ? `: ${flags.reason}` : ''}`,
      ...(flags.ticket ? { ticket: flags.ticket } : {}),
    },
    { undoOf: undone, refused },
  );
  return exit === EXIT.ok && refused.length > 0 ? EXIT.refused : exit;
}
