/** `stickler show [SERVICE...]`: the fleet as stored, and the zones holding unapplied changes. */
import { makeDiscoverFleet } from '../../app/discover-fleet';
import { type Unreadable, unreadableOf } from '../../app/plan-policy';
import { makeReadTraffic } from '../../app/read-traffic';
import { DEFAULT_JOIN_MARGIN_MS } from '../../app/waiting-slot';
import type { PendingChange } from '../../domain/zones';
import { systemClock } from '../../ports/clock';
import type { Flags } from '../args';
import { type CliIo, EXIT, jsonDocument } from '../io';
import { renderFleet, renderTraffic } from '../render';
import { showJson, trafficJson } from '../report-json';
import type { Session } from '../session';
import { reportUnreadable, windowFromFlags } from './plan';

/** Reads the fleet; a listed load balancer stickler cannot use is skipped with a warning on stderr. */
export const discoverWithWarnings = (
  session: Session,
  io: CliIo,
  services: readonly string[] | undefined,
  onFailed?: (service: string, error: unknown) => void,
) =>
  makeDiscoverFleet({ api: session.api })({
    ...(services?.length ? { services } : {}),
    onSkipped: (service, reason) => io.stderr.write(`WARNING: skipped ${service}: ${reason}\n`),
    ...(onFailed ? { onFailed } : {}),
  });

export async function showCommand(
  session: Session,
  io: CliIo,
  flags: Flags,
  services: string[],
): Promise<number> {
  const window = windowFromFlags(flags);
  // A load balancer that cannot be read is reported, and the others are shown.
  const unreadable: Unreadable[] = [];
  const fleet = await discoverWithWarnings(session, io, services, (service, error) =>
    unreadable.push(unreadableOf(service, error)),
  );
  const names = [...new Set(fleet.map((f) => f.service))];
  const pending = new Map<string, PendingChange[]>();
  await Promise.all(
    names.map(async (s) => {
      try {
        pending.set(s, await session.api.pendingChanges(s));
      } catch (error) {
        unreadable.push(unreadableOf(s, error));
      }
    }),
  );
  const failed = new Set(unreadable.map((u) => u.service));
  const shown = fleet.filter((f) => !failed.has(f.service));
  unreadable.sort((a, b) => a.service.localeCompare(b.service));
  const traffic = await makeReadTraffic({ traffic: session.traffic, clock: systemClock })({
    services: [...new Set(shown.map((f) => f.service))],
    window,
    // As plan's: the quietest a request with this window would be deferred to.
    marginMs: DEFAULT_JOIN_MARGIN_MS,
  });
  if (flags.json) {
    io.stdout.write(
      jsonDocument({
        ...showJson(shown, pending),
        traffic: trafficJson(traffic),
        unreadable: unreadable.map((u) => ({
          service: u.service,
          code: u.code,
          reason: u.message,
          retryable: u.retryable,
        })),
      }),
    );
  } else {
    io.stdout.write(renderFleet(shown, pending));
    io.stdout.write(
      'STICKINESS is the stored value. OVH does not expose the applied configuration: a farm is live as shown\n' +
        "unless its zone has unapplied changes ('stickler refresh SERVICE ZONE' applies them).\n",
    );
    const lines = renderTraffic(traffic, 'these load balancers');
    if (lines) io.stdout.write(`\n${lines}`);
  }
  reportUnreadable(io, unreadable);
  return unreadable.length > 0 ? EXIT.error : EXIT.ok;
}
