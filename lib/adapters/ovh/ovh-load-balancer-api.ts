/** The LoadBalancerApi port over the OVH /ipLoadbalancing API. */
import * as z from 'zod/mini';
import { InvalidInputError, NotFoundError, ServiceUnavailableError } from '../../domain/errors';
import { type Farm, type FarmRef, SERVICE_NAME_PATTERN, SERVICE_NAME_RULE } from '../../domain/farm';
import { FARM_TYPES, type FarmType, type Stickiness } from '../../domain/stickiness';
import type { PendingChange } from '../../domain/zones';
import {
  type DefinedFarm,
  type LoadBalancerApi,
  TASK_STATUSES,
  type Task,
  type TaskStatus,
} from '../../ports/load-balancer-api';
import { OvhApiError } from './errors';
import type { OvhHttpClient } from './http-client';

const FarmSchema = z.looseObject({
  farmId: z.number(),
  zone: z.string(),
  displayName: z.optional(z.nullable(z.string())),
  stickiness: z.optional(z.nullable(z.enum(['cookie', 'sourceIp']))),
});
/** An aggregated farm list: objects, each a farm as GET …/farm/{id} answers it. */
const FarmListSchema = z.array(FarmSchema);
const DefinedFarmsSchema = z.array(z.looseObject({ id: z.number(), type: z.string() }));
const PendingSchema = z.array(z.looseObject({ zone: z.string(), number: z.number() }));
const TaskSchema = z.looseObject({
  id: z.number(),
  action: z.string(),
  status: z.enum(TASK_STATUSES),
  progress: z._default(z.number(), 0),
  zones: z._default(z.array(z.string()), []),
  creationDate: z.string(),
  doneDate: z._default(z.nullable(z.string()), null),
});
const IdsSchema = z.array(z.number());
const NamesSchema = z.array(z.string());

/**
 * A service's path. A name that is not an OVH service name (empty, `.`, `..`, a slash) is refused
 * before any call: it would change the path (fetch resolves `..`) and OVH would answer with a
 * misleading error (an invalid signature, another object not found).
 */
const base = (service: string) => {
  if (!SERVICE_NAME_PATTERN.test(service))
    throw new InvalidInputError(`'${service.slice(0, 60)}' is not a load balancer: ${SERVICE_NAME_RULE}`, [
      { path: 'service', message: SERVICE_NAME_RULE },
    ]);
  return `/ipLoadbalancing/${service}`;
};

const serviceNotFound = (service: string, cause: unknown) =>
  new NotFoundError(
    `load balancer ${service} does not exist, or this consumer key cannot see it (stickler show lists them)`,
    { cause },
  );
const is404 = (error: unknown) => error instanceof OvhApiError && error.status === 404;

/** Farms per page of an aggregated list. */
export const LIST_PAGE_SIZE = 1_000;

/** How farms are discovered: `auto` tries the aggregated list once, and keeps to what works. */
export type FarmListing = 'auto' | 'per-farm';

export class OvhLoadBalancerApi implements LoadBalancerApi {
  private listing: 'auto' | 'per-farm' | 'aggregated';
  private probing: Promise<void> | undefined;

  constructor(
    private readonly client: OvhHttpClient,
    options: { listing?: FarmListing } = {},
  ) {
    this.listing = options.listing ?? 'auto';
  }

  /** The same API with every call ending by `deadline` (epoch ms): see OvhHttpClient.bounded. */
  bounded(deadline: number): LoadBalancerApi {
    const view = Object.create(this) as { client: OvhHttpClient };
    view.client = this.client.bounded(deadline);
    return view as unknown as LoadBalancerApi;
  }

  async listServices(): Promise<string[]> {
    return this.parse('GET', '/ipLoadbalancing', NamesSchema, await this.client.get('/ipLoadbalancing'));
  }

  /** A service-level failure in words: missing, expired, or not granted to this key. */
  private serviceError(service: string, error: unknown): unknown {
    if (is404(error)) return serviceNotFound(service, error);
    // 460: the service expired; 403 NOT_GRANTED_CALL: the consumer key is pinned to other services.
    if (error instanceof OvhApiError && (error.status === 460 || error.errorCode === 'NOT_GRANTED_CALL')) {
      return new ServiceUnavailableError(
        service,
        error.status === 460
          ? `load balancer ${service} is expired or suspended (HTTP 460)`
          : `the consumer key is not granted access to load balancer ${service}`,
        { cause: error },
      );
    }
    return error;
  }

  /**
   * Every farm of a service with its configuration, in one call per farm type and page, with the
   * listing mode OVH's control panel uses (`X-Pagination-Mode: CachedObjectList-Pages`; not in
   * the published schema). Undefined when OVH answers with ids instead (the mode is not offered):
   * the caller then reads farm by farm, and this is not tried again. `Pragma: no-cache` asks for
   * the list as stored now, not a cached copy.
   */
  async listFarmsWithConfig(service: string): Promise<Farm[] | undefined> {
    // Services are read in parallel: the first asks, the others wait for its answer's shape, so
    // an OVH that does not offer the mode costs one call per run, not one per service.
    while (this.listing === 'auto' && this.probing) await this.probing;
    if (this.listing === 'per-farm') return undefined;
    let known: (() => void) | undefined;
    if (this.listing === 'auto') this.probing = new Promise<void>((resolve) => (known = resolve));
    try {
      return await this.listAggregated(service, () => known?.());
    } finally {
      if (known) {
        this.probing = undefined;
        known();
      }
    }
  }

  private async listAggregated(service: string, shapeKnown: () => void): Promise<Farm[] | undefined> {
    const farms: Farm[] = [];
    for (const type of FARM_TYPES) {
      const path = `${base(service)}/${type}/farm`;
      for (let page = 1; ; page++) {
        let answer: { value: unknown; headers: Headers };
        try {
          answer = await this.client.getWithHeaders(path, {
            'X-Pagination-Mode': 'CachedObjectList-Pages',
            'X-Pagination-Size': String(LIST_PAGE_SIZE),
            'X-Pagination-Number': String(page),
            Pragma: 'no-cache',
          });
        } catch (error) {
          // A 400: the mode (or its headers) refused here; read farm by farm, as without it.
          if (error instanceof OvhApiError && error.status === 400) {
            this.listing = 'per-farm';
            shapeKnown();
            return undefined;
          }
          throw this.serviceError(service, error);
        }
        const parsed = FarmListSchema.safeParse(answer.value);
        if (!parsed.success) {
          // Ids (the documented answer) or anything else: not offered here; never guessed from.
          this.listing = 'per-farm';
          shapeKnown();
          return undefined;
        }
        this.listing = 'aggregated';
        shapeKnown();
        for (const farm of parsed.data) {
          farms.push({
            service,
            type,
            farmId: farm.farmId,
            zone: farm.zone,
            displayName: farm.displayName ?? null,
            stickiness: type === 'udp' ? null : (farm.stickiness ?? null),
          });
        }
        const total = Number(answer.headers.get('x-pagination-elements'));
        const seen = page * LIST_PAGE_SIZE;
        if (parsed.data.length < LIST_PAGE_SIZE || !Number.isFinite(total) || seen >= total) break;
      }
    }
    return farms;
  }

  async listFarms(service: string): Promise<DefinedFarm[]> {
    const path = `${base(service)}/definedFarms`;
    let body: unknown;
    try {
      body = await this.client.get(path);
    } catch (error) {
      throw this.serviceError(service, error);
    }
    const farms = this.parse('GET', path, DefinedFarmsSchema, body);
    return farms
      .filter((f): f is { id: number; type: FarmType } => (FARM_TYPES as readonly string[]).includes(f.type))
      .map((f) => ({ type: f.type, farmId: f.id }));
  }

  async getFarm(ref: FarmRef): Promise<Farm> {
    const path = `${base(ref.service)}/${ref.type}/farm/${ref.farmId}`;
    let body: unknown;
    try {
      body = await this.client.get(path);
    } catch (error) {
      if (is404(error)) {
        // The farm, or the whole load balancer? One more read, on this failure path only.
        if (await this.serviceMissing(ref.service)) throw serviceNotFound(ref.service, error);
        throw new NotFoundError(
          `${ref.type.toUpperCase()} farm ${ref.farmId} was not found on ${ref.service}`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
    const farm = this.parse('GET', path, FarmSchema, body);
    return {
      service: ref.service,
      type: ref.type,
      farmId: farm.farmId,
      zone: farm.zone,
      displayName: farm.displayName ?? null,
      stickiness: ref.type === 'udp' ? null : (farm.stickiness ?? null),
    };
  }

  async listZones(service: string): Promise<string[]> {
    const path = `${base(service)}/zone`;
    let body: unknown;
    try {
      body = await this.client.get(path);
    } catch (error) {
      if (is404(error)) throw serviceNotFound(service, error);
      throw error;
    }
    return this.parse('GET', path, NamesSchema, body);
  }

  private async serviceMissing(service: string): Promise<boolean> {
    try {
      // Its zone list: covered by a key pinned to the service (`/ipLoadbalancing/NAME/*`) too.
      await this.client.get(`${base(service)}/zone`);
      return false;
    } catch (error) {
      return is404(error);
    }
  }

  async setStickiness(ref: FarmRef, stickiness: Stickiness): Promise<void> {
    // An explicit null clears stickiness; leaving the field out would keep the old value.
    await this.client.put(`${base(ref.service)}/${ref.type}/farm/${ref.farmId}`, { stickiness });
  }

  async pendingChanges(service: string): Promise<PendingChange[]> {
    const path = `${base(service)}/pendingChanges`;
    return this.parse('GET', path, PendingSchema, await this.client.get(path)).map((p) => ({
      zone: p.zone,
      number: p.number,
    }));
  }

  async refresh(service: string, zone: string): Promise<Task> {
    const path = `${base(service)}/refresh`;
    return this.parse('POST', path, TaskSchema, await this.client.post(path, { zone }));
  }

  async listTasks(service: string, filter: { action?: string; status?: TaskStatus }): Promise<number[]> {
    const path = `${base(service)}/task`;
    return this.parse('GET', path, IdsSchema, await this.client.get(path, filter));
  }

  async getTask(service: string, taskId: number): Promise<Task> {
    const path = `${base(service)}/task/${taskId}`;
    return this.parse('GET', path, TaskSchema, await this.client.get(path));
  }

  private parse<S extends z.ZodMiniType>(
    method: string,
    path: string,
    schema: S,
    value: unknown,
  ): z.infer<S> {
    const result = schema.safeParse(value);
    if (result.success) return result.data as z.infer<S>;
    const first = result.error.issues[0];
    // Answered with success, so a write or a refresh was carried out all the same.
    throw new OvhApiError(
      'bad-response',
      `unexpected response shape${first ? ` at ${first.path.join('.') || 'root'}: ${first.message}` : ''}`,
      { method, path, retryable: false, outcomeUnknown: method !== 'GET' },
    );
  }
}
