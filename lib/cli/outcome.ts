/** How an apply ends on the terminal: the report (text or JSON) and the exit code. */
import type { ApplyReport } from '../app/apply-plan';
import type { Unreadable } from '../app/plan-policy';
import type { Plan } from '../domain/plan';
import type { Flags } from './args';
import { type CliIo, EXIT, jsonDocument } from './io';
import { renderApplyReport } from './render';
import { applyJson } from './report-json';

export const applyExitCode = (report: ApplyReport): number =>
  report.failed.length > 0 ? EXIT.error : report.refused.length > 0 ? EXIT.refused : EXIT.ok;

export const printApplyReport = (
  io: CliIo,
  flags: Flags,
  plan: Plan,
  report: ApplyReport,
  unreadable: readonly Unreadable[] = [],
): number => {
  io.stdout.write(flags.json ? jsonDocument(applyJson(plan, report, unreadable)) : renderApplyReport(report));
  if (unreadable.length > 0 && !flags.json)
    io.stdout.write(
      `Not read, so not applied: ${unreadable.map((u) => u.service).join(', ')} (see the errors above).\n`,
    );
  return unreadable.length > 0 ? EXIT.error : applyExitCode(report);
};
