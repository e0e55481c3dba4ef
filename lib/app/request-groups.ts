/**
 * The groups a change request belongs to, so that the requests of a ticket or of a run can be
 * found again (`stickler undo --ticket KEY | --run RUN_ID`): the ticket it carries (whatever its
 * door), and the CLI run or compliance run that made it. A run is known from the request's id and
 * its publisher (the bus source, which IAM binds to each door), never from the id alone: another
 * publisher cannot put a request into an operator's run.
 */
import { createHash } from 'node:crypto';
import type { ChangeRequest } from '../domain/change-request';
import { type FarmRef, farmKey } from '../domain/farm';
import { plainText } from '../domain/text';

/** The EventBridge source of every request and cancel the CLI publishes. */
export const CLI_SOURCE = 'stickler.cli';
/** `source` of the events a compliance run publishes (its change requests included). */
export const COMPLIANCE_EVENT_SOURCE = 'stickler.compliance';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** A CLI run's id: what `cli-<run>-` holds. */
export const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** `cli-<run>-<12 hex of the farm>`: stable per run and farm, so a retried publish is deduplicated. */
export const cliRequestId = (runId: string, farm: FarmRef): string =>
  `cli-${runId}-${sha(farmKey(farm)).slice(0, 12)}`;

/** `cmp-<16 hex of the run>`: the first part of every request id of a compliance run (its rollout's key). */
export const complianceRunPrefix = (runId: string): string => `cmp-${sha(runId).slice(0, 16)}`;

/** `cmp-<run>-<farm>`: stable per run and farm; its first part names the run's rollout. */
export const complianceRequestId = (runId: string, farm: string): string =>
  `${complianceRunPrefix(runId)}-${sha(`${runId}\n${farm}`).slice(0, 24)}`;

const CLI_ID = /^cli-([A-Za-z0-9][A-Za-z0-9_-]{0,63})-[0-9a-f]{12}$/;
const COMPLIANCE_ID = /^(cmp-[0-9a-f]{16})-[0-9a-f]{24}$/;

export const ticketGroup = (ticket: string): string => `ticket:${ticket}`;

/**
 * A CLI run's group: the run of one operator (their identity, as the request's actor says it).
 * Every operator may publish as the CLI: another one's requests never join my run.
 */
export const cliRunGroup = (actorId: string, runId: string): string => `run:${actorId}\n${runId}`;

/** The groups of one request, as the worker records them when it first claims it. */
export const groupsOf = (
  request: Pick<ChangeRequest, 'requestId' | 'ticket'> &
    Partial<Pick<ChangeRequest, 'actor' | 'service' | 'farmType' | 'farmId'>>,
  source: string,
): string[] => {
  const groups = request.ticket ? [ticketGroup(request.ticket)] : [];
  const cli = source === CLI_SOURCE ? CLI_ID.exec(request.requestId) : null;
  // A CLI run's request names its farm in its id: one whose id and farm disagree is in no run.
  if (
    cli &&
    request.actor &&
    request.service !== undefined &&
    request.farmType !== undefined &&
    request.farmId !== undefined &&
    cliRequestId(cli[1]!, { service: request.service, type: request.farmType, farmId: request.farmId }) ===
      request.requestId
  )
    groups.push(cliRunGroup(request.actor.id, cli[1]!));
  const compliance = source === COMPLIANCE_EVENT_SOURCE ? COMPLIANCE_ID.exec(request.requestId) : null;
  if (compliance) groups.push(`run:${compliance[1]}`);
  return groups;
};

/** The groups that may hold the requests of run `runId`: `actorId`'s CLI run, and a compliance run. */
export const runGroups = (runId: string, actorId: string): string[] => [
  cliRunGroup(actorId, runId),
  `run:${complianceRunPrefix(runId)}`,
];

/** Whether request `requestId` is one of run `runId` (a member is a hint; its id is the proof). */
export const isOfRun = (requestId: string, runId: string): boolean =>
  CLI_ID.exec(requestId)?.[1] === runId || COMPLIANCE_ID.exec(requestId)?.[1] === complianceRunPrefix(runId);

/** The operator as the actor of an event the CLI publishes (free text bounded and stripped). */
export const cliActor = (asker: { actor: { id: string; name?: string | undefined } }) => ({
  kind: 'cli' as const,
  id: plainText(asker.actor.id, 256),
  ...(asker.actor.name ? { name: plainText(asker.actor.name, 256) } : {}),
});
