/** The OVH IP Load Balancer calls stickler needs, as the core sees them. */
import type { Farm, FarmRef } from '../domain/farm';
import type { FarmType, Stickiness } from '../domain/stickiness';
import type { PendingChange } from '../domain/zones';

/** The `action` of OVH's tasks that apply a zone's configuration (a refresh). */
export const REFRESH_TASK_ACTION = 'refreshIplb';

export const TASK_STATUSES = ['todo', 'doing', 'done', 'error', 'cancelled', 'blocked'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export interface Task {
  id: number;
  action: string;
  status: TaskStatus;
  progress: number;
  zones: string[];
  creationDate: string;
  doneDate: string | null;
}

export interface DefinedFarm {
  type: FarmType;
  farmId: number;
}

export interface LoadBalancerApi {
  listServices(): Promise<string[]>;
  /** Throws NotFoundError when the load balancer does not exist (or the key cannot see it). */
  listFarms(service: string): Promise<DefinedFarm[]>;
  /**
   * Every farm of the service with its configuration in a few calls, when the API offers it;
   * undefined when it does not (then listFarms and getFarm, farm by farm).
   */
  listFarmsWithConfig?(service: string): Promise<Farm[] | undefined>;
  /** The zones the load balancer is deployed in. */
  listZones(service: string): Promise<string[]>;
  /** Returns the stored farm configuration. */
  getFarm(ref: FarmRef): Promise<Farm>;
  /**
   * Stores a new stickiness. Only the stickiness field is sent (an explicit `null` to clear it):
   * fields left out of an OVH farm PUT keep their value, so concurrent edits of other fields
   * are not overwritten.
   */
  setStickiness(ref: FarmRef, stickiness: Stickiness): Promise<void>;
  pendingChanges(service: string): Promise<PendingChange[]>;
  refresh(service: string, zone: string): Promise<Task>;
  listTasks(service: string, filter: { action?: string; status?: TaskStatus }): Promise<number[]>;
  getTask(service: string, taskId: number): Promise<Task>;
  /**
   * The same API with every call ending by `deadline` (epoch ms): no call outlives it (an
   * adapter without the means leaves this out, and its calls keep their own timeouts).
   */
  bounded?(deadline: number): LoadBalancerApi;
}
