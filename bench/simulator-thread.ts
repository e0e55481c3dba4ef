/**
 * The simulator in a worker thread, for the reconcile benchmark: OVH runs on its own servers, so
 * the bench gives the simulator its own thread (another core) instead of sharing the client's
 * event loop. Messages: `stats`, `reset`, `close`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { generateFleet } from '../lib/simulator/fleet';
import { type SimulatorOptions, startSimulator } from '../lib/simulator/server';

const { fleetShape, ...options } = workerData as Omit<SimulatorOptions, 'fleet'> & {
  fleetShape: Parameters<typeof generateFleet>[0];
};

void startSimulator({ ...options, fleet: generateFleet(fleetShape) }).then((sim) => {
  parentPort!.postMessage({ kind: 'ready', baseUrl: sim.baseUrl });
  parentPort!.on('message', async (message: string) => {
    if (message === 'stats') parentPort!.postMessage({ kind: 'stats', stats: sim.stats });
    else if (message === 'reset') {
      sim.resetStats();
      parentPort!.postMessage({ kind: 'reset' });
    } else if (message === 'close') {
      await sim.close();
      parentPort!.postMessage({ kind: 'closed' });
      process.exit(0);
    }
  });
});
