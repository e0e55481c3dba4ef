/**
 * How a run through the pipeline ends on the terminal: each change with its request id and
 * outcome (text or `--json`), and the exit code apply and set use (0 done, 2 something refused,
 * 1 a change failed or its outcome is not known yet).
 */
import type { FollowedOutcome } from '../app/follow-requests';
import type { DoorResult, Requested } from '../app/pipeline-door';
import { formatFarmRef } from '../domain/farm';
import { type CliIo, EXIT, jsonDocument } from './io';

import type { PipelineConnection } from './pipeline';
import { table } from './render';

type Kind =
  | 'applied'
  | 'unchanged'
  | 'refused'
  | 'failed'
  | 'cancelled'
  | 'deferred'
  | 'running'
  | 'not requested';

interface Line {
  kind: Kind;
  requested: Requested;
  code: string | null;
  message: string | null;
  zone: string | null;
  taskId: number | null;
  before: string | null;
  after: string | null;
  deferredUntil: string | null;
  state: string | null;
}

const lineOf = (requested: Requested, followed: FollowedOutcome | undefined): Line => {
  const base: Line = {
    kind: 'running',
    requested,
    code: null,
    message: null,
    zone: null,
    taskId: null,
    before: null,
    after: null,
    deferredUntil: null,
    state: null,
  };
  if (!followed) return { ...base, kind: 'not requested' };
  if (followed.kind === 'deferred') return { ...base, kind: 'deferred', deferredUntil: followed.until };
  if (followed.kind === 'running') return { ...base, state: followed.state ?? null };
  const t = followed.terminal;
  return {
    ...base,
    kind: t.outcome,
    code: t.code,
    message: t.message,
    zone: t.zone,
    taskId: t.taskId,
    before: t.before,
    after: t.after,
  };
};

export const linesOf = (result: DoorResult): Line[] => [
  ...result.requested.map((r) => lineOf(r, result.outcomes.get(r.requestId))),
  ...result.notPublished.map((r) => lineOf(r, undefined)),
];

export const pipelineExitCode = (lines: readonly Line[]): number =>
  lines.some((l) => l.kind === 'failed' || l.kind === 'running' || l.kind === 'not requested')
    ? EXIT.error
    : lines.some((l) => l.kind === 'refused' || l.kind === 'cancelled')
      ? EXIT.refused
      : EXIT.ok;

const describe = (l: Line): string => {
  const farm = formatFarmRef(l.requested.farm);
  // Bounded only: the CLI's output shows control and bidirectional characters as ?.
  const text = (s: string | null) => (s ? Array.from(s).slice(0, 200).join('') : '');
  switch (l.kind) {
    case 'applied':
      return `${farm}: ${l.before ?? '?'} → ${l.after ?? l.requested.stickiness}${l.zone ? `, zone ${l.zone} applied` : ''}${l.taskId !== null ? ` (task ${l.taskId})` : ''}`;
    case 'unchanged':
      return `${farm}: already ${l.requested.stickiness}${l.message ? ` (${text(l.message)})` : ''}`;
    case 'deferred':
      return `${farm} → ${l.requested.stickiness}: waits for its change window (${l.deferredUntil})`;
    case 'running':
      return `${farm} → ${l.requested.stickiness}: no outcome yet${l.state ? ` (${l.state})` : l.requested.publishUncertain ? ` (the bus gave no answer to its publication, ${l.requested.publishUncertain}: it may or may not have it)` : ' (not yet taken by the worker)'}`;
    case 'not requested':
      return `${farm} → ${l.requested.stickiness}: the bus refused the request (${l.requested.refusedBy ?? 'no reason given'}); nothing was asked for this farm`;
    default:
      return `${farm} → ${l.requested.stickiness}: ${text(l.message) || l.kind}${l.code ? ` [${text(l.code)}]` : ''}`;
  }
};

export const printPipelineResult = (
  io: CliIo,
  json: boolean,
  connection: PipelineConnection,
  result: DoorResult,
  extra: Record<string, unknown> = {},
): number => {
  const lines = linesOf(result);
  const exit = pipelineExitCode(lines);
  if (json) {
    io.stdout.write(
      jsonDocument({
        mode: 'pipeline',
        where: connection.where,
        actor: connection.actor,
        runId: result.runId,
        ...extra,
        changes: lines.map((l) => ({
          requestId: l.requested.requestId,
          service: l.requested.farm.service,
          farmType: l.requested.farm.type,
          farmId: l.requested.farm.farmId,
          target: l.requested.stickiness,
          outcome: l.kind,
          code: l.code,
          message: l.message,
          before: l.before,
          after: l.after,
          zone: l.zone,
          taskId: l.taskId,
          deferredUntil: l.deferredUntil,
          ...(l.requested.publishUncertain ? { publishUncertain: l.requested.publishUncertain } : {}),
          ...(l.requested.refusedBy ? { refusedBy: l.requested.refusedBy } : {}),
        })),
        ...(result.followError ? { followError: result.followError } : {}),
      }),
    );
    return exit;
  }
  const count = (k: Kind) => lines.filter((l) => l.kind === k).length;
  const summary = (
    [
      'applied',
      'unchanged',
      'refused',
      'failed',
      'cancelled',
      'deferred',
      'running',
      'not requested',
    ] as const
  )
    .filter((k) => count(k) > 0 || ['applied', 'unchanged', 'refused', 'failed'].includes(k))
    .map((k) => `${k === 'running' ? 'no outcome yet' : k} ${count(k)}`)
    .join(', ');
  io.stdout.write(
    `${summary.charAt(0).toUpperCase()}${summary.slice(1)}.\n` +
      (lines.length > 0
        ? `${table(lines.map((l) => [l.kind === 'running' ? 'no outcome yet' : l.kind, l.requested.requestId, describe(l)]))}\n`
        : '') +
      (result.followError
        ? `The worker's records could not be read (${result.followError}): the requests above are out, their outcomes unknown here.\n`
        : '') +
      (lines.some((l) => l.kind === 'running')
        ? `The worker has not finished these yet: 'stickler status ID... --pipeline' says where they stand.\n`
        : '') +
      (lines.some((l) => l.kind === 'applied')
        ? `Audited on the bus; 'stickler undo ID... --pipeline' takes an applied change back.\n`
        : ''),
  );
  return exit;
};
