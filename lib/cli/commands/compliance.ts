/**
 * `stickler compliance --policy FILE --mode report|enforce`: one compliance run with the same
 * handler as the scheduled function, reading the policy from FILE instead of S3 and publishing
 * to the local bus of a running `stickler simulate --pipeline` (paste its exports first), whose
 * worker then applies what an enforce run requests.
 */
import { resolve } from 'node:path';
import type { Context } from 'aws-lambda';
import { COMPLIANCE_MODES, type ComplianceResult } from '../../app/run-compliance';
import { makeComplianceRunHandler } from '../../wiring/compliance-run';
import type { Flags } from '../args';
import { type CliIo, EXIT, jsonDocument, UsageError } from '../io';

/**
 * Builds a function's handler with these Powertools settings in the process's environment too:
 * Powertools reads them there when its logger and metrics are built, whatever environment the
 * wiring is handed.
 */
const withPowertools = <T>(settings: Record<string, string>, build: () => T): T => {
  const before = Object.fromEntries(Object.keys(settings).map((k) => [k, process.env[k]]));
  Object.assign(process.env, settings);
  try {
    return build();
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
};

/**
 * Runs a function's handler with what it writes to the process's own streams redirected: Powertools
 * logs to standard output, as Lambda wants, and its metrics warn on stderr. With `logs` (the user
 * set POWERTOOLS_LOG_LEVEL) its standard output goes to the CLI's stderr, so that a DEBUG level
 * never breaks a --json document; without, both are dropped, and the CLI says what happened in
 * its own words. The CLI itself writes nothing while the handler runs.
 */
const handlerOutput = async <T>(io: CliIo, logs: boolean, run: () => Promise<T>): Promise<T> => {
  const streams = logs ? [process.stdout] : [process.stdout, process.stderr];
  const writes = streams.map((stream) => stream.write);
  for (const stream of streams)
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (logs) io.stderr.write(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    }) as typeof stream.write;
  try {
    return await run();
  } finally {
    streams.forEach((stream, i) => {
      stream.write = writes[i]!;
    });
  }
};

export async function complianceCommand(io: CliIo, flags: Flags): Promise<number> {
  if (!flags.policy) throw new UsageError('--policy FILE is required');
  const mode = flags.mode ?? 'report';
  if (!(COMPLIANCE_MODES as readonly string[]).includes(mode))
    throw new UsageError(`--mode must be report or enforce, got '${mode}'`);
  if (!io.env.EVENT_BUS_NAME || !io.env.AWS_ENDPOINT_URL_EVENTBRIDGE)
    throw new UsageError(
      "no local pipeline in this shell: start 'stickler simulate --pipeline' and paste the exports it prints",
    );
  // The function logs and counts for CloudWatch; here it stays quiet unless asked
  // (POWERTOOLS_LOG_LEVEL, POWERTOOLS_METRICS_DISABLED=false): a failed run is said once, in the
  // CLI's words.
  const logLevel = io.env.POWERTOOLS_LOG_LEVEL?.trim();
  const powertools = {
    POWERTOOLS_LOG_LEVEL: logLevel || 'SILENT',
    POWERTOOLS_METRICS_DISABLED: io.env.POWERTOOLS_METRICS_DISABLED?.trim() || 'true',
  };
  const handler = withPowertools(powertools, () =>
    makeComplianceRunHandler({
      ...io.env,
      ...powertools,
      STAGE: 'local',
      POLICY_FILE: resolve(io.cwd, flags.policy!),
    }),
  );
  const result = (await handlerOutput(io, Boolean(logLevel), () =>
    handler({ mode }, { awsRequestId: `cli-${Date.now()}` } as unknown as Context),
  )) as ComplianceResult;
  io.stdout.write(
    flags.json
      ? jsonDocument(result)
      : `Compliance run ${result.runId} (${result.mode}) with ${result.policy.source} (${result.policy.version}):\n` +
          `  ${result.farmsChecked} farms checked, ${result.drifted} drifted, ${result.cannotApply} the policy cannot apply,\n` +
          `  ${result.blocked ? "BLOCKED: over the policy's maxChangesPerRun, nothing requested" : `${result.requested} change request(s) published${result.rolloutZones ? ` (zone 1 of ${result.rolloutZones}: each next zone follows once the previous one is applied)` : ''}`}.\n` +
          '  The events are on the local bus (the simulate --pipeline shell shows them).\n',
  );
  return result.blocked ? EXIT.refused : EXIT.ok;
}
