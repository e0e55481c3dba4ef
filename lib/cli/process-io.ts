/**
 * The CLI's streams and signals as a real process has them: what bin/stickler.ts hands runCli.
 *
 * - SIGINT (Ctrl-C), SIGTERM and SIGHUP during an apply stop it gracefully: the zones whose writes
 *   have begun are finished, no other is started. A second signal exits at once (128 + its number).
 *   Outside an apply a signal ends the process as usual: nothing is being written.
 * - A closed standard output (`stickler show | head -1`) ends the run quietly with 141, the status
 *   of a process cut off by a closed pipe (128 + SIGPIPE), as `cat` or `grep` end: never 0, which
 *   for `plan` would read as "compliant". During an apply it is taken as a first interrupt.
 */
import type { CliIo } from './io';

/** The exit status of a run whose standard output was closed before it ended. */
export const EXIT_STDOUT_CLOSED = 141;

const STOP_SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
type StopSignal = keyof typeof STOP_SIGNALS;

/** What of `process` this module uses (a test passes a stand-in). */
export interface ProcessLike {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd(): string;
  on(event: StopSignal, listener: () => void): unknown;
  off(event: StopSignal, listener: () => void): unknown;
  once(event: StopSignal, listener: () => void): unknown;
  exit(code: number): never;
}

export interface ProcessIo {
  io: CliIo;
  /** The status to exit with once runCli returned `code`. */
  exitCode(code: number): number;
}

export const processIo = (proc: ProcessLike): ProcessIo => {
  let stdoutClosed = false;
  let stderrClosed = false;
  /** The graceful stop of the run in progress, while one listens. */
  let interrupt: ((why: string) => void) | undefined;
  let interrupted = false;

  // Without a listener, a write to a closed pipe is an uncaught 'error' event: a stack trace.
  proc.stdout.on('error', () => {
    if (stdoutClosed) return;
    stdoutClosed = true;
    if (!interrupt) return proc.exit(EXIT_STDOUT_CLOSED);
    if (!interrupted) {
      interrupted = true;
      interrupt('standard output closed');
    }
  });
  proc.stderr.on('error', () => {
    stderrClosed = true;
  });

  const onInterrupt = (listener: (why: string) => void) => {
    interrupt = listener;
    const handlers = Object.entries(STOP_SIGNALS).map(([signal, number]) => {
      const handler = () => {
        if (interrupted) return proc.exit(128 + number);
        interrupted = true;
        listener(signal);
      };
      proc.on(signal as StopSignal, handler);
      return [signal as StopSignal, handler] as const;
    });
    if (stdoutClosed && !interrupted) {
      interrupted = true;
      listener('standard output closed');
    }
    return () => {
      interrupt = undefined;
      for (const [signal, handler] of handlers) proc.off(signal, handler);
    };
  };

  const untilStopped = () =>
    new Promise<void>((resolve) => {
      for (const signal of Object.keys(STOP_SIGNALS) as StopSignal[]) proc.once(signal, () => resolve());
    });

  return {
    io: {
      stdout: { write: (text: string) => stdoutClosed || proc.stdout.write(text) },
      stderr: { write: (text: string) => stderrClosed || proc.stderr.write(text) },
      stdin: proc.stdin,
      env: proc.env,
      interactive: Boolean(proc.stdin.isTTY && proc.stderr.isTTY),
      cwd: proc.cwd(),
      untilStopped,
      onInterrupt,
    },
    exitCode: (code) => (stdoutClosed ? EXIT_STDOUT_CLOSED : code),
  };
};
