/**
 * `stickler demo`: the main job on the embedded example fleet and policy, against the local
 * simulator, then the serverless pipeline locally; no OVH or AWS account is used.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIMULATOR_CREDENTIALS, simulatorEnv } from '../../simulator/server';
import { type Flags, number, packageRoot } from '../args';
import { runPipelineDemo } from '../demo-pipeline';
import { type CliIo, EXIT } from '../io';
import { connect, type Session } from '../session';
import { startSimulatorFromFlags } from './simulate';

/** `dispatch` runs one sub-command, as the CLI would, against the demo's session. */
export type Dispatch = (argv: string[], io: CliIo, session?: Session) => Promise<number>;

export async function demoCommand(io: CliIo, flags: Flags, dispatch: Dispatch): Promise<number> {
  const root = packageRoot();
  const fleetFile = join(root, 'examples', 'fleet.yaml');
  const policyFile = join(root, 'examples', 'policy.yaml');
  const sim = await startSimulatorFromFlags(
    { ...flags, latency: flags.latency ?? '5', 'task-ms': flags['task-ms'] ?? '800' },
    readFileSync(fleetFile, 'utf8'),
    fleetFile,
  );
  const say = (text: string) => io.stdout.write(`\n=== ${text}\n\n`);
  try {
    const env = { ...io.env, ...simulatorEnv(sim.baseUrl) };
    const session = connect(env, { ...flags, 'poll-interval': flags['poll-interval'] ?? '200' });
    // Progress goes to stdout here so the story reads in order.
    const sub = (argv: string[]) => dispatch(argv, { ...io, env, stderr: io.stdout }, session);
    io.stdout.write(
      `stickler demo: the OVH IPLB simulator runs the example fleet (${fleetFile}) on ${sim.baseUrl};\nno OVH or AWS account is used.\n`,
    );
    say('stickler show — the fleet as stored');
    await sub(['show']);
    say(`stickler plan --policy examples/policy.yaml`);
    const planned = await sub(['plan', '--policy', policyFile]);
    say('stickler apply --policy examples/policy.yaml --yes');
    const applied = await sub(['apply', '--policy', policyFile, '--yes']);
    say('stickler plan again — every farm the policy can reach now complies');
    const after = await sub(['plan', '--policy', policyFile]);
    say('stickler set loadbalancer-7f3a9c21 tcp/201 cookie — refused before any write');
    const puts = sim.stats.calls['put-farm'];
    await sub(['set', 'loadbalancer-7f3a9c21', 'tcp/201', 'cookie', '--ticket', 'OPS-1234']);
    io.stdout.write(`(PUT calls made by that set: ${sim.stats.calls['put-farm'] - puts})\n`);
    say('the serverless pipeline, locally: EventBridge bus → SQS queue → apply-worker → audit events');
    io.stdout.write(
      'Stood in locally: the bus and its rule, the queue and its event source mapping, EventBridge Scheduler,\n' +
        'SSM. Real: the apply-worker handler and its own AWS client (fetch + SigV4) over HTTP, the AWS SDK\n' +
        'EventBridge client publishing requests as other systems do, DynamoDB (dynalite), the OVH API (simulator).\n\n',
    );
    const pipelineOk = await runPipelineDemo(sim, SIMULATOR_CREDENTIALS, (t) => io.stdout.write(t), {
      batchWindowMs: 500,
      pollIntervalMs: number(
        { ...flags, 'poll-interval': flags['poll-interval'] ?? '200' },
        'poll-interval',
        200,
      ),
    });
    const calls = Object.entries(sim.stats.calls)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    say('what happened');
    io.stdout.write(
      `plan exit ${planned} (drift), apply exit ${applied}, plan after exit ${after}: the one farm still reported\n` +
        `is a TCP farm the policy asks cookie of, which no apply can fix; the policy needs a rule for it.\n` +
        `The traffic lines read the simulator's metrics (metricsToken, then Prometheus queries): its curves in\n` +
        `examples/fleet.yaml are lowest in the 5 minutes from 04:00 UTC for loadbalancer-7f3a9c21 and from 02:00 UTC\n` +
        `for loadbalancer-b81e0d44, the quietest slots found above; ip-203.0.113.7 has no metrics:\n` +
        `its traffic is said to be unknown, and plan and apply go on as they would without metrics.\n` +
        `OVH API calls served by the simulator: ${calls}.\n`,
    );
    return applied === EXIT.error || !pipelineOk ? EXIT.error : EXIT.ok;
  } finally {
    await sim.close();
  }
}
