/**
 * The `stickler` command line: dispatch to one command per file (lib/cli/commands/), and the one
 * place where errors become messages and exit codes.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ovhConfPaths, withOvhConf } from '../adapters/ovh/ovh-conf';
import { SticklerError } from '../domain/errors';
import { SERVICE_NAME_PATTERN, SERVICE_NAME_RULE } from '../domain/farm';
import {
  COMMAND_FLAGS,
  checkEnvNumbers,
  ENV_NUMBERS,
  type EnvNumber,
  type Flag,
  type Flags,
  OPTIONS,
  packageRoot,
  parseArgv,
  USAGE,
} from './args';
import { applyCommand } from './commands/apply';
import { cancelCommand } from './commands/cancel';
import { complianceCommand } from './commands/compliance';
import { demoCommand } from './commands/demo';
import { doctorCommand } from './commands/doctor';
import { planCommand } from './commands/plan';
import { refreshCommand } from './commands/refresh';
import { sendCommand } from './commands/send';
import { setCommand } from './commands/set';
import { showCommand } from './commands/show';
import { simulateCommand } from './commands/simulate';
import { statusCommand } from './commands/status';
import { undoCommand } from './commands/undo';
import { type CliIo, EXIT, jsonDocument, terminalSafe, UsageError } from './io';
import { connect, type Session } from './session';

export type { CliIo } from './io';
export { EXIT, terminalSafe, UsageError } from './io';

const NO_ARGUMENTS = new Set(['plan', 'apply', 'simulate', 'compliance', 'demo', 'doctor']);

/** The usage lines of one command (all of them when it is unknown). */
const commandUsage = (command: string): string => {
  const lines = USAGE.split('\n');
  const own: string[] = [];
  let inside = false;
  for (const l of lines) {
    // Every usage line of the command (`apply --policy`, `apply PLAN_FILE`, …), with its continuation.
    if (l.startsWith(`  stickler ${command} `) || l === `  stickler ${command}`) inside = true;
    else if (!l.startsWith('    ')) inside = false;
    if (inside) own.push(l);
  }
  if (own.length === 0) return USAGE;
  return `Usage:\n${own.join('\n')}\n\n${lines.slice(lines.findIndex((l) => l.startsWith('Stickiness words'))).join('\n')}`;
};

/** Where a flag a command does not take points to instead, when there is a better way. */
const INSTEAD: Partial<Record<string, Partial<Record<Flag, string>>>> = {
  show: { service: 'name load balancers as arguments: stickler show NAME...' },
  refresh: {
    service: 'name the load balancer as an argument: stickler refresh SERVICE ZONE',
  },
  set: { service: 'name the load balancer as an argument: stickler set SERVICE TYPE/FARM_ID STICKINESS' },
  compliance: {
    concurrency: 'it reads OVH_CONCURRENCY from the environment, as the deployed function does',
    timeout: 'it reads OVH_TIMEOUT_MS from the environment, as the deployed function does',
  },
};

/**
 * Refuses, before anything runs, a flag the command does not take (it would be dropped, and a
 * dropped `--service` widens a run to the whole fleet) and a single-valued flag given twice with
 * different values (which one was meant?). A repeated `--service X` counts once.
 */
const checkFlags = (command: string, flags: Flags, tokens: ReturnType<typeof parseArgv>['tokens']) => {
  const taken = new Set<string>([...COMMAND_FLAGS[command]!, 'help']);
  for (const name of Object.keys(flags) as Flag[]) {
    if (taken.has(name)) continue;
    const instead = INSTEAD[command]?.[name];
    const own = COMMAND_FLAGS[command]!.map((f) => `--${f}`).join(', ');
    throw new UsageError(
      `'${command}' does not take --${name}${instead ? `: ${instead}` : ''} (it takes ${own || 'no flag'}; see stickler ${command} --help)`,
    );
  }
  const seen = new Map<string, string | undefined>();
  for (const token of tokens ?? []) {
    if (token.kind !== 'option') continue;
    const option = OPTIONS[token.name as Flag] as { type: string; multiple?: boolean };
    if (option.type !== 'string' || option.multiple) continue;
    if (seen.has(token.name) && seen.get(token.name) !== token.value)
      throw new UsageError(`--${token.name} is given twice with different values: give it once`);
    seen.set(token.name, token.value);
  }
  if (flags.service) flags.service = [...new Set(flags.service)];
};

/** What the CLI answers without running a command (help, version); undefined otherwise. */
const answerWithoutRunning = (
  command: string | undefined,
  given: string[],
  flags: Flags,
  io: CliIo,
): number | undefined => {
  if (command === 'help' || (flags.help && !command)) {
    const topic = command === 'help' ? given[0] : undefined;
    io.stdout.write(`${topic ? commandUsage(topic) : USAGE}\n`);
    return EXIT.ok;
  }
  if (flags.version && !command) {
    const { version } = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as {
      version: string;
    };
    io.stdout.write(`stickler ${version}\n`);
    return EXIT.ok;
  }
  if (flags.help && command) {
    io.stdout.write(`${commandUsage(command)}\n`);
    return EXIT.ok;
  }
  return undefined;
};

/** Refuses a command stickler does not know, a flag it does not take, and a number out of range it would read. */
const checkCommand = (
  command: string,
  flags: Flags,
  tokens: ReturnType<typeof parseArgv>['tokens'],
  env: CliIo['env'],
): void => {
  if (!Object.hasOwn(COMMAND_FLAGS, command))
    throw new UsageError(
      `unknown command '${command.slice(0, 40)}' (try: ${Object.keys(COMMAND_FLAGS).join(', ')})`,
    );
  checkFlags(command, flags, tokens);
  // The functions these commands run read numbers from the environment: checked here, in range,
  // before anything starts (`Number(x) || default` took -5 connections or a 35-day timeout).
  const runsFunctions =
    command === 'compliance' || command === 'demo' || (command === 'simulate' && flags.pipeline);
  if (runsFunctions)
    checkEnvNumbers(
      env,
      command === 'compliance'
        ? ['OVH_CONCURRENCY', 'OVH_TIMEOUT_MS']
        : (Object.keys(ENV_NUMBERS) as EnvNumber[]),
    );
};

/**
 * A command's arguments, checked before anything is read; `savedPlan` says that `apply` was
 * given a saved plan's file.
 */
const commandArguments = (
  command: string,
  given: string[],
  flags: Flags,
): { args: string[]; savedPlan: boolean } => {
  // The same load balancer named twice is one (it would be read, planned and listed twice).
  const args = command === 'show' ? [...new Set(given)] : given;
  // A word a command does not take is an error, never silently ignored (`apply SERVICE --policy P`
  // would otherwise apply the whole fleet).
  // `apply PLAN_FILE` applies a saved plan: its one argument, instead of --policy.
  const savedPlan = command === 'apply' && args.length === 1 && flags.policy === undefined;
  if (NO_ARGUMENTS.has(command) && args.length > 0 && !savedPlan) {
    throw new UsageError(
      `'${command}' takes no argument '${args[0]!.slice(0, 40)}'${command === 'plan' || command === 'apply' ? ': to limit it to a load balancer, use --service NAME' : ''}`,
    );
  }
  // Load balancer names are checked before anything is read: `.`, `..` or an empty name would
  // change an API path and meet a misleading answer from OVH.
  const services = [
    ...(flags.service ?? []),
    ...(command === 'show' ? args : command === 'set' || command === 'refresh' ? args.slice(0, 1) : []),
  ];
  for (const name of services)
    if (!SERVICE_NAME_PATTERN.test(name))
      throw new UsageError(`'${name.slice(0, 60)}': ${SERVICE_NAME_RULE}`);
  return { args, savedPlan };
};

/** The session, connected only when a command needs OVH, after it has read and checked its own input. */
const connectWhenNeeded = (io: CliIo, flags: Flags, session?: Session): (() => Session) => {
  let connected = session;
  return () => {
    if (!connected) {
      // OVH's configuration files complete what the environment leaves unset, as in OVH's clients.
      const conf = withOvhConf(io.env, ovhConfPaths(io.cwd, io.env.HOME));
      for (const warning of conf.warnings) io.stderr.write(`WARNING: ${warning}\n`);
      connected = connect(conf.env, flags, (line) => io.stderr.write(line));
    }
    return connected;
  };
};

/** What one command is given: its checked arguments, and the session it connects on first use. */
interface CommandRun {
  live: () => Session;
  io: CliIo;
  flags: Flags;
  args: string[];
  savedPlan: boolean;
}

/** Each command, by the name it is called by. */
const COMMANDS: Record<string, (run: CommandRun) => Promise<number>> = {
  show: ({ live, io, flags, args }) => showCommand(live(), io, flags, args),
  plan: ({ live, io, flags }) => planCommand(live, io, flags),
  apply: ({ live, io, flags, args, savedPlan }) =>
    applyCommand(live, io, flags, savedPlan ? args[0] : undefined),
  set: ({ live, io, flags, args }) => setCommand(live, io, flags, args),
  refresh: ({ live, io, flags, args }) => refreshCommand(live, io, flags, args),
  status: ({ io, flags, args }) => statusCommand(io, flags, args),
  cancel: ({ io, flags, args }) => cancelCommand(io, flags, args),
  undo: ({ live, io, flags, args }) => undoCommand(live, io, flags, args),
  simulate: ({ io, flags }) => simulateCommand(io, flags),
  compliance: ({ io, flags }) => complianceCommand(io, flags),
  demo: ({ io, flags }) => demoCommand(io, flags, dispatch),
  send: ({ io, flags, args }) => sendCommand(io, flags, args),
  doctor: ({ io, flags }) => doctorCommand(io, flags),
};

async function dispatch(argv: string[], io: CliIo, session?: Session): Promise<number> {
  const { values: flags, positionals: words, tokens } = parseArgv(argv);
  const [command, ...given] = words;
  const answered = answerWithoutRunning(command, given, flags, io);
  if (answered !== undefined) return answered;
  if (!command) {
    io.stdout.write(`${USAGE}\n`);
    return EXIT.error;
  }
  checkCommand(command, flags, tokens, io.env);
  const { args, savedPlan } = commandArguments(command, given, flags);
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!run) throw new UsageError(`unknown command '${command.slice(0, 40)}'`);
  return run({ live: connectWhenNeeded(io, flags, session), io, flags, args, savedPlan });
}

/** Runs one CLI invocation and returns its exit code; errors are printed, never thrown. */
export const runCli = async (argv: string[], rawIo: CliIo): Promise<number> => {
  const io: CliIo = {
    ...rawIo,
    stdout: { write: (t: string) => rawIo.stdout.write(terminalSafe(String(t))) },
    stderr: { write: (t: string) => rawIo.stderr.write(terminalSafe(String(t))) },
  };
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
    // A script that asked for JSON always gets a document, even when the run could not start.
    if (argv.includes('--json'))
      io.stdout.write(
        jsonDocument({
          error: { code: error instanceof SticklerError ? error.code : 'unexpected', message },
        }),
      );
    return EXIT.error;
  }
};
