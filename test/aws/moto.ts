/**
 * The independent AWS the `npm run test:aws` suite runs against: moto's server (moto 5), started
 * by global-setup.ts with the stack's packaged template deployed on its CloudFormation. This
 * module is what the test files share: where moto listens, credentials it accepts, the
 * environment the project's adapters read, and the names the stack gives its resources.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';

export const REGION = 'eu-west-3';
/** moto's default account: every ARN it hands out carries it. */
export const ACCOUNT = '123456789012';
export const STAGE = 'dev';

/** What the stack names its resources (serverless.yml), at the stage the suite deploys. */
export const STACK = {
  name: `stickler-${STAGE}`,
  bus: `stickler-${STAGE}`,
  busArn: `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/stickler-${STAGE}`,
  table: `stickler-${STAGE}-idempotency`,
  changeRequestQueue: `stickler-${STAGE}-change-requests`,
  changeRequestRule: `stickler-${STAGE}-change-requests`,
  scheduleGroup: `stickler-${STAGE}`,
  deferralDlq: `stickler-${STAGE}-deferral-dlq`,
  slackFunction: `stickler-${STAGE}-slack`,
  workerFunction: `stickler-${STAGE}-apply-worker`,
} as const;

/** moto accepts any credentials; these are never real ones. */
export const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;

export const motoUrl = (): string => {
  const url = process.env.STICKLER_MOTO_URL;
  if (!url) throw new Error('no moto server: run these tests with `npm run test:aws`');
  return url;
};

/** The packaged CloudFormation template (serverless package --stage dev), as deployed on moto. */
export const packagedTemplate = (): {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
} => {
  const path = process.env.STICKLER_AWS_TEMPLATE;
  if (!path) throw new Error('no packaged template: run these tests with `npm run test:aws`');
  return JSON.parse(readFileSync(path, 'utf8'));
};

/** Options for an AWS SDK v3 client talking to moto (how the tests set things up and look). */
export const sdk = () => ({
  region: REGION,
  endpoint: motoUrl(),
  credentials: CREDENTIALS,
  forcePathStyle: true,
  maxAttempts: 1,
});

/**
 * The environment the project's own AWS client reads (lib/adapters/aws), each service pointed at
 * moto through its own AWS_ENDPOINT_URL_<SERVICE>, as a deployed function would read Lambda's.
 */
export const awsEnv = (): NodeJS.ProcessEnv => {
  const url = motoUrl();
  return {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: url,
    AWS_ENDPOINT_URL_EVENTBRIDGE: url,
    AWS_ENDPOINT_URL_SQS: url,
    AWS_ENDPOINT_URL_SCHEDULER: url,
    AWS_ENDPOINT_URL_SSM: url,
    AWS_ENDPOINT_URL_S3: url,
    AWS_ENDPOINT_URL_LAMBDA: url,
  };
};

export const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

export const queueArn = (name: string): string => `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`;

/** An EventBridge event as a rule delivers it to an SQS target. */
export interface DeliveredEvent {
  id: string;
  source: string;
  'detail-type': string;
  time: string;
  detail: Record<string, unknown>;
}

/**
 * A queue of the test's own behind a rule of the test's own on the stack's bus: how a test reads
 * back what reached the bus (the stack routes audit events to no queue of its own).
 */
export const captureOnBus = async (pattern: Record<string, unknown>) => {
  const sqs = new SQSClient(sdk());
  const events = new EventBridgeClient(sdk());
  const name = unique('capture');
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  await events.send(
    new PutRuleCommand({ Name: name, EventBusName: STACK.bus, EventPattern: JSON.stringify(pattern) }),
  );
  await events.send(
    new PutTargetsCommand({
      Rule: name,
      EventBusName: STACK.bus,
      Targets: [{ Id: 'capture', Arn: queueArn(name) }],
    }),
  );
  return {
    /** Every event delivered so far (and takes them off the queue). */
    async drain(): Promise<DeliveredEvent[]> {
      const out: DeliveredEvent[] = [];
      for (;;) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
        );
        if (Messages.length === 0) return out;
        out.push(...Messages.map((m) => JSON.parse(m.Body!) as DeliveredEvent));
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl,
            Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
      }
    },
  };
};
