import { runCli } from '../lib/cli/main';

const untilStopped = () =>
  new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });

/** First Ctrl-C: tell the run (it stops gracefully); second: exit at once. */
const onInterrupt = (listener: () => void) => {
  let interrupts = 0;
  const handler = () => {
    if (++interrupts > 1) process.exit(130);
    listener();
  };
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGINT', handler);
  };
};

void runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
  cwd: process.cwd(),
  untilStopped,
  onInterrupt,
}).then((code) => {
  process.exitCode = code;
});
