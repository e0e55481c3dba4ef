/**
 * The `stickler` command line: dispatch to one command per file (lib/cli/commands/), and the one
 * place where errors become messages and exit codes.
 */
import { SticklerError } from '../domain/errors';
import { parseArgv, USAGE } from './args';
import { applyCommand } from './commands/apply';
import { complianceCommand } from './commands/compliance';
import { demoCommand } from './commands/demo';
import { planCommand } from './commands/plan';
import { refreshCommand } from './commands/refresh';
import { setCommand } from './commands/set';
import { showCommand } from './commands/show';
import { simulateCommand } from './commands/simulate';
import { type CliIo, EXIT, UsageError } from './io';
import { connect, type Session } from './session';

export type { CliIo } from './io';
export { EXIT, UsageError } from './io';

const dispatch = async (argv: string[], io: CliIo, session?: Session): Promise<number> => {
  const { values: flags, positionals } = parseArgv(argv);
  const [command, ...args] = positionals;
  if (flags.help || !command) {
    io.stdout.write(`${USAGE}\n`);
    return command || flags.help ? EXIT.ok : EXIT.error;
  }
  // Connected only when a command needs OVH, after it has read and checked its own input.
  let connected = session;
  const live = () => {
    connected ??= connect(io.env, flags);
    return connected;
  };
  switch (command) {
    case 'show':
      return showCommand(live(), io, flags, args);
    case 'plan':
      return planCommand(live, io, flags);
    case 'apply':
      return applyCommand(live, io, flags);
    case 'set':
      return setCommand(live, io, flags, args);
    case 'refresh':
      return refreshCommand(live, io, flags, args);
    case 'simulate':
      return simulateCommand(io, flags);
    case 'compliance':
      return complianceCommand(io, flags);
    case 'demo':
      return demoCommand(io, flags, dispatch);
    default:
      throw new UsageError(
        `unknown command '${command}' (try: show, plan, apply, set, refresh, simulate, compliance, demo)`,
      );
  }
};

/** Runs one CLI invocation and returns its exit code; errors are printed, never thrown. */
export const runCli = async (argv: string[], io: CliIo): Promise<number> => {
  try {
    return await dispatch(argv, io);
  } catch (error) {
    const message =
      error instanceof SticklerError
        ? error.message
        : (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
          ? `${(error as Error).message} (see stickler --help)`
          : `unexpected error: ${(error as Error)?.message ?? String(error)}`;
    io.stderr.write(`stickler: ${message}\n`);
    return EXIT.error;
  }
};
