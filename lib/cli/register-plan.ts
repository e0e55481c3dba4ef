/**
 * `stickler plan --out FILE --pipeline`: the saved plan is also registered with the pipeline (item
 * `~plan:<digest>` of its table, for 7 days), so that a ticket naming its digest has exactly that
 * plan applied by the ticket webhook, each change only if its farm still stores what the plan read.
 */
import { SticklerError } from '../domain/errors';
import type { SavedPlan } from '../domain/saved-plan';
import { plainText } from '../domain/text';
import { systemClock } from '../ports/clock';
import { PLAN_RETENTION_MS } from '../ports/plan-registry';
import { type CliIo, UsageError } from './io';
import { type PipelineConnection, type PipelineFlags, pipelineAsked } from './pipeline';

/** The most changes one ticket may carry (the generic payload's `changes`): a registered plan's too. */
export const MAX_REGISTERED_CHANGES = 50;
/** The largest plan body registered: under DynamoDB's 400 KB item, with room for its key and expiry. */
export const MAX_REGISTERED_BYTES = 350 * 1024;

/**
 * Is the plan to be registered? Pipeline mode (`--pipeline`, `--stage` or STICKLER_PIPELINE=1)
 * with `--out`. Pipeline mode without `--out` registers nothing (plan then only reads the
 * pipeline's waiting slots).
 */
export const registrationAsked = (env: NodeJS.ProcessEnv, flags: PipelineFlags & { out?: string }) =>
  pipelineAsked(env, flags) && flags.out !== undefined;

/** Why this plan cannot be registered (a ticket could not carry it, or DynamoDB could not hold it), or undefined. */
export const registrationProblem = (saved: SavedPlan): string | undefined => {
  const { digest: _, ...body } = saved;
  if (saved.changes.length > MAX_REGISTERED_CHANGES)
    return `it holds ${saved.changes.length} changes, over the ${MAX_REGISTERED_CHANGES} a ticket may carry`;
  const bytes = Buffer.byteLength(JSON.stringify(body));
  if (bytes > MAX_REGISTERED_BYTES)
    return `it is ${Math.ceil(bytes / 1024)} KB, over the ${MAX_REGISTERED_BYTES / 1024} KB the pipeline keeps for a plan`;
  return undefined;
};

/** Registers the saved plan with the pipeline (only if absent: the same digest is the same plan), and says what to put in the ticket. */
export const registerPlan = async (
  io: CliIo,
  connection: PipelineConnection,
  saved: SavedPlan,
  file: string,
): Promise<void> => {
  const problem = registrationProblem(saved);
  if (problem)
    throw new UsageError(
      `plan saved to ${file} but not registered with ${connection.where}: ${problem}; ${
        saved.services.length > 1
          ? 'narrow it with --service NAME (one plan per load balancer or group)'
          : 'it is one load balancer already: narrow the policy (fewer farms or rules per plan)'
      }, or apply the file directly: 'stickler apply ${file}'`,
    );
  const { digest, ...body } = saved;
  const expiresAt = new Date(systemClock.now().getTime() + PLAN_RETENTION_MS);
  const result = await connection.plans.register(body, digest, expiresAt).catch((error: unknown) => {
    const code = error instanceof SticklerError ? error.code : 'error';
    throw new SticklerError(
      'plan-not-registered',
      `plan saved to ${file} but not registered with ${connection.where}: ${code}: ${plainText((error as Error).message, 200)} (operators need dynamodb:PutItem on the table's ~plan:* items: the operator policy)`,
    );
  });
  io.stderr.write(
    `${result === 'registered' ? 'Plan registered' : 'Plan already registered (the same digest is the same plan)'} with ${connection.where}, for ${PLAN_RETENTION_MS / 86_400_000} days: a ticket approving it applies exactly these ${saved.changes.length} change(s), each only if its farm still stores what the plan read.\n` +
      `To have it applied through a ticket, put exactly this digest in the ticket's plan field (Jira, ServiceNow; "plan" in a generic payload):\n${digest}\n`,
  );
};
