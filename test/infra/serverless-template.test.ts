import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AdmZip from 'adm-zip';
import { GROUP_INDEX } from '../../lib/adapters/dynamodb/dynamodb-idempotency-store';
import { TICKET_SOURCES } from '../../lib/app/handle-ticket-webhook';
import { DETAIL_TYPES, QUEUED_DETAIL_TYPES } from '../../lib/domain/events';
import { IDEMPOTENCY_TABLE_KEYS } from '../../lib/local/dynalite';
import { costMarkdown, estimate } from '../../scripts/cost-model';
import { dashboardOf, dashboardSvg } from '../../scripts/dashboard-svg';
import { packageInto } from '../../scripts/package-template';

/**
 * Packages the stack exactly as a deploy would (no network, no AWS credentials) and checks the
 * CloudFormation template a reviewer would deploy.
 */
type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};
type Statement = {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
};

const root = join(__dirname, '../..');
let out: string;
let resources: Record<string, Resource>;
let outputs: Record<string, unknown>;

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const worker = () => resources.ApplyDashworkerLambdaFunction!;
const one = (type: string): Resource => {
  const found = ofType(type);
  expect(found).toHaveLength(1);
  return found[0]![1];
};

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'stickler-package-'));
  packageInto(root, 'test', out);
  const template = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8'));
  resources = template.Resources;
  outputs = template.Outputs;
}, 150_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('serverless package', () => {
  it('builds the apply-worker on nodejs24.x arm64 with a 900 s timeout and no reserved concurrency', () => {
    const fn = worker().Properties;
    expect(fn).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 900,
      Handler: 'functions/apply-worker.handler',
    });
    // Throttled pollers would return whole batches to the queue: concurrency is bounded by the
    // event source's maximum concurrency, and one load balancer kept to one batch by a lease.
    expect(fn.ReservedConcurrentExecutions).toBeUndefined();
    const env = (fn.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env).toMatchObject({
      EVENT_BUS_NAME: 'stickler-test',
      IDEMPOTENCY_TABLE: 'stickler-test-idempotency',
      OVH_CREDENTIALS_PARAMETER: '/stickler/test/ovh-credentials',
      MAX_RECEIVE_COUNT: '20',
      EVENT_BUS_ARN: { 'Fn::GetAtt': ['StickinessBus', 'Arn'] },
      DEFERRAL_SCHEDULE_GROUP: 'stickler-test',
      DEFERRAL_ROLE_ARN: { 'Fn::GetAtt': ['DeferralSchedulerRole', 'Arn'] },
    });
    // Claims and leases must outlive an invocation, or a slow one could be overtaken.
    expect(Number(env.CLAIM_HOLD_MS)).toBeGreaterThan(900_000);
    expect(Object.keys(env)).not.toEqual(expect.arrayContaining(['OVH_APPLICATION_SECRET']));
    expect(Object.keys(env).filter((k) => /SECRET|CONSUMER_KEY|APPLICATION_KEY/.test(k))).toEqual([]);
  });

  it('feeds it from SQS in batches with a batching window, partial batch failures and at most 2 batches at once', () => {
    expect(one('AWS::Lambda::EventSourceMapping').Properties).toMatchObject({
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 20,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  it('sizes the queue visibility to six function timeouts and sends poison to a DLQ with an alarm', () => {
    const queues = ofType('AWS::SQS::Queue');
    const main = queues.find(([id]) => id === 'ChangeRequestQueue')![1].Properties;
    expect(main.VisibilityTimeout).toBe(5400);
    expect(main.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': ['ChangeRequestDeadLetterQueue', 'Arn'] },
      maxReceiveCount: 20,
    });
    // The worker's "last receive" must be the queue's, or a retryable failure would reach the DLQ unaudited.
    const fn = worker().Properties as {
      Environment: { Variables: Record<string, string> };
    };
    expect(Number(fn.Environment.Variables.MAX_RECEIVE_COUNT)).toBe(20);
    const alarm = resources.DeadLetterAlarm!.Properties;
    expect(alarm.Dimensions).toEqual([
      { Name: 'QueueName', Value: { 'Fn::GetAtt': ['ChangeRequestDeadLetterQueue', 'QueueName'] } },
    ]);
    expect(alarm.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
  });

  it('alarms on an old message, worker errors and throttles, and rule delivery failures, all to the topic', () => {
    const alarms = Object.fromEntries(
      ofType('AWS::CloudWatch::Alarm').map(([id, r]) => [id, r.Properties as Record<string, unknown>]),
    );
    expect(Object.values(alarms).map((a) => a.MetricName)).toEqual(
      expect.arrayContaining([
        'ApproximateNumberOfMessagesVisible',
        'ApproximateAgeOfOldestMessage',
        'Errors',
        'Throttles',
        'FailedInvocations',
      ]),
    );
    for (const a of Object.values(alarms)) expect(a.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
  });

  it('alarms on the errors of every function, by its deployed name', () => {
    const functions = ofType('AWS::Lambda::Function').map(([, r]) => r.Properties.FunctionName as string);
    expect(functions.sort()).toEqual([
      'stickler-test-apply-worker',
      'stickler-test-compliance-run',
      'stickler-test-notifier',
      'stickler-test-slack',
      'stickler-test-ticketing-webhook',
    ]);
    const errorAlarms = ofType('AWS::CloudWatch::Alarm')
      .map(([, r]) => r.Properties)
      .filter((a) => a.Namespace === 'AWS/Lambda' && a.MetricName === 'Errors');
    for (const name of functions) {
      const alarm = errorAlarms.find(
        (a) => JSON.stringify(a.Dimensions) === JSON.stringify([{ Name: 'FunctionName', Value: name }]),
      );
      expect([name, alarm]).toEqual([
        name,
        expect.objectContaining({
          Statistic: 'Sum',
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          AlarmActions: [{ Ref: 'AlarmTopic' }],
        }),
      ]);
    }
  });

  it('lets the alarms publish to the alarm topic, whose policy replaces the default one', () => {
    const [, policy] = ofType('AWS::SNS::TopicPolicy').find(([, r]) =>
      JSON.stringify(r.Properties.Topics).includes('AlarmTopic'),
    )!;
    const doc = policy.Properties.PolicyDocument as { Statement: (Statement & { Principal: unknown })[] };
    expect(doc.Statement.find((st) => st.Sid === 'ComplianceAlertsFromTheBus')).toMatchObject({
      Principal: { Service: 'events.amazonaws.com' },
      Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': ['ComplianceAlertRule', 'Arn'] } } },
    });
    // Without this statement no CloudWatch alarm of the stack could reach anyone.
    expect(doc.Statement.filter((st) => JSON.stringify(st.Principal).includes('cloudwatch'))).toEqual([
      {
        Sid: 'AlarmsOfThisAccount',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: { Ref: 'AlarmTopic' },
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: {
            'aws:SourceArn': {
              'Fn::Sub': expect.stringMatching(
                /^arn:\$\{AWS::Partition\}:cloudwatch:\$\{AWS::Region\}:\$\{AWS::AccountId\}:alarm:\*$/,
              ),
            },
          },
        },
      },
    ]);
  });

  it('queues exactly what the local bus queues, and lets only operators, as the CLI, ask for a zone refresh', () => {
    const pattern = resources.ChangeRequestRule!.Properties.EventPattern as { 'detail-type': string[] };
    expect(pattern['detail-type']).toEqual([...QUEUED_DETAIL_TYPES]);
    // Every statement anywhere in the template that may put a Zone Refresh Requested: the operator's, as the CLI.
    const statements: Statement[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        if ('Effect' in node && 'Action' in node) statements.push(node as Statement);
        else Object.values(node).forEach(walk);
      }
    };
    walk(resources);
    const allowing = statements.filter(
      (st) =>
        [st.Action].flat().includes('events:PutEvents') &&
        JSON.stringify(st.Condition ?? {}).includes(DETAIL_TYPES.zoneRefreshRequested),
    );
    expect(allowing.map((st) => [st.Sid, (st.Condition as { StringEquals: object }).StringEquals])).toEqual([
      ['PublishAsTheCli', expect.objectContaining({ 'events:source': 'stickler.cli' })],
    ]);
  });

  it("alarms on the change request rule's failed deliveries under the dimensions EventBridge publishes them with", () => {
    const rule = resources.ChangeRequestRule!.Properties;
    expect(rule.Name).toBe('stickler-test-change-requests');
    // !Ref of a rule on a custom bus is `bus|rule`, never a RuleName dimension: the alarm could not fire.
    expect(resources.RuleDeliveryFailedAlarm!.Properties).toMatchObject({
      Namespace: 'AWS/Events',
      MetricName: 'FailedInvocations',
      Dimensions: [
        { Name: 'EventBusName', Value: 'stickler-test' },
        { Name: 'RuleName', Value: rule.Name },
      ],
    });
  });

  it('keeps the records, the archive and the dead letters when the stack goes, with point-in-time recovery', () => {
    for (const id of [
      'IdempotencyTable',
      'StickinessArchive',
      'ChangeRequestDeadLetterQueue',
      'RuleDeliveryDeadLetterQueue',
      'DeferralDeadLetterQueue',
    ]) {
      expect([id, resources[id]?.DeletionPolicy, resources[id]?.UpdateReplacePolicy]).toEqual([
        id,
        'Retain',
        'Retain',
      ]);
    }
    expect(resources.IdempotencyTable!.Properties.PointInTimeRecoverySpecification).toEqual({
      PointInTimeRecoveryEnabled: true,
    });
  });

  it('lets publishers put change requests and cancels only, never events as stickler', () => {
    const doc = resources.ChangeRequestPublisherPolicy!.Properties.PolicyDocument as {
      Statement: Statement[];
    };
    expect(doc.Statement).toEqual([
      expect.objectContaining({
        Action: 'events:PutEvents',
        Resource: { 'Fn::GetAtt': ['StickinessBus', 'Arn'] },
        Condition: {
          StringEquals: {
            'events:detail-type': ['Stickiness Change Requested', 'Stickiness Change Cancel Requested'],
          },
          StringNotLike: { 'events:source': ['stickler', 'stickler.*', 'aws.*'] },
        },
      }),
    ]);
  });

  it('defers early requests with a schedule role that may only put events on the bus and its dead letters in their queue', () => {
    const role = resources.DeferralSchedulerRole!.Properties as {
      AssumeRolePolicyDocument: { Statement: { Principal: unknown }[] };
      Policies: { PolicyDocument: { Statement: Statement[] } }[];
    };
    expect(role.AssumeRolePolicyDocument.Statement[0]!.Principal).toEqual({
      Service: 'scheduler.amazonaws.com',
    });
    expect(role.Policies.flatMap((p) => p.PolicyDocument.Statement)).toEqual([
      expect.objectContaining({
        Action: 'events:PutEvents',
        Resource: { 'Fn::GetAtt': ['StickinessBus', 'Arn'] },
        // A deferred request goes back with its publisher's source; never as stickler (audit events).
        Condition: {
          StringEquals: { 'events:detail-type': 'Stickiness Change Requested' },
          StringNotEquals: { 'events:source': 'stickler' },
        },
      }),
      expect.objectContaining({
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': ['DeferralDeadLetterQueue', 'Arn'] },
      }),
    ]);
    expect(one('AWS::Scheduler::ScheduleGroup').Properties.Name).toBe('stickler-test');
  });

  it('gives the worker a dead-letter queue for its deferral schedules, which their role may send to, with an alarm', () => {
    const env = (worker().Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env.DEFERRAL_DLQ_ARN).toEqual({ 'Fn::GetAtt': ['DeferralDeadLetterQueue', 'Arn'] });
    expect(resources.DeferralDeadLetterQueue).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: { QueueName: 'stickler-test-deferral-dlq', MessageRetentionPeriod: 1209600 },
    });
    // Scheduler sends dead letters with the schedule's execution role.
    const doc = resources.DeferralDeadLetterQueuePolicy!.Properties.PolicyDocument as {
      Statement: (Statement & { Principal: unknown })[];
    };
    expect(doc.Statement).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { AWS: { 'Fn::GetAtt': ['DeferralSchedulerRole', 'Arn'] } },
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': ['DeferralDeadLetterQueue', 'Arn'] },
      }),
    ]);
    expect(resources.DeferralDeadLetterAlarm!.Properties).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['DeferralDeadLetterQueue', 'QueueName'] } }],
      AlarmActions: [{ Ref: 'AlarmTopic' }],
    });
  });

  it('has a custom bus with an archive and a rule routing change requests to the queue', () => {
    expect(one('AWS::Events::EventBus').Properties.Name).toBe('stickler-test');
    expect(one('AWS::Events::Archive').Properties.SourceArn).toEqual({
      'Fn::GetAtt': ['StickinessBus', 'Arn'],
    });
    expect(resources.ChangeRequestRule!.Properties).toMatchObject({
      EventBusName: { Ref: 'StickinessBus' },
      EventPattern: {
        'detail-type': [
          'Stickiness Change Requested',
          'Stickiness Change Cancel Requested',
          'Zone Refresh Requested',
        ],
      },
      Targets: [
        {
          Arn: { 'Fn::GetAtt': ['ChangeRequestQueue', 'Arn'] },
          Id: 'change-request-queue',
          // A failed delivery goes to a dead-letter queue of its own, never dropped unseen.
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['RuleDeliveryDeadLetterQueue', 'Arn'] } },
        },
      ],
    });
    for (const id of ['ChangeRequestQueuePolicy', 'RuleDeliveryDeadLetterQueuePolicy']) {
      const doc = resources[id]!.Properties.PolicyDocument as { Statement: Statement[] };
      expect(doc.Statement[0]?.Condition).toEqual({
        ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': ['ChangeRequestRule', 'Arn'] } },
      });
    }
  });

  it('lets no role or policy of the stack put events on the bus without a condition on their source', () => {
    const statements = [...ofType('AWS::IAM::Role'), ...ofType('AWS::IAM::ManagedPolicy')].flatMap(
      ([id, r]) =>
        [
          ...((r.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]).map(
            (p) => p.PolicyDocument,
          ),
          ...(r.Properties.PolicyDocument ? [r.Properties.PolicyDocument as { Statement: Statement[] }] : []),
        ].flatMap((doc) => doc.Statement.map((st) => [id, st] as const)),
    );
    const putEvents = statements.filter(([, st]) => [st.Action].flat().includes('events:PutEvents'));
    expect(new Set(putEvents.map(([id]) => id))).toEqual(
      new Set([
        'ApplyWorkerRole',
        'ComplianceRunRole',
        'DeferralSchedulerRole',
        'SlackRole',
        'TicketingWebhookRole',
        'ChangeRequestPublisherPolicy',
        'OperatorPolicy',
      ]),
    );
    for (const [id, st] of putEvents) {
      const keys = Object.values((st.Condition ?? {}) as Record<string, Record<string, unknown>>).flatMap(
        (operator) => Object.keys(operator),
      );
      expect([id, st.Sid, keys]).toEqual([id, st.Sid, expect.arrayContaining(['events:source'])]);
    }
  });

  it('lets every function that calls OVH read either OVH credential parameter: a service account or an application key', () => {
    const functions = {
      ApplyDashworkerLambdaFunction: 'ApplyWorkerRole',
      SlackLambdaFunction: 'SlackRole',
      ComplianceDashrunLambdaFunction: 'ComplianceRunRole',
    };
    for (const [fn, role] of Object.entries(functions)) {
      const env = (resources[fn]!.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect([fn, env.OVH_CREDENTIALS_PARAMETER, env.OVH_SERVICE_ACCOUNT_PARAMETER]).toEqual([
        fn,
        '/stickler/test/ovh-credentials',
        '/stickler/test/ovh-service-account',
      ]);
      const statements = (
        resources[role]!.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]
      ).flatMap((p) => p.PolicyDocument.Statement);
      const read = JSON.stringify(statements.find((st) => st.Action === 'ssm:GetParameter')!.Resource);
      expect(read).toContain('parameter/stickler/test/ovh-service-account');
      expect(read).toContain('parameter/stickler/test/ovh-credentials');
    }
  });

  it('lets each role decrypt through SSM only the very parameters it may read', () => {
    const roles = ofType('AWS::IAM::Role').map(
      ([id, r]) =>
        [
          id,
          (r.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]).flatMap(
            (p) => p.PolicyDocument.Statement,
          ),
        ] as const,
    );
    const decrypting = roles.filter(([, statements]) => statements.some((st) => st.Action === 'kms:Decrypt'));
    expect(decrypting.map(([id]) => id).sort()).toEqual([
      'ApplyWorkerRole',
      'ComplianceRunRole',
      'NotifierRole',
      'SlackRole',
      'TicketingWebhookRole',
    ]);
    for (const [id, statements] of decrypting) {
      const read = [statements.find((st) => st.Action === 'ssm:GetParameter')!.Resource].flat();
      const condition = statements.find((st) => st.Action === 'kms:Decrypt')!.Condition as {
        StringEquals: Record<string, unknown>;
      };
      // SSM decrypts a SecureString with its ARN as encryption context (PARAMETER_ARN).
      expect([id, condition]).toEqual([
        id,
        {
          StringEquals: {
            'kms:ViaService': {
              'Fn::Sub': expect.stringMatching(/^ssm\.\$\{AWS::Region\}\.amazonaws\.com$/),
            },
            'kms:EncryptionContext:PARAMETER_ARN': expect.anything(),
          },
        },
      ]);
      const decrypted = [condition.StringEquals['kms:EncryptionContext:PARAMETER_ARN']].flat();
      expect([id, decrypted]).toEqual([id, read]);
      expect(JSON.stringify(read)).not.toContain('*');
    }
    const webhookSecrets = JSON.stringify(
      roles.find(([id]) => id === 'TicketingWebhookRole')![1].find((st) => st.Action === 'ssm:GetParameter')!
        .Resource,
    );
    for (const source of TICKET_SOURCES)
      expect(webhookSecrets).toContain(`/stickler/test/webhook-secret/${source}"`);
  });

  it('keeps idempotency records in DynamoDB with a TTL', () => {
    expect(one('AWS::DynamoDB::Table').Properties).toMatchObject({
      TableName: 'stickler-test-idempotency',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiresAtEpoch', Enabled: true },
    });
  });

  it('gives the worker a role of its own with no wildcard action, and wildcards only on a KMS decrypt bound to one parameter', () => {
    const fn = worker().Properties;
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['ApplyWorkerRole', 'Arn'] });
    const roles = ofType('AWS::IAM::Role');
    expect(roles.map(([id]) => id).sort()).toEqual([
      'ApplyWorkerRole',
      'ComplianceRunRole',
      'DeferralSchedulerRole',
      'NotifierRole',
      'SlackRole',
      'TicketingWebhookRole',
    ]);
    const statements = (
      resources.ApplyWorkerRole!.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]
    ).flatMap((p) => p.PolicyDocument.Statement);
    const actions = statements.flatMap((s) => [s.Action].flat());
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
    expect(actions).toEqual(
      expect.arrayContaining([
        'events:PutEvents',
        'dynamodb:PutItem',
        'sqs:DeleteMessage',
        'ssm:GetParameter',
        'kms:Decrypt',
        'sqs:ChangeMessageVisibility',
        'scheduler:CreateSchedule',
        'scheduler:DeleteSchedule',
        'iam:PassRole',
      ]),
    );
    for (const s of statements) {
      if (JSON.stringify(s.Resource).includes('*')) {
        expect([s.Sid, s.Action]).toEqual(
          expect.arrayContaining([expect.stringMatching(/OwnLogs|DecryptOvhCredentials|DeferRequests/)]),
        );
      }
    }
    // Schedules only in its own group, named as the worker names them.
    expect(JSON.stringify(statements.find((s) => s.Sid === 'DeferRequests')?.Resource)).toContain(
      ':schedule/stickler-test/defer-*',
    );
    expect(statements.find((s) => s.Sid === 'PublishAuditEvents')?.Condition).toEqual({
      StringEquals: { 'events:source': ['stickler'] },
    });
    expect(statements.find((s) => s.Sid === 'PassDeferralRole')?.Condition).toEqual({
      StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' },
    });
    expect(statements.find((s) => s.Sid === 'DecryptOvhCredentials')?.Condition).toMatchObject({
      StringEquals: {
        'kms:ViaService': expect.anything(),
        'kms:EncryptionContext:PARAMETER_ARN': expect.anything(),
      },
    });
  });

  it('sends only terminal audit events that ask for it to the notifier, whose failures land in its own DLQ', () => {
    const [, rule] = ofType('AWS::Events::Rule').find(([id]) => id.includes('notifier'))!;
    expect(rule.Properties).toMatchObject({
      EventBusName: { Ref: 'StickinessBus' },
      EventPattern: {
        source: ['stickler'],
        'detail-type': [
          'Stickiness Change Applied',
          'Stickiness Change Unchanged',
          'Stickiness Change Refused',
          'Stickiness Change Failed',
          'Stickiness Change Cancelled',
        ],
        detail: { notify: { kind: ['ticket', 'slack'] } },
      },
      Targets: [
        expect.objectContaining({
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['NotifierDeadLetterQueue', 'Arn'] } },
        }),
      ],
    });
    const dlqPolicy = resources.NotifierDeadLetterQueuePolicy!.Properties.PolicyDocument as {
      Statement: Statement[];
    };
    // Every rule of the notifier may put its failures in the DLQ; deferrals reach it only when
    // chosen for the quietest slot (the requester is told when).
    const rules = ofType('AWS::Events::Rule').filter(([id]) => id.includes('notifier'));
    expect(rules).toHaveLength(3);
    for (const [, r] of rules)
      expect(JSON.stringify(dlqPolicy.Statement[0]?.Condition)).toContain(
        `rule/stickler-test/${(r.Properties as { Name: string }).Name}`,
      );
    expect(rules.map(([, r]) => (r.Properties as { EventPattern: unknown }).EventPattern)).toContainEqual({
      source: ['stickler'],
      'detail-type': ['Stickiness Change Deferred'],
      detail: { code: ['quietest-slot'], notify: { kind: ['ticket', 'slack'] } },
    });
    expect(resources.NotifierLambdaEvConf!.Properties).toMatchObject({
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['NotifierDeadLetterQueue', 'Arn'] } } },
    });
    const statements = (
      resources.NotifierRole!.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]
    ).flatMap((p) => p.PolicyDocument.Statement);
    // It calls ticketing systems and reads their credentials, and reads Slack reply addresses;
    // it cannot touch OVH, the bus or the queue.
    expect(statements.flatMap((st) => [st.Action].flat()).sort()).toEqual([
      'dynamodb:GetItem',
      'kms:Decrypt',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'sqs:SendMessage',
      'ssm:GetParameter',
    ]);
  });

  it('runs compliance on two schedules (report on, enforce off until a stage turns it on) from a versioned, retained policy bucket', () => {
    const schedules = ofType('AWS::Events::Rule')
      .map(
        ([, r]) =>
          r.Properties as {
            ScheduleExpression?: string;
            State: string;
            Targets: {
              Arn: unknown;
              InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string };
            }[];
          },
      )
      .filter((r) => r.ScheduleExpression !== undefined);
    for (const r of schedules)
      expect(r.Targets[0]!.Arn).toEqual({ 'Fn::GetAtt': ['ComplianceDashrunLambdaFunction', 'Arn'] });
    // Each run gets the time it was scheduled for, as EventBridge fills the template in (a string, quoted).
    const inputOf = (t: {
      InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string };
    }) => {
      expect(t.InputTransformer.InputPathsMap).toEqual({ time: '$.time' });
      return JSON.parse(t.InputTransformer.InputTemplate.replace('<time>', '"2026-12-07T10:00:00Z"'));
    };
    expect(schedules.map((r) => [r.ScheduleExpression, r.State, inputOf(r.Targets[0]!)]).sort()).toEqual([
      ['rate(1 day)', 'DISABLED', { mode: 'enforce', scheduledAt: '2026-12-07T10:00:00Z' }],
      ['rate(1 hour)', 'ENABLED', { mode: 'report', scheduledAt: '2026-12-07T10:00:00Z' }],
    ]);
    expect(resources.PolicyBucket).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: { VersioningConfiguration: { Status: 'Enabled' } },
    });
    const statements = (
      resources.ComplianceRunRole!.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]
    ).flatMap((p) => p.PolicyDocument.Statement);
    // Read-only on OVH by construction (it only plans); it may publish only as stickler.compliance.
    expect(statements.find((st) => st.Sid === 'PublishRunEventsAndRequests')?.Condition).toEqual({
      StringEquals: { 'events:source': 'stickler.compliance' },
    });
    expect(
      statements
        .flatMap((st) => [st.Action].flat())
        .filter((a) => /^(s3|dynamodb|sqs|scheduler):/.test(a))
        .sort(),
    ).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      's3:GetObject',
      's3:GetObjectVersion',
      'sqs:SendMessage',
    ]);
    // Its one queue is its dead-letter queue (the on-failure destination of its asynchronous runs).
    expect(statements.find((st) => st.Action === 'sqs:SendMessage')?.Resource).toEqual({
      'Fn::GetAtt': ['ComplianceDeadLetterQueue', 'Arn'],
    });
    expect(resources.ComplianceDashrunLambdaEvConf!.Properties).toMatchObject({
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': ['ComplianceDeadLetterQueue', 'Arn'] } },
      },
    });
    // Its table access is its rollout items, and reading the worker's unapplied-zone records.
    expect(statements.find((st) => st.Sid === 'RolloutState')?.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['rollout:*'] },
    });
    expect(statements.find((st) => st.Sid === 'ReadUnappliedZoneRecords')).toMatchObject({
      Action: 'dynamodb:BatchGetItem',
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['unapplied:*'] } },
    });
    expect(resources.ComplianceAlertRule!.Properties).toMatchObject({
      EventPattern: { 'detail-type': ['Compliance Run Failed', 'Compliance Run Blocked'] },
      Targets: [expect.objectContaining({ Arn: { Ref: 'AlarmTopic' }, Id: 'alarm-topic' })],
    });
  });

  it('gives every rule target a dead-letter queue the rule may send to, alarmed, and every asynchronous failure one too', () => {
    const rules = ofType('AWS::Events::Rule');
    // ChangeRequestRule, the notifier's three, the compliance schedules and rollout, the compliance alerts.
    expect(rules).toHaveLength(8);
    const queuePolicies = ofType('AWS::SQS::QueuePolicy').map(
      ([, r]) =>
        r.Properties as {
          Queues: unknown[];
          PolicyDocument: { Statement: (Statement & { Principal: unknown })[] };
        },
    );
    const alarmedQueues = ofType('AWS::CloudWatch::Alarm').flatMap(([, r]) =>
      (r.Properties.Dimensions as { Name: string; Value: unknown }[])
        .filter((d) => d.Name === 'QueueName')
        .map((d) => JSON.stringify(d.Value)),
    );
    const alarmed = (queueId: string) =>
      expect([queueId, alarmedQueues]).toEqual([
        queueId,
        expect.arrayContaining([JSON.stringify({ 'Fn::GetAtt': [queueId, 'QueueName'] })]),
      ]);
    for (const [id, rule] of rules) {
      const { Name, EventBusName, Targets } = rule.Properties as {
        Name?: string;
        EventBusName?: unknown;
        Targets: { Id: string; DeadLetterConfig?: { Arn: { 'Fn::GetAtt': [string, string] } } }[];
      };
      expect(Targets.length).toBeGreaterThan(0);
      for (const target of Targets) {
        expect([id, target.Id, target.DeadLetterConfig]).toEqual([id, target.Id, expect.anything()]);
        const [queueId] = target.DeadLetterConfig!.Arn['Fn::GetAtt'];
        // EventBridge sends dead letters as events.amazonaws.com, and only if the queue lets this rule.
        const policy = queuePolicies.find(
          (p) => JSON.stringify(p.Queues) === JSON.stringify([{ Ref: queueId }]),
        );
        const fromEvents = policy?.PolicyDocument.Statement.find(
          (st) => JSON.stringify(st.Principal) === JSON.stringify({ Service: 'events.amazonaws.com' }),
        );
        const sources = [
          (fromEvents?.Condition as { ArnEquals: Record<string, unknown> } | undefined)?.ArnEquals[
            'aws:SourceArn'
          ],
        ]
          .flat()
          .map((arn) => JSON.stringify(arn));
        // The rule's ARN, by reference or spelled out (`rule/NAME` on the default bus, `rule/BUS/NAME` on ours).
        const names = (arn: string) =>
          arn === JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] }) ||
          (Name !== undefined && arn.endsWith(`:rule/${EventBusName ? 'stickler-test/' : ''}${Name}"}`));
        expect([id, queueId, sources.some(names)]).toEqual([id, queueId, true]);
        alarmed(queueId);
      }
    }
    // A function invoked asynchronously (by a rule, or by itself) that keeps failing lands in a queue too,
    // except the Slack work, which is dropped on purpose (a late second answer confuses more than none).
    for (const [id, conf] of ofType('AWS::Lambda::EventInvokeConfig')) {
      if (id.startsWith('Slack')) continue;
      const destination = (conf.Properties as { DestinationConfig: { OnFailure?: { Destination: unknown } } })
        .DestinationConfig.OnFailure?.Destination as { 'Fn::GetAtt': [string, string] };
      expect([id, destination]).toEqual([id, expect.anything()]);
      alarmed(destination['Fn::GetAtt'][0]);
    }
    expect(
      ofType('AWS::Lambda::EventInvokeConfig')
        .map(([id]) => id)
        .sort(),
    ).toEqual(['ComplianceDashrunLambdaEvConf', 'NotifierLambdaEvConf', 'SlackLambdaEvConf']);
  });

  it('ships compliance-run under 280 KB with no AWS SDK (it parses YAML policies, so it carries the parser)', () => {
    const code = new AdmZip(join(out, 'compliance-run.zip'))
      .getEntry('functions/compliance-run.js')!
      .getData()
      .toString('utf8');
    // 256 KB on 2026-12-07 (the YAML parser, the policy's quietest-time limits, a service
    // account's OAuth2 client): the bound leaves room for a little, not for an SDK.
    expect(Buffer.byteLength(code)).toBeLessThan(280 * 1024);
    expect(code).not.toMatch(/require\("@aws-sdk\/|@smithy\//);
  });

  it.each(['apply-worker', 'ticketing-webhook', 'notifier', 'slack'])(
    'ships %s as one bundle with a source map, under 250 KB minified, loading no AWS SDK and no YAML parser',
    (name) => {
      const zip = new AdmZip(join(out, `${name}.zip`));
      const names = zip.getEntries().map((e) => e.entryName);
      expect(names.sort()).toEqual([`functions/${name}.js`, `functions/${name}.js.map`]);
      const code = zip.getEntry(`functions/${name}.js`)!.getData().toString('utf8');
      expect(Buffer.byteLength(code)).toBeLessThan(250 * 1024);
      // Linked, so that NODE_OPTIONS=--enable-source-maps can find it.
      expect(code.trimEnd().endsWith(`//# sourceMappingURL=${name}.js.map`)).toBe(true);
      expect(code).not.toMatch(/require\("yaml"\)|LineCounter/);
      // AWS is reached through lib/adapters/aws: loading the SDK clients would triple the cold start.
      expect(code).not.toMatch(/require\("@aws-sdk\/|@smithy\//);
      expect(statSync(join(out, `${name}.zip`)).size).toBeGreaterThan(0);
    },
  );

  it('routes POST /webhooks/{source} to the ticketing-webhook, whose role may publish only its own change requests', () => {
    expect(resources.HttpApiRoutePostWebhooksSourceVar!.Properties.RouteKey).toBe('POST /webhooks/{source}');
    const fn = resources.TicketingDashwebhookLambdaFunction!.Properties as {
      Role: unknown;
      Environment: { Variables: Record<string, string> };
    };
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['TicketingWebhookRole', 'Arn'] });
    expect(fn.Environment.Variables.WEBHOOK_SECRET_PARAMETER_PREFIX).toBe('/stickler/test/webhook-secret/');
    expect(Object.keys(fn.Environment.Variables).filter((k) => /SECRET$/.test(k))).toEqual([]);
    const statements = (
      resources.TicketingWebhookRole!.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]
    ).flatMap((p) => p.PolicyDocument.Statement);
    expect(statements.flatMap((st) => [st.Action].flat()).sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'events:PutEvents',
      'kms:Decrypt',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'ssm:GetParameter',
    ]);
    // The table only for its own items: the answers given to deliveries acted on.
    expect(statements.find((st) => st.Sid === 'DeliveryLog')?.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['delivery:*', 'ticket-transition:*'] },
    });
    // The saved plans tickets approve: read only.
    expect(statements.find((st) => st.Sid === 'ReadRegisteredPlans')).toMatchObject({
      Action: 'dynamodb:GetItem',
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['~plan:*'] } },
    });
    expect(fn.Environment.Variables.IDEMPOTENCY_TABLE).toBe('stickler-test-idempotency');
    expect(statements.find((st) => st.Sid === 'PublishChangeRequests')?.Condition).toEqual({
      StringEquals: {
        'events:source': 'stickler.ticketing',
        'events:detail-type': [
          'Stickiness Change Requested',
          'Stickiness Change Cancel Requested',
          'Ticket Edit Ignored',
          'Ticket Approval Refused',
        ],
      },
    });
  });

  it('throttles every route of the HTTP API and keeps its access logs', () => {
    const stage = one('AWS::ApiGatewayV2::Stage');
    expect(stage.Properties).toMatchObject({
      ApiId: { Ref: 'HttpApi' },
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 50 },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': ['HttpApiLogGroup', 'Arn'] } },
    });
    const format = JSON.parse((stage.Properties.AccessLogSettings as { Format: string }).Format);
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      routeKey: '$context.routeKey',
      status: '$context.status',
      error: '$context.error.message',
      integrationError: '$context.integrationErrorMessage',
    });
    expect(resources.HttpApiLogGroup!.Properties).toEqual({
      LogGroupName: '/aws/http-api/stickler-test',
      RetentionInDays: 90,
    });
  });

  it('routes the Slack command and interactivity URLs to the slack function, whose role may only publish its own requests and Denied events, and invoke itself', () => {
    expect(resources.HttpApiRoutePostSlackCommands!.Properties.RouteKey).toBe('POST /slack/commands');
    expect(resources.HttpApiRoutePostSlackInteractions!.Properties.RouteKey).toBe('POST /slack/interactions');
    const fn = resources.SlackLambdaFunction!.Properties as {
      Role: unknown;
      Environment: { Variables: Record<string, string> };
    };
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['SlackRole', 'Arn'] });
    expect(fn.Environment.Variables).toMatchObject({
      SLACK_SIGNING_SECRET_PARAMETER: '/stickler/test/slack-signing-secret',
      STICKLER_SLACK_TEAMS: '',
      STICKLER_SLACK_SETTERS: '',
    });
    expect(Object.keys(fn.Environment.Variables).filter((k) => /SECRET$/.test(k))).toEqual([]);
    // The dispatched work: never retried, dropped after 5 minutes.
    const invokeConfig = ofType('AWS::Lambda::EventInvokeConfig').find(([id]) => id.startsWith('Slack'));
    expect(invokeConfig?.[1].Properties).toMatchObject({
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 300,
    });
    const statements = (
      resources.SlackRole!.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]
    ).flatMap((p) => p.PolicyDocument.Statement);
    expect(statements.flatMap((st) => [st.Action].flat()).sort()).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:GetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'events:PutEvents',
      'events:PutEvents',
      'kms:Decrypt',
      'lambda:InvokeFunction',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'ssm:GetParameter',
    ]);
    expect(statements.filter((st) => st.Action === 'events:PutEvents').map((st) => st.Condition)).toEqual([
      {
        StringEquals: {
          'events:source': 'stickler.slack',
          'events:detail-type': 'Stickiness Change Requested',
        },
      },
      { StringEquals: { 'events:source': 'stickler', 'events:detail-type': 'Stickiness Change Denied' } },
    ]);
    expect(statements.find((st) => st.Sid === 'ProposalsAndReplyAddresses')?.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['proposal:*', 'reply:*'] },
    });
    expect(statements.find((st) => st.Sid === 'ReadOutcomesAndFarmOrder')).toMatchObject({
      Action: ['dynamodb:BatchGetItem'],
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['request:*', 'farm:*'] } },
    });
    // The slot a proposal's zone already waits for: one key at a time, read only, slot items only.
    expect(statements.find((st) => st.Sid === 'ReadZoneSlots')).toMatchObject({
      Effect: 'Allow',
      Action: 'dynamodb:GetItem',
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['slot:*'] } },
    });
    expect(JSON.stringify(statements.find((st) => st.Sid === 'DispatchWorkToItself')?.Resource)).toContain(
      'function:stickler-test-slack',
    );
  });

  it("draws one dashboard whose widgets read metrics the functions emit, the stack's queues and its own functions", () => {
    const body = one('AWS::CloudWatch::Dashboard').Properties.DashboardBody as { 'Fn::Sub': string };
    const text = body['Fn::Sub'];
    // Every substitution names a pseudo parameter or a resource of the stack.
    const refs = [...text.matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1]!);
    for (const ref of refs) {
      if (ref.startsWith('AWS::')) continue;
      expect(Object.keys(resources)).toContain(ref.split('.')[0]);
    }
    const dashboard = JSON.parse(text.replace(/\$\{[^}]+\}/g, 'x')) as {
      widgets: { properties: { title: string; metrics: unknown[][] } }[];
    };
    expect(dashboard.widgets.length).toBeGreaterThanOrEqual(7);
    // The stickler metrics it reads are the ones the wiring writes (EMF, namespace stickler).
    const wiring = ['apply-worker', 'compliance-run']
      .map((f) => readFileSync(join(root, `lib/wiring/${f}.ts`), 'utf8'))
      .join('\n');
    const named = dashboard.widgets
      .flatMap((w) => w.properties.metrics)
      .filter((m) => m[0] === 'stickler')
      .map((m) => m[1] as string);
    const searched = [...text.matchAll(/MetricName=\\"(\w+)\\"/g)].map((m) => m[1]!);
    expect(named.length + searched.length).toBeGreaterThanOrEqual(7);
    for (const name of [...named, ...searched]) expect(wiring).toMatch(new RegExp(`['\`]${name}`));
    expect(searched.sort()).toEqual(['refused_', 'requests_']);
    // Every function of the stack appears on it.
    const functions = ofType('AWS::Lambda::Function').map(([, r]) => r.Properties.FunctionName as string);
    for (const name of functions) expect(text).toContain(name.replace('stickler-test-', '-'));
  });

  it('declares the idempotency table with the keys and index the local pipeline creates', () => {
    const table = resources.IdempotencyTable!.Properties as Record<string, unknown>;
    expect(table.AttributeDefinitions).toEqual(IDEMPOTENCY_TABLE_KEYS.AttributeDefinitions);
    expect(table.GlobalSecondaryIndexes).toEqual(IDEMPOTENCY_TABLE_KEYS.GlobalSecondaryIndexes);
    // CloudFormation creates at most one index per update of a table.
    expect(IDEMPOTENCY_TABLE_KEYS.GlobalSecondaryIndexes).toHaveLength(1);
    expect(IDEMPOTENCY_TABLE_KEYS.GlobalSecondaryIndexes[0]!.IndexName).toBe(GROUP_INDEX);
  });

  it("gives operators a policy to publish as the CLI only, read request records, farms' order and zones' slots only, register saved plans only, and find their stack", () => {
    const policy = resources.OperatorPolicy!.Properties as {
      ManagedPolicyName: string;
      PolicyDocument: { Statement: Statement[] };
    };
    expect(policy.ManagedPolicyName).toBe('stickler-test-operator');
    const bySid = Object.fromEntries(policy.PolicyDocument.Statement.map((st) => [st.Sid, st]));
    expect(Object.keys(bySid).sort()).toEqual([
      'FindRequestsOfATicketOrRun',
      'FindTheStack',
      'FollowRequestsAndFarmOrder',
      'PublishAsTheCli',
      'ReadZoneSlots',
      'RegisterPlans',
    ]);
    // The zones' waiting slots (plan --pipeline): read only, slot items only.
    expect(bySid.ReadZoneSlots).toMatchObject({
      Effect: 'Allow',
      Action: 'dynamodb:BatchGetItem',
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['slot:*'] } },
    });
    // Saved plans for tickets to approve: written only as ~plan:* items, never read back or deleted.
    expect(bySid.RegisterPlans!.Action).toBe('dynamodb:PutItem');
    expect(bySid.RegisterPlans!.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['~plan:*'] },
    });
    expect(bySid.FindRequestsOfATicketOrRun!.Action).toBe('dynamodb:Query');
    expect(JSON.stringify(bySid.FindRequestsOfATicketOrRun!.Resource)).toContain('/index/by-group');
    expect(bySid.PublishAsTheCli!.Condition).toEqual({
      StringEquals: {
        'events:source': 'stickler.cli',
        'events:detail-type': [
          'Stickiness Change Requested',
          'Stickiness Change Cancel Requested',
          'Zone Refresh Requested',
        ],
      },
    });
    expect([bySid.FollowRequestsAndFarmOrder!.Action].flat().sort()).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:GetItem',
    ]);
    expect(bySid.FollowRequestsAndFarmOrder!.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['request:*', 'farm:*'] },
    });
    expect(bySid.FindTheStack!.Action).toBe('cloudformation:DescribeStacks');
    expect(JSON.stringify(bySid.FindTheStack!.Resource)).toContain('stack/stickler-test/*');
  });
});

/**
 * The README's Deploy section against the stack: a user follows it command by command, so every
 * parameter, param and output it names must be one the stack reads or exports, and every
 * parameter the stack reads must be named there.
 */
describe("the README's Deploy section", () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('\n## Deploy\n'),
    readme.indexOf('\n### What the stack grants'),
  );
  /** Shell commands of the section, continuation lines joined. */
  const commands = [...section.matchAll(/```sh\n([\s\S]*?)```/g)]
    .flatMap((m) => m[1]!.replace(/\\\n\s*/g, ' ').split('\n'))
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));

  it('is there, with commands', () => {
    expect(section.length).toBeGreaterThan(1000);
    expect(commands.length).toBeGreaterThan(8);
  });

  it('names every SSM parameter the functions read, and none they do not', () => {
    const read = new Set<string>();
    for (const [, r] of ofType('AWS::Lambda::Function')) {
      const env =
        (r.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
      for (const [name, value] of Object.entries(env)) {
        if (typeof value !== 'string' || value === '') continue;
        if (name.endsWith('_PARAMETER')) read.add(value);
        if (name.endsWith('_PARAMETER_PREFIX'))
          for (const source of TICKET_SOURCES) read.add(`${value}${source}`);
      }
    }
    expect(read.size).toBeGreaterThanOrEqual(7);
    // Named by a param (complianceSlackSummary), empty unless set.
    read.add('/stickler/test/compliance-slack-webhook');
    const named = new Set(
      [...section.matchAll(/\/stickler\/\$STAGE\/[\w/-]+/g)].map((m) => m[0].replace('$STAGE', 'test')),
    );
    expect([...named].sort()).toEqual([...read].sort());
  });

  it('gives every aws and serverless command the stack region', () => {
    const aws = commands.filter((c) => /(^|\$\()aws |npx serverless /.test(c));
    expect(aws.length).toBeGreaterThan(8);
    for (const c of aws)
      for (const call of c.split(/\$\(/))
        if (/^aws |npx serverless /.test(call.trim())) expect(call).toContain('--region "$AWS_REGION"');
  });

  it('names only params the stack takes, and every param a user may set', () => {
    const yml = readFileSync(join(root, 'serverless.yml'), 'utf8');
    const taken = new Set([...yml.matchAll(/\$\{param:(\w+)/g)].map((m) => m[1]!));
    // Set by the stack itself, not by a user.
    for (const internal of ['eventBusArn', 'deferralRoleArn', 'deferralDlqArn', 'policyBucket'])
      taken.delete(internal);
    const params = section.slice(
      section.indexOf('Params ('),
      section.indexOf('```sh', section.indexOf('Params (')),
    );
    const listed = new Set(
      [...params.matchAll(/`(\w+)`/g)]
        .map((m) => m[1]!)
        .filter((n) => /^[a-z]\w+$/.test(n) && !['false'].includes(n)),
    );
    const given = [...section.matchAll(/--param="(\w+)=/g)].map((m) => m[1]!);
    expect([...listed].filter((n) => !taken.has(n))).toEqual([]);
    expect([...taken].filter((n) => !listed.has(n))).toEqual([]);
    expect(given.filter((n) => !taken.has(n))).toEqual([]);
  });

  it('pictures the dashboard this template deploys (docs/dashboard.svg, npm run dashboard-svg)', () => {
    const drawn = dashboardSvg(dashboardOf({ Resources: resources })).replaceAll(
      'stickler-test',
      'stickler-STAGE',
    );
    expect(readFileSync(join(root, 'docs/dashboard.svg'), 'utf8')).toBe(drawn);
    expect(readme).toContain('![The stickler-<stage> CloudWatch dashboard](docs/dashboard.svg)');
  });

  it('shows the cost the model computes from this template (npm run cost)', () => {
    const table = readme.slice(readme.indexOf('<!-- cost -->\n') + 14, readme.indexOf('<!-- /cost -->'));
    expect(table).toBe(`${costMarkdown({ Resources: resources })}\n`);
    // The model reads the stack, not constants: every alarm and the schedules are counted.
    expect(estimate({ Resources: resources }).parts).toMatchObject({
      alarms: ofType('AWS::CloudWatch::Alarm').length,
      dashboards: 1,
      queuesPolled: 1,
    });
  });

  it('names only outputs the stack exports', () => {
    const named = new Set([...section.matchAll(/`([A-Z]\w+(?:Url|Arn|Name))`/g)].map((m) => m[1]!));
    for (const m of section.matchAll(/OutputKey=='(\w+)'/g)) named.add(m[1]!);
    expect(named.size).toBeGreaterThan(4);
    for (const name of named) expect(Object.keys(outputs)).toContain(name);
  });
});
