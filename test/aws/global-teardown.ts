/** `npm run test:aws`, after the tests: ends the moto server global-setup.ts started, and its files. */
import { rmSync } from 'node:fs';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export default async function globalTeardown(): Promise<void> {
  const started = (globalThis as { __STICKLER_MOTO__?: { pid?: number; dir: string } }).__STICKLER_MOTO__;
  if (!started) return;
  const { pid } = started;
  if (pid && alive(pid)) {
    process.kill(-pid, 'SIGTERM'); // its own process group: moto and nothing else
    for (let waited = 0; alive(pid) && waited < 5_000; waited += 100)
      await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) process.kill(-pid, 'SIGKILL');
  }
  rmSync(started.dir, { recursive: true, force: true });
}
