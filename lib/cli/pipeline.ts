/**
 * Where the CLI finds a pipeline, and who the operator is there.
 *
 * - `--stage STAGE`: the deployed stack `stickler-STAGE` (CloudFormation outputs EventBusName and
 *   IdempotencyTableName), with the AWS credentials and region of the shell (environment,
 *   profile, SSO: the AWS SDK's default chain). The operator is their AWS identity (STS
 *   GetCallerIdentity), which needs no permission.
 * - otherwise the environment: EVENT_BUS_NAME and IDEMPOTENCY_TABLE, with the endpoints a running
 *   `stickler simulate --pipeline` prints (the local pipeline: the operator is `local`, with the
 *   login name), or none for a real account.
 * The operator policy (`stickler-<stage>-operator`, a stack output) grants what this needs.
 */
import { userInfo } from 'node:os';
import {
  type AwsCall,
  type AwsService,
  DYNAMODB,
  EVENTBRIDGE,
  makeAwsJsonClient,
} from '../adapters/aws/aws-json-client';
import type { AwsCredentials } from '../adapters/aws/sigv4';
import { DynamoDbFarmLedger } from '../adapters/dynamodb/dynamodb-farm-ledger';
import { DynamoDbIdempotencyStore } from '../adapters/dynamodb/dynamodb-idempotency-store';
import { EventBridgePublisher } from '../adapters/eventbridge/eventbridge-publisher';
import { makePipelineDoor, type PipelineDoor } from '../app/pipeline-door';
import { ConfigError } from '../domain/errors';
import { plainText } from '../domain/text';
import { systemClock } from '../ports/clock';
import { UsageError } from './io';

/** The flags that choose and tune pipeline mode. */
export interface PipelineFlags {
  pipeline?: boolean | undefined;
  stage?: string | undefined;
}

export interface PipelineConnection {
  door: PipelineDoor;
  /** Where it is, for the operator: `stage prod (eu-west-3)` or `local pipeline`. */
  where: string;
  actor: { id: string; name?: string };
  local: boolean;
}

export const STAGE = /^[A-Za-z0-9][A-Za-z0-9-]{0,31}$/;
const AWS_CALL_TIMEOUT_MS = 10_000;

export const isLoopback = (url: string | undefined): boolean => {
  if (!url) return false;
  try {
    const host = new URL(url).hostname;
    return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
  } catch {
    return false;
  }
};

/** Is pipeline mode asked for (`--pipeline`, `--stage`, or STICKLER_PIPELINE=1)? */
export const pipelineAsked = (env: NodeJS.ProcessEnv, flags: PipelineFlags): boolean => {
  if (flags.pipeline || flags.stage !== undefined) return true;
  const v = env.STICKLER_PIPELINE?.trim();
  if (v === undefined || v === '' || v === '0' || v === 'false') return false;
  if (v === '1' || v === 'true') return true;
  throw new ConfigError(`STICKLER_PIPELINE must be 1 or 0, got '${plainText(v, 20)}'`);
};

/** Credentials that stay fresh: re-resolved (SDK default chain) when within 2 minutes of expiring. */
export const sdkCredentials = async (env: NodeJS.ProcessEnv) => {
  const { STSClient } = await import('@aws-sdk/client-sts');
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  const endpoint = env.AWS_ENDPOINT_URL_STS || env.AWS_ENDPOINT_URL;
  const sts = new STSClient({
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    requestHandler: { requestTimeout: AWS_CALL_TIMEOUT_MS } as never,
    maxAttempts: 3,
  });
  let current: AwsCredentials & { expiration?: Date };
  const resolve = async () => {
    const c = await sts.config.credentials();
    current = {
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}),
      ...(c.expiration ? { expiration: c.expiration } : {}),
    };
  };
  try {
    await resolve();
  } catch (error) {
    throw new ConfigError(
      `no AWS credentials for the pipeline (environment, profile or SSO): ${plainText((error as Error).message, 200)}`,
    );
  }
  return {
    sts,
    region: await sts.config.region().catch(() => undefined),
    get: () => current,
    fresh: async () => {
      if (current.expiration && current.expiration.getTime() - Date.now() < 120_000) await resolve();
    },
  };
};

/** A deployed stage's bus and table names, from its stack's outputs (refused when either is missing). */
export const stagePipeline = async (
  env: NodeJS.ProcessEnv,
  stage: string,
  region: string,
  credentials: Parameters<typeof stackOutputs>[3],
): Promise<{ busName: string; tableName: string }> => {
  const outputs = await stackOutputs(env, stage, region, credentials);
  const busName = outputs.EventBusName;
  const tableName = outputs.IdempotencyTableName;
  if (!busName || !tableName)
    throw new ConfigError(
      `the stack stickler-${stage} has no EventBusName or IdempotencyTableName output: deploy this version of stickler to it`,
    );
  return { busName, tableName };
};

/** Looks up the stack's outputs (CloudFormation DescribeStacks). */
export const stackOutputs = async (
  env: NodeJS.ProcessEnv,
  stage: string,
  region: string,
  credentials: () => AwsCredentials,
): Promise<Record<string, string>> => {
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const endpoint = env.AWS_ENDPOINT_URL_CLOUDFORMATION || env.AWS_ENDPOINT_URL;
  const cfn = new CloudFormationClient({
    region,
    credentials: async () => credentials(),
    ...(endpoint ? { endpoint } : {}),
    maxAttempts: 3,
    requestHandler: { requestTimeout: AWS_CALL_TIMEOUT_MS } as never,
  });
  const name = `stickler-${stage}`;
  try {
    const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: name }));
    return Object.fromEntries(
      (Stacks?.[0]?.Outputs ?? []).flatMap((o) =>
        o.OutputKey && o.OutputValue ? [[o.OutputKey, o.OutputValue]] : [],
      ),
    );
  } catch (error) {
    throw new ConfigError(
      `cannot read the stack ${name} in ${region}: ${plainText((error as Error).message, 200)} (is it deployed there, and may you call cloudformation:DescribeStacks?)`,
    );
  } finally {
    cfn.destroy();
  }
};

export const connectPipeline = async (
  env: NodeJS.ProcessEnv,
  flags: PipelineFlags,
): Promise<PipelineConnection> => {
  const stage = flags.stage;
  if (stage !== undefined && !STAGE.test(stage))
    throw new UsageError(
      `--stage must be a stack's stage name (letters, digits, -), got '${plainText(stage, 40)}'`,
    );
  const local = stage === undefined && isLoopback(env.AWS_ENDPOINT_URL_EVENTBRIDGE);
  let busName = env.EVENT_BUS_NAME;
  let tableName = env.IDEMPOTENCY_TABLE;
  let region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  let credentials: () => AwsCredentials;
  let fresh: () => Promise<void> = async () => {};
  let actor: PipelineConnection['actor'];
  let where: string;
  if (local) {
    if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY || !region)
      throw new UsageError(
        "the local pipeline's exports are incomplete: paste all of what 'stickler simulate --pipeline' printed",
      );
    const creds = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY };
    credentials = () => creds;
    let login = 'unknown';
    try {
      login = userInfo().username;
    } catch {}
    actor = { id: 'local', name: login };
    where = 'the local pipeline';
  } else {
    if (stage === undefined && (!busName || !tableName))
      throw new UsageError(
        "no pipeline: give --stage STAGE for a deployed stack, or paste the exports 'stickler simulate --pipeline' prints (EVENT_BUS_NAME, IDEMPOTENCY_TABLE and the endpoints)",
      );
    const sdk = await sdkCredentials(env);
    region = region || sdk.region;
    if (!region) throw new ConfigError('no AWS region: set AWS_REGION or a region in your profile');
    credentials = sdk.get;
    fresh = sdk.fresh;
    if (stage !== undefined) ({ busName, tableName } = await stagePipeline(env, stage, region, sdk.get));
    const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
    try {
      const me = await sdk.sts.send(new GetCallerIdentityCommand({}));
      actor = { id: me.Arn ?? `account ${me.Account ?? '?'}` };
    } catch (error) {
      throw new ConfigError(
        `cannot tell who you are (STS GetCallerIdentity): ${plainText((error as Error).message, 200)}`,
      );
    } finally {
      sdk.sts.destroy();
    }
    where = stage !== undefined ? `stage ${stage} (${region})` : `bus ${busName} (${region})`;
  }
  if (!busName || !tableName)
    throw new UsageError(
      "no pipeline: give --stage STAGE for a deployed stack, or paste the exports 'stickler simulate --pipeline' prints (EVENT_BUS_NAME, IDEMPOTENCY_TABLE and the endpoints)",
    );
  const client = (service: AwsService): AwsCall => {
    const inner = makeAwsJsonClient({
      service,
      region: region!,
      credentials,
      timeoutMs: AWS_CALL_TIMEOUT_MS,
      // An operator waits: two attempts per call (the publisher retries what is left once more).
      maxAttempts: 2,
      ...(env[`AWS_ENDPOINT_URL_${service.envId}`] || env.AWS_ENDPOINT_URL
        ? { endpoint: (env[`AWS_ENDPOINT_URL_${service.envId}`] || env.AWS_ENDPOINT_URL)! }
        : {}),
    });
    return async <T>(operation: string, input: object) => {
      await fresh();
      return inner<T>(operation, input);
    };
  };
  const db = client(DYNAMODB);
  const door = makePipelineDoor({
    publisher: new EventBridgePublisher({
      client: client(EVENTBRIDGE),
      busName,
      clock: systemClock,
      maxAttempts: 2,
    }),
    records: new DynamoDbIdempotencyStore({ client: db, tableName }),
    ledger: new DynamoDbFarmLedger({ client: db, tableName }),
    clock: systemClock,
  });
  return { door, where, actor, local };
};
