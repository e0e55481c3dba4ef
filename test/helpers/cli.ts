/** Runs the CLI in-process as a script would (no terminal, empty stdin) and captures what it prints. */
import { PassThrough } from 'node:stream';
import { type CliIo, runCli } from '../../lib/cli/main';

export const captureCli = async (argv: string[], env: NodeJS.ProcessEnv, cwd: string) => {
  const out: string[] = [];
  const err: string[] = [];
  const stdin = new PassThrough();
  stdin.end('');
  const io: CliIo = {
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    stdin,
    env,
    interactive: false,
    cwd,
  };
  const code = await runCli(argv, io);
  return { code, out: out.join(''), err: err.join('') };
};
