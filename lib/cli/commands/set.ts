/** `stickler set SERVICE TYPE/FARM_ID STICKINESS`: one change request, applied at once. */
import { randomUUID } from 'node:crypto';
import { makeApplyRequests } from '../../app/apply-requests';
import { CHANGE_GRAMMAR, changeRequestFromWords, InvalidChangeError } from '../../domain/change-command';
import type { ChangeRequest } from '../../domain/change-request';
import { systemClock } from '../../ports/clock';
import type { Flags } from '../args';
import { type CliIo, UsageError } from '../io';
import { printApplyReport } from '../outcome';
import { SESSION_LOSS_WARNING } from '../render';
import type { Session } from '../session';
import { interruptible, progressPrinter } from '../terminal';

export async function setCommand(
  session: () => Session,
  io: CliIo,
  flags: Flags,
  args: string[],
): Promise<number> {
  if (args.length !== 3) throw new UsageError(`usage: stickler set ${CHANGE_GRAMMAR}`);
  let request: ChangeRequest;
  try {
    request = changeRequestFromWords(args, {
      requestId: `cli-${randomUUID()}`,
      actor: { kind: 'cli', id: io.env.USER || io.env.LOGNAME || 'unknown' },
      requestedAt: systemClock.now().toISOString(),
      ...(flags.ticket ? { ticket: flags.ticket } : {}),
      ...(flags.reason ? { reason: flags.reason } : {}),
    });
  } catch (error) {
    if (error instanceof InvalidChangeError) throw new UsageError(error.message);
    throw error;
  }
  const { api, applyOptions } = session();
  const apply = makeApplyRequests({ api, clock: systemClock, onProgress: progressPrinter(io) });
  const { plan, report } = await interruptible(io, (signal) => apply([request], { ...applyOptions, signal }));
  if (!flags.json && plan.changes.length > 0) io.stderr.write(`WARNING: ${SESSION_LOSS_WARNING}\n`);
  return printApplyReport(io, flags, plan, report);
}
