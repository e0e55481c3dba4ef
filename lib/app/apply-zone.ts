/**
 * Applies one zone's unapplied changes, whoever made them: the way out of "stored but not
 * applied", or a deliberate push of a control-panel edit. Waits for a refresh already running
 * (never races one), then refreshes the zone carefully (refresh-zone.ts).
 */
import { unappliedCountIn } from '../domain/zones';
import type { Clock } from '../ports/clock';
import type { LoadBalancerApi } from '../ports/load-balancer-api';
import type { ApplyProgress } from './apply-plan';
import { makeZoneRefresher, type RefreshTiming, type ZoneRefreshOutcome } from './refresh-zone';

export const makeApplyZone = (deps: {
  api: LoadBalancerApi;
  clock: Clock;
  onProgress?: (event: ApplyProgress) => void;
}) => {
  const refresher = makeZoneRefresher(deps);
  return {
    /** How many unapplied changes the zone holds (a change to an `all` farm counts in every zone). */
    async pendingIn(service: string, zone: string): Promise<number> {
      return unappliedCountIn(await deps.api.pendingChanges(service))(zone);
    },
    async applyZone(
      service: string,
      zone: string,
      pending: number,
      timing: RefreshTiming,
    ): Promise<ZoneRefreshOutcome> {
      const running = await refresher.runningRefreshes(service);
      if (running.length > 0) {
        deps.onProgress?.({ kind: 'waiting-for-running-tasks', service, taskIds: running });
        await Promise.all(running.map((id) => refresher.waitForTask(service, id, timing)));
      }
      return refresher.refreshZone(service, zone, pending, timing);
    },
  };
};
