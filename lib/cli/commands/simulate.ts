/** `stickler simulate [--pipeline]`: the OVH IPLB simulator (and the local pipeline) until Ctrl-C. */
import { join } from 'node:path';
import { startLocalPipeline } from '../../local/pipeline';
import { parseFleet } from '../../simulator/fleet';
import {
  SIMULATOR_CREDENTIALS,
  SIMULATOR_SERVICE_ACCOUNT,
  simulatorEnv,
  startSimulator,
} from '../../simulator/server';
import { type Flags, number, packageRoot, readInput } from '../args';
import { describeEvent } from '../demo-pipeline';
import { type CliIo, EXIT } from '../io';

export const startSimulatorFromFlags = (flags: Flags, fleetText: string, fleetSource: string) =>
  startSimulator({
    fleet: parseFleet(fleetText, fleetSource),
    port: number(flags, 'port', 0, { max: 65_535 }),
    task: {
      todoMs: number(flags, 'task-ms', 1_000) / 4,
      doingMs: (number(flags, 'task-ms', 1_000) * 3) / 4,
    },
    faults: {
      seed: number(flags, 'seed', 1, { max: Number.MAX_SAFE_INTEGER }),
      latencyMs: number(flags, 'latency', 0),
      serverErrorRate: number(flags, 'error-rate', 0, { max: 1, fraction: true }),
      throttleRate: number(flags, 'throttle-rate', 0, { max: 1, fraction: true }),
      hangRate: number(flags, 'hang-rate', 0, { max: 1, fraction: true }),
      taskErrorRate: number(flags, 'task-error-rate', 0, { max: 1, fraction: true }),
    },
  });

export async function simulateCommand(io: CliIo, flags: Flags): Promise<number> {
  const file = flags.fleet ?? join(packageRoot(), 'examples', 'fleet.yaml');
  const sim = await startSimulatorFromFlags(flags, readInput(io.cwd, file, 'fleet'), file);
  const farms = [...sim.state.services.values()].reduce((n, s) => n + s.farms.size, 0);
  // The simulator takes both kinds of credentials at once; the exports name one, as stickler takes one.
  const credentials = flags['service-account'] ? SIMULATOR_SERVICE_ACCOUNT : SIMULATOR_CREDENTIALS;
  let env = simulatorEnv(sim.baseUrl, credentials);
  // A pipeline that cannot start (a configuration error) stops the simulator too: the process ends
  // with the error, never left running half started.
  const pipeline = flags.pipeline
    ? await startLocalPipeline({
        ovhBaseUrl: sim.baseUrl,
        ovhCredentials: credentials,
        onEvent: (e) => io.stdout.write(`bus: ${describeEvent(e)}\n`),
        onNote: (n) =>
          io.stdout.write(
            `${n.system === 'jira' ? 'Jira (local stand-in): comment on' : 'ServiceNow (local stand-in): work note on'} ${n.ticket}: ${n.text}\n`,
          ),
        onBatch: (records, result) =>
          io.stdout.write(
            `apply-worker: batch of ${records.length} record(s), ${result?.batchItemFailures.length ?? 0} handed back\n`,
          ),
      }).catch(async (error: unknown) => {
        await sim.close();
        throw error;
      })
    : undefined;
  if (pipeline) env = { ...pipeline.env, AWS_ENDPOINT_URL_EVENTBRIDGE: pipeline.bus.url };
  io.stdout.write(
    `OVH IPLB simulator: ${sim.state.services.size} load balancers, ${farms} farms, listening on ${sim.baseUrl}\n` +
      (pipeline
        ? `Local pipeline: bus ${env.EVENT_BUS_NAME} at ${pipeline.bus.url} → queue → apply-worker; DynamoDB (dynalite) at ${env.AWS_ENDPOINT_URL_DYNAMODB}\n` +
          `HTTP API: POST ${pipeline.api.url}/webhooks/{jira,servicenow,generic} (signed with the STICKLER_WEBHOOK_SECRET_* below)\n` +
          `          POST ${pipeline.api.url}/slack/commands and /slack/interactions (signed with SLACK_SIGNING_SECRET; ` +
          `set: ${pipeline.env.STICKLER_SLACK_SETTERS ? `users ${pipeline.env.STICKLER_SLACK_SETTERS} in ${pipeline.env.STICKLER_SLACK_CHANNELS || 'no channel'}` : 'nobody, until STICKLER_SLACK_SETTERS and STICKLER_SLACK_CHANNELS are set'})\n` +
          (pipeline.ticketing
            ? `Outcomes go back to local stand-ins of a Jira site and a ServiceNow instance, printed here as they arrive\n`
            : `Outcomes go back to the Jira site and ServiceNow instance of JIRA_BASE_URL and SERVICENOW_BASE_URL\n`)
        : '') +
      `From another shell (these credentials and secrets only open the simulator and the local pipeline):\n\n` +
      Object.entries(env)
        // POWERTOOLS_* set how the functions running here log; exported, they would make the
        // other shell's `stickler compliance` print its handler's logs.
        .filter(([k]) => !k.startsWith('POWERTOOLS_'))
        .map(([k, v]) => `  export ${k}=${v}\n`)
        .join('') +
      `\nCtrl-C stops it.\n`,
  );
  await (io.untilStopped?.() ?? new Promise<void>(() => undefined));
  await pipeline?.close();
  await sim.close();
  return EXIT.ok;
}
