import { runCli } from '../lib/cli/main';

const untilStopped = () =>
  new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });

void runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
  cwd: process.cwd(),
  untilStopped,
}).then((code) => {
  process.exitCode = code;
});
