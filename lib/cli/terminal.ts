/** Terminal I/O shared by the commands: Ctrl-C handling, progress lines, and the confirmation prompt. */
import { createInterface } from 'node:readline/promises';
import type { ApplyProgress } from '../app/apply-plan';
import type { Flags } from './args';
import { type CliIo, EXIT, UsageError } from './io';

/**
 * Runs `work` with an AbortSignal tied to interrupts (Ctrl-C, SIGTERM, SIGHUP, a closed standard
 * output): the first lets the zones already being written finish (nothing is left stored but not
 * applied) and starts no others.
 */
export const interruptible = async <T>(io: CliIo, work: (signal: AbortSignal) => Promise<T>): Promise<T> => {
  const controller = new AbortController();
  const stop = io.onInterrupt?.((why) => {
    controller.abort();
    io.stderr.write(
      `\nInterrupted${why && why !== 'SIGINT' ? ` (${why})` : ''}: finishing the zones already being written, starting no others. ` +
        'Ctrl-C (or another signal) again stops at once\n(and may leave changes stored but not applied).\n',
    );
  });
  try {
    return await work(controller.signal);
  } finally {
    stop?.();
  }
};

/** Progress lines on stderr: every refresh, and writes in 10% steps. */
export const progressPrinter = (io: CliIo) => {
  let lastStep = -1;
  return (event: ApplyProgress) => {
    switch (event.kind) {
      case 'written': {
        const step = Math.floor((event.done / event.total) * 10);
        if (step !== lastStep && (event.total >= 20 || event.done === event.total)) {
          lastStep = step;
          io.stderr.write(`  stored ${event.done}/${event.total} farm changes\n`);
        }
        break;
      }
      case 'waiting-for-running-tasks':
        io.stderr.write(
          `  ${event.service}: waiting for refresh task(s) ${event.taskIds.join(', ')} already running\n`,
        );
        break;
      case 'refresh-started':
        io.stderr.write(
          `  ${event.service} zone ${event.zone}: applying ${event.changes} change(s), task ${event.taskId}\n`,
        );
        break;
      case 'refresh-finished':
        io.stderr.write(
          `  ${event.result.service} zone ${event.result.zone}: ${event.result.status}${event.result.error ? ` (${event.result.error})` : ''}\n`,
        );
        break;
    }
  };
};

/** `yes`, `no` (any other answer), or `eof` when the input ended (Ctrl-D) before an answer. */
const ask = async (io: CliIo, question: string): Promise<'yes' | 'no' | 'eof'> => {
  const rl = createInterface({
    input: io.stdin,
    output: io.stderr as NodeJS.WritableStream,
    terminal: false,
  });
  // A closed input never answers: without this race the process would drain and exit 0.
  // (Settled a turn later, so that an answer on the input's last line wins over its end.)
  const closed = new Promise<'eof'>((resolve) =>
    rl.once('close', () => setTimeout(() => resolve('eof'), 10)),
  );
  try {
    const answer = await Promise.race([rl.question(question), closed]);
    if (answer === 'eof') return 'eof';
    return answer.trim().toLowerCase() === 'yes' ? 'yes' : 'no';
  } finally {
    rl.close();
  }
};

/**
 * Asks before anything that loses sessions. `--yes` skips the question; off a terminal, without
 * `--yes`, nothing is applied. Returns the exit code to stop with, or undefined to go on.
 */
export const confirmOrStop = async (
  io: CliIo,
  flags: Flags,
  question: string,
): Promise<number | undefined> => {
  if (flags.yes) return undefined;
  if (!io.interactive)
    throw new UsageError('refusing to apply without confirmation: not on a terminal, pass --yes to apply');
  const answer = await ask(io, `${question} Type 'yes' to go on: `);
  if (answer === 'yes') return undefined;
  io.stderr.write(answer === 'eof' ? '\nNo answer (end of input): nothing applied.\n' : 'Nothing applied.\n');
  return EXIT.refused;
};
