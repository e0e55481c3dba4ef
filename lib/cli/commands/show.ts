/** `stickler show [SERVICE...]`: the fleet as stored, and the zones holding unapplied changes. */
import { makeDiscoverFleet } from '../../app/discover-fleet';
import type { PendingChange } from '../../domain/zones';
import type { Flags } from '../args';
import { type CliIo, EXIT } from '../io';
import { renderFleet } from '../render';
import { showJson } from '../report-json';
import type { Session } from '../session';

/** Reads the fleet; a listed load balancer stickler cannot use is skipped with a warning on stderr. */
export const discoverWithWarnings = (session: Session, io: CliIo, services: readonly string[] | undefined) =>
  makeDiscoverFleet({ api: session.api })({
    ...(services?.length ? { services } : {}),
    onSkipped: (service, reason) => io.stderr.write(`WARNING: skipped ${service}: ${reason}\n`),
  });

export async function showCommand(
  session: Session,
  io: CliIo,
  flags: Flags,
  services: string[],
): Promise<number> {
  const fleet = await discoverWithWarnings(session, io, services);
  const names = [...new Set(fleet.map((f) => f.service))];
  const pending = new Map<string, PendingChange[]>(
    await Promise.all(names.map(async (s) => [s, await session.api.pendingChanges(s)] as const)),
  );
  if (flags.json) {
    io.stdout.write(`${JSON.stringify(showJson(fleet, pending), null, 2)}\n`);
    return EXIT.ok;
  }
  io.stdout.write(renderFleet(fleet, pending));
  io.stdout.write(
    'STICKINESS is the stored value. OVH does not expose the applied configuration: a farm is live as shown\n' +
      "unless its zone has unapplied changes ('stickler refresh SERVICE ZONE' applies them).\n",
  );
  return EXIT.ok;
}
