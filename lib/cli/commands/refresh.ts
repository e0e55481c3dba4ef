/**
 * `stickler refresh SERVICE ZONE`: applies one zone's unapplied changes, whoever made them: the
 * way to finish a zone left "stored but not applied", or to push a control-panel edit,
 * deliberately and visibly. With --pipeline, the worker does it (refresh-pipeline.ts).
 */
import { makeApplyZone } from '../../app/apply-zone';
import { ALL_ZONES } from '../../domain/farm';
import { systemClock } from '../../ports/clock';
import type { Flags } from '../args';
import { type CliIo, EXIT, jsonDocument, UsageError } from '../io';
import { pipelineAsked } from '../pipeline';
import { SESSION_LOSS_WARNING } from '../render';
import { refreshJson } from '../report-json';
import type { Session } from '../session';
import { confirmOrStop, progressPrinter } from '../terminal';
import { refreshThroughPipeline } from './refresh-pipeline';

export async function refreshCommand(
  session: () => Session,
  io: CliIo,
  flags: Flags,
  args: string[],
): Promise<number> {
  if (args.length !== 2) throw new UsageError('usage: stickler refresh SERVICE ZONE');
  const [service, zone] = args as [string, string];
  if (pipelineAsked(io.env, flags)) return refreshThroughPipeline(session, io, flags, service, zone);
  if (flags.wait !== undefined || flags.reason !== undefined)
    throw new UsageError(
      '--wait and --reason go with --pipeline (a direct refresh publishes and waits for nothing)',
    );
  const { api, applyOptions } = session();
  // A zone the load balancer does not have is an error, not "nothing to apply".
  const known = await api.listZones(service);
  if (zone !== ALL_ZONES && !known.includes(zone))
    throw new UsageError(
      `${service} has no zone '${zone.slice(0, 40)}' (its zones: ${known.join(', ') || 'none'}, or all)`,
    );
  const zones = makeApplyZone({ api, clock: systemClock, onProgress: progressPrinter(io) });
  const pending = await zones.pendingIn(service, zone);
  const report = (body: Record<string, unknown>) => {
    if (flags.json) io.stdout.write(jsonDocument({ service, zone, pendingChanges: pending, ...body }));
  };
  if (pending === 0) {
    report({ applied: false, refreshes: [] });
    if (!flags.json)
      io.stdout.write(`Zone ${zone} of ${service} has no unapplied changes: nothing to apply.\n`);
    return EXIT.ok;
  }
  if (!flags.json) {
    io.stdout.write(
      `Zone ${zone} of ${service} holds ${pending} unapplied change(s), made by stickler or anyone else.\n` +
        `WARNING: ${SESSION_LOSS_WARNING}\n`,
    );
  }
  const stop = await confirmOrStop(io, flags, `Apply zone ${zone} of ${service}?`);
  if (stop !== undefined) return stop;
  const outcome = await zones.applyZone(service, zone, pending, applyOptions);
  report({
    applied: outcome.applied,
    refreshes: outcome.attempts.map(refreshJson),
    ...(outcome.outcomeUnknown ? { outcomeUnknown: true } : {}),
    ...(outcome.error ? { error: outcome.error } : {}),
    ...(outcome.queryId ? { queryId: outcome.queryId } : {}),
  });
  if (!flags.json) {
    const query = outcome.queryId ? ` (query id ${outcome.queryId})` : '';
    io.stdout.write(
      outcome.applied
        ? `Zone ${zone} of ${service} applied.\n`
        : outcome.outcomeUnknown
          ? `Zone ${zone} of ${service}: outcome unknown: the refresh was asked, but whether it applied the zone could not be told: ${outcome.error}${query}\n` +
            `'stickler show ${service}' tells: a zone with no unapplied changes left was applied.\n`
          : `Zone ${zone} of ${service} NOT applied: ${outcome.error}${query}\n`,
    );
  }
  return outcome.applied ? EXIT.ok : EXIT.error;
}
