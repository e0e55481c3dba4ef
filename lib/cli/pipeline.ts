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
import { DynamoDbPlanRegistry } from '../adapters/dynamodb/dynamodb-plan-registry';
import { DynamoDbZoneSlots } from '../adapters/dynamodb/dynamodb-zone-slots';
import { EventBridgePublisher } from '../adapters/eventbridge/eventbridge-publisher';
import { makePipelineDoor, type PipelineDoor } from '../app/pipeline-door';
import { makeWaitingSlots, type WaitingSlots } from '../app/waiting-slot';
import { ConfigError } from '../domain/errors';
import { plainText } from '../domain/text';
import { systemClock } from '../ports/clock';
import type { PlanRegistry } from '../ports/plan-registry';
import { UsageError } from './io';

/** The flags that choose and tune pipeline mode. */
export interface PipelineFlags {
  pipeline?: boolean | undefined;
  stage?: string | undefined;
}

export interface PipelineConnection {
  door: PipelineDoor;
  /** Saved plans registered for tickets to approve (`plan --out FILE --pipeline`). */
  plans: PlanRegistry;
  /** The slots the worker remembered for zones, whose requests still wait (`plan --pipeline`). */
  waitingSlots: WaitingSlots;
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

const NO_PIPELINE =
  "no pipeline: give --stage STAGE for a deployed stack, or paste the exports 'stickler simulate --pipeline' prints (EVENT_BUS_NAME, IDEMPOTENCY_TABLE and the endpoints)";

/** How a pipeline is reached: its names (when known), region and credentials, and who the operator is there. */
interface PipelineAccess {
  busName: string | undefined;
  tableName: string | undefined;
  region: string;
  credentials: () => AwsCredentials;
  /** Called before each call: credentials that expire are resolved again. */
  fresh: () => Promise<void>;
  actor: PipelineConnection['actor'];
  where: string;
}

/** The local pipeline of `stickler simulate --pipeline`: its exports, and the login name. */
const localAccess = (env: NodeJS.ProcessEnv): PipelineAccess => {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY || !region)
    throw new UsageError(
      "the local pipeline's exports are incomplete: paste all of what 'stickler simulate --pipeline' printed",
    );
  const creds = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY };
  let login = 'unknown';
  try {
    login = userInfo().username;
  } catch {}
  return {
    busName: env.EVENT_BUS_NAME,
    tableName: env.IDEMPOTENCY_TABLE,
    region,
    credentials: () => creds,
    fresh: async () => {},
    actor: { id: 'local', name: login },
    where: 'the local pipeline',
  };
};

/** The operator's AWS identity (STS GetCallerIdentity, which needs no permission); the STS client is done with after it. */
const callerIdentity = async (
  sts: Awaited<ReturnType<typeof sdkCredentials>>['sts'],
): Promise<PipelineConnection['actor']> => {
  const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
  try {
    const me = await sts.send(new GetCallerIdentityCommand({}));
    return { id: me.Arn ?? `account ${me.Account ?? '?'}` };
  } catch (error) {
    throw new ConfigError(
      `cannot tell who you are (STS GetCallerIdentity): ${plainText((error as Error).message, 200)}`,
    );
  } finally {
    sts.destroy();
  }
};

/** A deployed stage, or the environment's names in a real account, with the shell's AWS credentials. */
const awsAccess = async (env: NodeJS.ProcessEnv, stage: string | undefined): Promise<PipelineAccess> => {
  let busName = env.EVENT_BUS_NAME;
  let tableName = env.IDEMPOTENCY_TABLE;
  if (stage === undefined && (!busName || !tableName)) throw new UsageError(NO_PIPELINE);
  const sdk = await sdkCredentials(env);
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || sdk.region;
  if (!region) throw new ConfigError('no AWS region: set AWS_REGION or a region in your profile');
  if (stage !== undefined) ({ busName, tableName } = await stagePipeline(env, stage, region, sdk.get));
  const actor = await callerIdentity(sdk.sts);
  return {
    busName,
    tableName,
    region,
    credentials: sdk.get,
    fresh: sdk.fresh,
    actor,
    where: stage !== undefined ? `stage ${stage} (${region})` : `bus ${busName} (${region})`,
  };
};

/**
 * The door to the pipeline's bus and table, its plan registry and the zones' waiting slots, through
 * clients that keep the credentials fresh.
 */
const pipelineDoorOf = (
  env: NodeJS.ProcessEnv,
  { region, credentials, fresh }: PipelineAccess,
  busName: string,
  tableName: string,
): Pick<PipelineConnection, 'door' | 'plans' | 'waitingSlots'> => {
  const client = (service: AwsService): AwsCall => {
    const inner = makeAwsJsonClient({
      service,
      region,
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
  const records = new DynamoDbIdempotencyStore({ client: db, tableName });
  const door = makePipelineDoor({
    publisher: new EventBridgePublisher({
      client: client(EVENTBRIDGE),
      busName,
      clock: systemClock,
      maxAttempts: 2,
    }),
    records,
    ledger: new DynamoDbFarmLedger({ client: db, tableName }),
    clock: systemClock,
  });
  return {
    door,
    plans: new DynamoDbPlanRegistry({ client: db, tableName }),
    waitingSlots: makeWaitingSlots({
      slots: new DynamoDbZoneSlots({ client: db, tableName }),
      requests: records,
      clock: systemClock,
    }),
  };
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
  const access = local ? localAccess(env) : await awsAccess(env, stage);
  const { busName, tableName, where, actor } = access;
  if (!busName || !tableName) throw new UsageError(NO_PIPELINE);
  return { ...pipelineDoorOf(env, access, busName, tableName), where, actor, local };
};
