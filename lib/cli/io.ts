/** What a CLI command sees of the world: its streams, environment and folder, and its exit codes. */
import { SticklerError } from '../domain/errors';

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  /** True when a person is at a terminal who can answer a prompt. */
  interactive: boolean;
  cwd: string;
  /** Resolves when the process is asked to stop (SIGINT, SIGTERM, SIGHUP); used by `simulate`. */
  untilStopped?: () => Promise<void>;
  /**
   * Calls `listener` on the first interrupt of a run (Ctrl-C, SIGTERM, SIGHUP, a closed standard
   * output), saying which; returns a function that stops listening.
   */
  onInterrupt?: (listener: (why: string) => void) => () => void;
}

export class UsageError extends SticklerError {
  constructor(message: string) {
    super('usage', message);
  }
}

export const EXIT = { ok: 0, error: 1, drift: 2, refused: 2 } as const;
