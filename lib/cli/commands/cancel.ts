/**
 * `stickler cancel REQUEST_ID --pipeline`: asks the worker to cancel a request still waiting for
 * its change window, and says whether it was (a request already carried out is not: undo it).
 */
import type { Flags } from '../args';
import { type CliIo, EXIT, jsonDocument, UsageError } from '../io';
import { connectPipeline } from '../pipeline';
import { followOptionsOf, followTimeoutMs, stopWaitingOnInterrupt } from '../pipeline-run';
import { requestIdsOf, requirePipeline } from './status';

export async function cancelCommand(io: CliIo, flags: Flags, args: string[]): Promise<number> {
  const [id, ...more] = requestIdsOf('cancel', args);
  if (more.length > 0) throw new UsageError('cancel takes one request id at a time');
  requirePipeline(io, flags, 'cancel');
  followTimeoutMs(flags);
  const connection = await connectPipeline(io.env, flags);
  const out = await stopWaitingOnInterrupt(io, (signal) =>
    connection.door.cancel(
      id!,
      { actor: connection.actor, ...(flags.reason ? { reason: flags.reason } : {}) },
      followOptionsOf(io, flags, connection, signal),
    ),
  );
  if (flags.json) io.stdout.write(jsonDocument({ where: connection.where, requestId: id, ...out }));
  else
    io.stdout.write(
      {
        cancelled: `Cancelled ${id}: it will not be applied (audited as Stickiness Change Cancelled).\n`,
        'not-cancelled': `Not cancelled: ${id}: ${out.detail ?? ''}${out.request?.kind === 'ended' && out.request.terminal.outcome === 'applied' ? " ('stickler undo' takes an applied change back)" : ''}.\n`,
        'not-published': `Not cancelled: the bus did not take the cancel (${out.cancelId}); nothing was asked. Try again.\n`,
        running: `The cancel ${out.cancelId} is published but the worker has not carried it out yet: 'stickler status ${id} --pipeline' says where the request stands.\n`,
      }[out.outcome],
    );
  return out.outcome === 'cancelled' ? EXIT.ok : out.outcome === 'not-cancelled' ? EXIT.refused : EXIT.error;
}
