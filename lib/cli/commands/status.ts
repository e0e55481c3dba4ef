/**
 * `stickler status REQUEST_ID... --pipeline`: where requests stand in the worker's records, and their
 * outcomes; a zone refresh's id (`stickler refresh --pipeline`) too.
 */
import type { FollowedOutcome } from '../../app/follow-requests';
import { REQUEST_ID_PATTERN, REQUEST_ID_RULE } from '../../domain/change-request';
import { plainText } from '../../domain/text';
import type { Flags } from '../args';
import { type CliIo, EXIT, jsonDocument, UsageError } from '../io';
import { connectPipeline, pipelineAsked } from '../pipeline';
import { table } from '../render';
import { refreshStatuses } from './refresh-pipeline';

/** Request ids as the CLI takes them: checked before anything is asked. */
export const requestIdsOf = (command: string, args: readonly string[], max = 100): string[] => {
  if (args.length === 0) throw new UsageError(`usage: stickler ${command} REQUEST_ID... --pipeline`);
  const distinct = new Set(args).size;
  if (distinct > max) throw new UsageError(`at most ${max} request ids at once, got ${distinct}`);
  for (const id of args)
    if (!REQUEST_ID_PATTERN.test(id))
      throw new UsageError(`'${plainText(id, 60)}' is not a request id: ${REQUEST_ID_RULE}`);
  return [...new Set(args)];
};

export const requirePipeline = (io: CliIo, flags: Flags, command: string) => {
  if (!pipelineAsked(io.env, flags))
    throw new UsageError(
      `'${command}' works on the pipeline's records: add --pipeline (the environment's pipeline) or --stage STAGE`,
    );
};

const describe = (o: FollowedOutcome): { state: string; text: string } => {
  if (o.kind === 'deferred') return { state: 'deferred', text: `waits for its change window (${o.until})` };
  if (o.kind === 'running')
    return o.state
      ? {
          state: o.state === 'decided' ? 'decided' : 'running',
          text: o.state === 'decided' ? 'decided, its audit events going out' : `no outcome yet (${o.state})`,
        }
      : {
          state: 'unknown',
          text: "not in the worker's records (not yet taken, unknown, or older than records are kept)",
        };
  const t = o.terminal;
  const farm = t.service ? `${t.service}${t.farmType ? ` ${t.farmType}/${t.farmId}` : ''}` : 'no farm';
  return {
    state: t.outcome,
    text: `${farm}${t.before || t.after ? `: ${t.before ?? '?'} → ${t.after ?? '?'}` : ''}${t.zone ? `, zone ${t.zone}` : ''}${t.code && t.code !== t.outcome ? ` [${plainText(t.code, 64)}]` : ''}${t.message && t.outcome !== 'applied' ? ` ${plainText(t.message, 200)}` : ''} (${t.decidedAt})`,
  };
};

export async function statusCommand(io: CliIo, flags: Flags, args: string[]): Promise<number> {
  const ids = requestIdsOf('status', args);
  requirePipeline(io, flags, 'status');
  const connection = await connectPipeline(io.env, flags);
  const found = await connection.door.status(ids);
  // An id the change requests do not know may be a zone refresh's (`stickler refresh --pipeline`);
  // a refresh's id (`refresh-…`) is looked up as a refresh first: a change request published
  // under the same id by anyone else never hides the refresh.
  const unknown = ids.filter(
    (id) =>
      id.startsWith('refresh-') ||
      (found.get(id)?.kind === 'running' && !(found.get(id) as { state?: string }).state),
  );
  for (const [id, o] of await refreshStatuses(connection, unknown)) found.set(id, o);
  if (flags.json) {
    io.stdout.write(
      jsonDocument({
        where: connection.where,
        requests: ids.map((id) => {
          const o = found.get(id)!;
          return {
            requestId: id,
            ...(o.kind === 'ended'
              ? { state: 'ended', ...o.terminal }
              : o.kind === 'deferred'
                ? { state: 'deferred', deferredUntil: o.until }
                : { state: o.state ?? 'unknown' }),
          };
        }),
      }),
    );
  } else {
    io.stdout.write(
      `${table(
        ids.map((id) => {
          const d = describe(found.get(id)!);
          return [d.state, id, d.text];
        }),
      )}\n`,
    );
  }
  // 0 when each has its outcome or waits for its window; 1 while any has none yet (or is unknown).
  return ids.every((id) => found.get(id)!.kind !== 'running') ? EXIT.ok : EXIT.error;
}
