/** How an apply ends on the terminal: the report (text or JSON) and the exit code. */
import type { ApplyReport } from '../app/apply-plan';
import type { Plan } from '../domain/plan';
import type { Flags } from './args';
import { type CliIo, EXIT } from './io';
import { renderApplyReport } from './render';
import { applyJson } from './report-json';

export const applyExitCode = (report: ApplyReport): number =>
  report.failed.length > 0 ? EXIT.error : report.refused.length > 0 ? EXIT.refused : EXIT.ok;

export const printApplyReport = (io: CliIo, flags: Flags, plan: Plan, report: ApplyReport): number => {
  io.stdout.write(
    flags.json ? `${JSON.stringify(applyJson(plan, report), null, 2)}\n` : renderApplyReport(report),
  );
  return applyExitCode(report);
};
