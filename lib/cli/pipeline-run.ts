/**
 * What `apply`, `set` and `undo` do through the pipeline once the operator said yes: publish the
 * changes through the door, follow them with progress on stderr (Ctrl-C stops waiting, never
 * the requests: they go on in the pipeline), and print each one's outcome.
 */
import { randomBytes } from 'node:crypto';
import type { Asker, DoorResult, Target } from '../app/pipeline-door';
import { InvalidInputError, UnprocessableError } from '../domain/errors';
import { type Flags, number } from './args';
import { type CliIo, EXIT, jsonDocument } from './io';
import type { PipelineConnection } from './pipeline';
import { printPipelineResult } from './pipeline-report';

/** `--wait`'s default: long enough for a batch window, a lease held by another batch and slow zones. */
export const DEFAULT_WAIT_SECONDS = 900;

/** A run's id: time-ordered and unique enough (base-36 milliseconds and 4 random hex). */
export const newRunId = (now = Date.now()): string => `${now.toString(36)}${randomBytes(2).toString('hex')}`;

/** `--wait SECONDS` (0 to a day; 900 by default) in milliseconds. */
export const followTimeoutMs = (flags: Flags) =>
  number(flags, 'wait', DEFAULT_WAIT_SECONDS, { min: 0, max: 86_400 }) * 1000;

export const followOptionsOf = (
  io: CliIo,
  flags: Flags,
  connection: PipelineConnection,
  signal?: AbortSignal,
) => {
  let last = '';
  return {
    timeoutMs: followTimeoutMs(flags),
    pollMs: connection.local ? 200 : 2_000,
    onProgress: (done: number, total: number) => {
      const line = `  waiting for the worker: ${done}/${total} with an outcome\n`;
      if (line !== last && !flags.json) io.stderr.write(line);
      last = line;
    },
    ...(signal ? { signal } : {}),
  };
};

/** Stops waiting on the first interrupt; the requests stay in the pipeline. */
export const stopWaitingOnInterrupt = async <T>(io: CliIo, work: (signal: AbortSignal) => Promise<T>) => {
  const controller = new AbortController();
  const stop = io.onInterrupt?.(() => {
    controller.abort();
    io.stderr.write(
      "\nStopped waiting. The requests stay in the pipeline and go on: 'stickler status ID... --pipeline' says where they stand.\n",
    );
  });
  try {
    return await work(controller.signal);
  } finally {
    stop?.();
  }
};

export const requestThroughPipeline = async (
  io: CliIo,
  flags: Flags,
  connection: PipelineConnection,
  targets: readonly Target[],
  asker: Asker,
  extra: Record<string, unknown> = {},
): Promise<number> => {
  const runId = newRunId();
  if (!flags.json && targets.length > 0)
    io.stderr.write(
      `Requesting ${targets.length} change(s) through ${connection.where} as ${connection.actor.id}${connection.actor.name ? ` (${connection.actor.name})` : ''} (run ${runId}).\n`,
    );
  let result: DoorResult;
  try {
    result = await stopWaitingOnInterrupt(io, (signal) =>
      connection.door.request(runId, targets, asker, followOptionsOf(io, flags, connection, signal)),
    );
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    // Nothing was published: every problem is said, and a change that can never be carried out
    // (cookie on a TCP farm) is a refusal, as in direct mode.
    const problems = error.issues.map((i) => `${i.path ? `${i.path}: ` : ''}${i.message}`);
    if (flags.json)
      io.stdout.write(
        jsonDocument({
          mode: 'pipeline',
          where: connection.where,
          runId,
          ...extra,
          refused: { code: error.code, message: error.message, issues: error.issues },
          changes: [],
        }),
      );
    else io.stderr.write(`Nothing requested: ${error.message}:\n${problems.map((p) => `  ${p}\n`).join('')}`);
    return error instanceof UnprocessableError ? EXIT.refused : EXIT.error;
  }
  return printPipelineResult(io, flags.json ?? false, connection, result, extra);
};
