/** Starts the simulator on a loopback port and builds the project's OVH client against it. */
import { OvhHttpClient, type OvhHttpClientOptions } from '../../lib/adapters/ovh/http-client';
import { OvhLoadBalancerApi } from '../../lib/adapters/ovh/ovh-load-balancer-api';
import type { Fleet } from '../../lib/simulator/fleet';
import {
  type RunningSimulator,
  SIMULATOR_CREDENTIALS,
  type SimulatorOptions,
  startSimulator,
} from '../../lib/simulator/server';

export const smallFleet = (): Fleet => ({
  services: [
    {
      name: 'loadbalancer-aaa',
      zones: ['gra', 'sbg'],
      farms: [
        {
          id: 1,
          type: 'http',
          zone: 'gra',
          displayName: 'web-gra',
          stickiness: 'cookie',
          balance: 'roundrobin',
          port: 80,
        },
        { id: 2, type: 'http', zone: 'sbg', displayName: 'web-sbg', stickiness: null, port: 80 },
        { id: 3, type: 'tcp', zone: 'gra', displayName: 'db-gra', stickiness: 'sourceIp', port: 5432 },
        { id: 4, type: 'udp', zone: 'sbg', displayName: 'dns', port: 53 },
        { id: 5, type: 'http', zone: 'all', displayName: 'api-all', stickiness: null, port: 443 },
      ],
    },
    {
      name: 'loadbalancer-bbb',
      zones: ['rbx'],
      farms: [{ id: 10, type: 'http', zone: 'rbx', displayName: 'shop', stickiness: 'sourceIp', port: 80 }],
    },
  ],
});

export interface SimulatorHarness {
  sim: RunningSimulator;
  client: OvhHttpClient;
  api: OvhLoadBalancerApi;
  close(): Promise<void>;
}

export const startHarness = async (
  options: Partial<SimulatorOptions> = {},
  client: Partial<OvhHttpClientOptions> = {},
): Promise<SimulatorHarness> => {
  const sim = await startSimulator({ fleet: smallFleet(), task: { todoMs: 10, doingMs: 30 }, ...options });
  const http = new OvhHttpClient({
    baseUrl: sim.baseUrl,
    credentials: SIMULATOR_CREDENTIALS,
    timeoutMs: 2_000,
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
    ...client,
  });
  return { sim, client: http, api: new OvhLoadBalancerApi(http), close: () => sim.close() };
};
