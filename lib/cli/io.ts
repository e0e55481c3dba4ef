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

/**
 * The characters lib/domain/text.ts calls unsafe (isUnsafeCodePoint: C0 and C1 controls, DEL, the
 * line and paragraph separators, the bidirectional controls), as one expression for speed on
 * large outputs; a test holds it to isUnsafeCodePoint.
 */
const UNSAFE_RANGES: readonly [number, number][] = [
  [0x00, 0x1f],
  [0x7f, 0x9f],
  [0x061c, 0x061c],
  [0x200e, 0x200f],
  [0x2028, 0x2029],
  [0x202a, 0x202e],
  [0x2066, 0x2069],
];
const u = (cp: number) => `\\u${cp.toString(16).padStart(4, '0')}`;
export const UNSAFE_CHARACTERS = new RegExp(
  `[${UNSAFE_RANGES.map(([from, to]) => (from === to ? u(from) : `${u(from)}-${u(to)}`)).join('')}]`,
  'g',
);

/**
 * Text for a terminal: control characters (ANSI escapes in a `--ticket`, in a server's error
 * text) and bidirectional controls (U+202E shows `exe.txt` as `txt.exe`) are shown as `?`, so
 * nothing a user or a server supplies can move the cursor, recolour the screen or reorder what is
 * read. Newlines and tabs stay.
 */
export const terminalSafe = (text: string): string =>
  text.replace(UNSAFE_CHARACTERS, (c) => (c === '\n' || c === '\t' ? c : '?'));

/**
 * A `--json` document: JSON.stringify's, with every character terminalSafe would replace written
 * as a `\uXXXX` escape (JSON.stringify escapes C0 controls only, and its own line breaks sit
 * between values), so that the document stays exact for a script and inert on a terminal.
 */
export const jsonDocument = (value: unknown): string =>
  `${JSON.stringify(value, null, 2).replace(UNSAFE_CHARACTERS, (c) => (c === '\n' ? c : u(c.charCodeAt(0))))}\n`;
