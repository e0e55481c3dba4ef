/**
 * `stickler doctor [--stage STAGE] [--json]`: checks what a deployment needs and says how to fix
 * each ✗. With --stage, the deployed stack stickler-STAGE (its outputs, its SSM parameters, in
 * its region, with the shell's AWS credentials); otherwise the environment's pipeline, as
 * `stickler simulate --pipeline` exports it. Exit 0 when nothing failed, 1 otherwise.
 */
import {
  type AwsCall,
  type AwsRestCall,
  type AwsService,
  DYNAMODB,
  EVENTBRIDGE,
  makeAwsJsonClient,
  makeAwsRestJsonClient,
  SCHEDULER,
  SQS,
  SSM,
} from '../../adapters/aws/aws-json-client';
import type { AwsCredentials } from '../../adapters/aws/sigv4';
import { ovhConfPaths, withOvhConf } from '../../adapters/ovh/ovh-conf';
import { ConfigError } from '../../domain/errors';
import { plainText } from '../../domain/text';
import type { Flags } from '../args';
import { type CheckResult, type DoctorTarget, runDoctor } from '../doctor';
import { type CliIo, EXIT, jsonDocument, UsageError } from '../io';
import { isLoopback, STAGE, sdkCredentials, stagePipeline } from '../pipeline';

/** Every AWS call's attempt gives up after this; two attempts. */
const AWS_CALL_TIMEOUT_MS = 10_000;

const SYMBOL: Record<CheckResult['status'], string> = { pass: '✓', fail: '✗', skip: '-' };

/** In the environment: the pipeline's names, or which of them is missing (or no pipeline at all). */
const checkPipelineExports = (busName: string | undefined, tableName: string | undefined, local: boolean) => {
  if (busName && tableName) return;
  const missing = [!busName ? 'EVENT_BUS_NAME' : '', !tableName ? 'IDEMPOTENCY_TABLE' : ''].filter(Boolean);
  throw new UsageError(
    local || busName || tableName
      ? `the pipeline's exports are incomplete: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set; paste all of what 'stickler simulate --pipeline' printed`
      : "no pipeline to check: give --stage STAGE for a deployed stack, or paste the exports 'stickler simulate --pipeline' prints",
  );
};

/** The pipeline's names, and the region and credentials to read it with. */
interface PipelineAccess {
  region: string;
  credentials: () => AwsCredentials;
  busName: string | undefined;
  tableName: string | undefined;
}

/**
 * The local pipeline's exports (or keys in the environment), else the shell's AWS credentials
 * and, with --stage, the names in the stack's outputs.
 */
const pipelineAccess = async (
  env: NodeJS.ProcessEnv,
  stage: string | undefined,
  local: boolean,
): Promise<PipelineAccess> => {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  const busName = env.EVENT_BUS_NAME?.trim();
  const tableName = env.IDEMPOTENCY_TABLE?.trim();
  if (stage === undefined) checkPipelineExports(busName, tableName, local);
  if (local || (stage === undefined && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY)) {
    if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY || !region)
      throw new UsageError(
        `the local pipeline's exports are incomplete: ${[!env.AWS_ACCESS_KEY_ID ? 'AWS_ACCESS_KEY_ID' : '', !env.AWS_SECRET_ACCESS_KEY ? 'AWS_SECRET_ACCESS_KEY' : '', !region ? 'AWS_REGION' : ''].filter(Boolean).join(', ')} not set; paste all of what 'stickler simulate --pipeline' printed`,
      );
    const creds = {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    };
    return { region, credentials: () => creds, busName, tableName };
  }
  const sdk = await sdkCredentials(env);
  sdk.sts.destroy();
  const sdkRegion = region || sdk.region;
  if (!sdkRegion) throw new ConfigError('no AWS region: set AWS_REGION or a region in your profile');
  const names =
    stage !== undefined ? await stagePipeline(env, stage, sdkRegion, sdk.get) : { busName, tableName };
  return { region: sdkRegion, credentials: sdk.get, busName: names.busName, tableName: names.tableName };
};

/** The AWS clients doctor reads with: two attempts each, at the environment's endpoints when set. */
const awsClients = (env: NodeJS.ProcessEnv, region: string, credentials: () => AwsCredentials) => {
  const endpointOf = (service: AwsService) =>
    env[`AWS_ENDPOINT_URL_${service.envId}`] || env.AWS_ENDPOINT_URL;
  const json = (service: AwsService): AwsCall => {
    const endpoint = endpointOf(service);
    return makeAwsJsonClient({
      service,
      region,
      credentials,
      timeoutMs: AWS_CALL_TIMEOUT_MS,
      maxAttempts: 2,
      ...(endpoint ? { endpoint } : {}),
    });
  };
  const schedulerEndpoint = endpointOf(SCHEDULER);
  const scheduler: AwsRestCall = makeAwsRestJsonClient({
    service: SCHEDULER,
    region,
    credentials,
    timeoutMs: AWS_CALL_TIMEOUT_MS,
    maxAttempts: 2,
    ...(schedulerEndpoint ? { endpoint: schedulerEndpoint } : {}),
  });
  return { json, scheduler };
};

/** Where to look, and the clients to look with. */
const targetOf = async (io: CliIo, flags: Flags): Promise<DoctorTarget> => {
  const stage = flags.stage;
  if (stage !== undefined && !STAGE.test(stage))
    throw new UsageError(
      `--stage must be a stack's stage name (letters, digits, -), got '${plainText(stage, 40)}'`,
    );
  // OVH's configuration files complete the environment, as for every command that talks to OVH.
  const conf = withOvhConf(io.env, ovhConfPaths(io.cwd, io.env.HOME));
  for (const warning of conf.warnings) io.stderr.write(`WARNING: ${warning}\n`);
  const env = conf.env;
  const local = stage === undefined && isLoopback(env.AWS_ENDPOINT_URL_EVENTBRIDGE);
  const { region, credentials, busName, tableName } = await pipelineAccess(env, stage, local);
  const { json, scheduler } = awsClients(env, region, credentials);
  return {
    where:
      stage !== undefined
        ? `stage ${stage} (${region})`
        : local
          ? `the local pipeline (${region})`
          : `bus ${busName} (${region})`,
    region,
    ...(stage !== undefined ? { stage, ssm: json(SSM) } : {}),
    local,
    busName: busName!,
    tableName: tableName!,
    // The stack's names (serverless.yml); the local pipeline's follow them.
    queueName: stage !== undefined ? `stickler-${stage}-change-requests` : `${busName}-change-requests`,
    scheduleGroup:
      stage !== undefined ? `stickler-${stage}` : env.DEFERRAL_SCHEDULE_GROUP?.trim() || busName!,
    env,
    events: json(EVENTBRIDGE),
    sqs: json(SQS),
    dynamodb: json(DYNAMODB),
    scheduler,
  };
};

export async function doctorCommand(io: CliIo, flags: Flags): Promise<number> {
  const target = await targetOf(io, flags);
  const checks = await runDoctor(target);
  const failed = checks.filter((c) => c.status === 'fail').length;
  if (flags.json) {
    io.stdout.write(jsonDocument({ where: target.where, ok: failed === 0, checks }));
    return failed === 0 ? EXIT.ok : EXIT.error;
  }
  io.stdout.write(`stickler doctor: ${target.where}\n`);
  for (const check of checks) {
    io.stdout.write(`${SYMBOL[check.status]} ${check.title}: ${check.detail}\n`);
    if (check.fix) io.stdout.write(`    fix: ${check.fix}\n`);
  }
  const count = (status: CheckResult['status']) => checks.filter((c) => c.status === status).length;
  io.stdout.write(`${count('pass')} passed, ${failed} failed, ${count('skip')} skipped\n`);
  return failed === 0 ? EXIT.ok : EXIT.error;
}
