/**
 * The simulator's model of OVH IP Load Balancers: stored configuration (what PUT changes) apart
 * from applied configuration (what traffic sees), per-zone pending-change counters, and refresh
 * tasks that move todo → doing → done over time and only then apply the zone's configuration.
 */
import type { FarmType } from '../domain/stickiness';
import type { TaskStatus } from '../ports/load-balancer-api';
import type { Fleet, FleetTraffic } from './fleet';

export type FarmConfig = Record<string, unknown>;

export interface SimFarm {
  type: FarmType;
  farmId: number;
  zone: string;
  stored: FarmConfig;
  /** Applied configuration per zone it is deployed in (a farm in zone `all` is in every zone). */
  applied: Map<string, FarmConfig>;
}

export interface SimTask {
  id: number;
  action: string;
  zones: string[];
  createdAt: number;
  status: TaskStatus;
  doneAt: number | null;
  /** Configuration captured when the refresh was asked: that is what the task deploys. */
  snapshot: Map<string, FarmConfig>;
  pendingAtStart: Map<string, number>;
  willFail: boolean;
}

export interface SimService {
  name: string;
  displayName: string | null;
  state: 'ok' | 'expired';
  zones: string[];
  farms: Map<string, SimFarm>;
  pending: Map<string, number>;
  tasks: SimTask[];
  /** Its daily traffic curve, or `none` (no metrics). */
  traffic: FleetTraffic;
}

export interface TaskTiming {
  /** Time a new task stays `todo`. */
  todoMs: number;
  /** Time it then stays `doing` before it ends. */
  doingMs: number;
}

const WRITABLE: Record<FarmType, readonly string[]> = {
  http: ['balance', 'displayName', 'port', 'probe', 'stickiness', 'vrackNetworkId'],
  tcp: ['balance', 'displayName', 'port', 'probe', 'stickiness', 'vrackNetworkId'],
  udp: ['displayName', 'port', 'vrackNetworkId'],
};

export const writableFields = (type: FarmType): readonly string[] => WRITABLE[type];

export const farmKeyOf = (type: string, id: number | string) => `${type}/${id}`;

const clone = (config: FarmConfig): FarmConfig => structuredClone(config);

export class SimulatorState {
  readonly services = new Map<string, SimService>();
  private nextTaskId = 4_200_000;

  constructor(
    private readonly fleet: Fleet,
    private readonly timing: TaskTiming,
    private readonly failTask: () => boolean = () => false,
  ) {
    this.load();
  }

  /** Back to the fleet it started with (task ids go on counting, so none is ever reused). */
  reset(): void {
    this.services.clear();
    this.load();
  }

  private load(): void {
    const { fleet } = this;
    for (const s of fleet.services) {
      const service: SimService = {
        name: s.name,
        displayName: s.displayName ?? null,
        state: s.state ?? 'ok',
        zones: [...s.zones],
        farms: new Map(),
        pending: new Map(),
        tasks: [],
        traffic: s.traffic ?? {},
      };
      for (const f of s.farms ?? []) {
        const stored: FarmConfig = {
          displayName: f.displayName ?? null,
          port: f.port ?? (f.type === 'udp' ? 53 : null),
          vrackNetworkId: null,
        };
        if (f.type !== 'udp') {
          stored.balance = f.balance ?? null;
          stored.probe = null;
          stored.stickiness = f.stickiness ?? null;
        }
        const farm: SimFarm = { type: f.type, farmId: f.id, zone: f.zone, stored, applied: new Map() };
        for (const zone of this.deployedZones(service, farm)) farm.applied.set(zone, clone(stored));
        service.farms.set(farmKeyOf(f.type, f.id), farm);
      }
      this.services.set(s.name, service);
    }
  }

  deployedZones(service: SimService, farm: { zone: string }): string[] {
    return farm.zone === 'all' ? service.zones : [farm.zone];
  }

  farmView(farm: SimFarm): FarmConfig {
    return { farmId: farm.farmId, zone: farm.zone, ...clone(farm.stored) };
  }

  /** Stores new writable values; every accepted write counts as a pending change in the farm's zones. */
  updateFarm(service: SimService, farm: SimFarm, patch: FarmConfig): void {
    Object.assign(farm.stored, clone(patch));
    for (const zone of this.deployedZones(service, farm)) {
      service.pending.set(zone, (service.pending.get(zone) ?? 0) + 1);
    }
  }

  pendingChanges(service: SimService): { zone: string; number: number }[] {
    return [...service.pending]
      .filter(([, n]) => n > 0)
      .map(([zone, number]) => ({ zone, number }))
      .sort((a, b) => a.zone.localeCompare(b.zone));
  }

  createRefresh(service: SimService, zone: string | undefined, now: number): SimTask {
    const zones = zone === undefined || zone === 'all' ? [...service.zones] : [zone];
    const snapshot = new Map<string, FarmConfig>();
    for (const [key, farm] of service.farms) {
      if (this.deployedZones(service, farm).some((z) => zones.includes(z)))
        snapshot.set(key, clone(farm.stored));
    }
    const task: SimTask = {
      id: this.nextTaskId++,
      action: 'refreshIplb',
      zones,
      createdAt: now,
      status: 'todo',
      doneAt: null,
      snapshot,
      pendingAtStart: new Map(zones.map((z) => [z, service.pending.get(z) ?? 0])),
      willFail: this.failTask(),
    };
    service.tasks.push(task);
    return task;
  }

  /** Moves tasks along to `now`; a task that reaches `done` deploys its snapshot in its zones. */
  advance(now: number): void {
    for (const service of this.services.values()) {
      for (const task of service.tasks) {
        if (task.status !== 'todo' && task.status !== 'doing') continue;
        const age = now - task.createdAt;
        if (age < this.timing.todoMs) continue;
        if (age < this.timing.todoMs + this.timing.doingMs) {
          task.status = 'doing';
          continue;
        }
        task.doneAt = task.createdAt + this.timing.todoMs + this.timing.doingMs;
        if (task.willFail) {
          task.status = 'error';
          continue;
        }
        task.status = 'done';
        for (const [key, config] of task.snapshot) {
          const farm = service.farms.get(key);
          if (!farm) continue;
          for (const zone of this.deployedZones(service, farm)) {
            if (task.zones.includes(zone)) farm.applied.set(zone, clone(config));
          }
        }
        for (const [zone, n] of task.pendingAtStart) {
          service.pending.set(zone, Math.max(0, (service.pending.get(zone) ?? 0) - n));
        }
      }
    }
  }

  taskView(task: SimTask, now: number) {
    const total = this.timing.todoMs + this.timing.doingMs;
    const progress =
      task.status === 'done'
        ? 100
        : task.status === 'doing'
          ? Math.min(99, Math.floor(((now - task.createdAt) / Math.max(total, 1)) * 100))
          : 0;
    return {
      id: task.id,
      action: task.action,
      status: task.status,
      progress,
      zones: task.zones,
      creationDate: new Date(task.createdAt).toISOString(),
      doneDate: task.doneAt === null ? null : new Date(task.doneAt).toISOString(),
    };
  }
}
