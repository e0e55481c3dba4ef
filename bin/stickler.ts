import { runCli } from '../lib/cli/main';
import { processIo } from '../lib/cli/process-io';

const { io, exitCode } = processIo(process);

void runCli(process.argv.slice(2), io).then((code) => {
  process.exitCode = exitCode(code);
});
