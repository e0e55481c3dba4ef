/**
 * The local pipeline on the example fleet, for end-to-end tests: the simulator (short tasks) and
 * the pipeline with a short batching window, and one close that also restores the environment
 * the pipeline set.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type LocalPipeline, type LocalPipelineOptions, startLocalPipeline } from '../../lib/local/pipeline';
import { parseFleet } from '../../lib/simulator/fleet';
import {
  type RunningSimulator,
  SIMULATOR_CREDENTIALS,
  type SimulatorOptions,
  startSimulator,
} from '../../lib/simulator/server';

export interface PipelineHarness {
  sim: RunningSimulator;
  pipeline: LocalPipeline;
  close(): Promise<void>;
}

export const startPipelineHarness = async (
  options: { simulator?: Partial<SimulatorOptions>; pipeline?: Partial<LocalPipelineOptions> } = {},
): Promise<PipelineHarness> => {
  const saved = { ...process.env };
  const sim = await startSimulator({
    fleet: parseFleet(readFileSync(join(__dirname, '../../examples/fleet.yaml'), 'utf8')),
    task: { todoMs: 10, doingMs: 30 },
    ...options.simulator,
  });
  const pipeline = await startLocalPipeline({
    ovhBaseUrl: sim.baseUrl,
    ovhCredentials: SIMULATOR_CREDENTIALS,
    batchWindowMs: 100,
    pollIntervalMs: 10,
    ...options.pipeline,
  });
  return {
    sim,
    pipeline,
    close: async () => {
      await pipeline.close();
      await sim.close();
      process.env = saved;
    },
  };
};
