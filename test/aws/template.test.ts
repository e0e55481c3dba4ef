import { spawnSync } from 'node:child_process';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeTimeToLiveCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, ListRulesCommand, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { QUEUED_DETAIL_TYPES } from '../../lib/domain/events';
import { queueArn, STACK, sdk } from './moto';

/**
 * cfn-lint's findings that are accepted, each with why. Anything else it reports, error or
 * warning, fails the run: a warning is either fixed in serverless.yml or explained here.
 */
const ACCEPTED_FINDINGS: Record<string, string> = {
  // osls writes DependsOn on the role next to the function's GetAtt of it (and on the
  // integration next to the route's Ref): redundant, harmless, and not in serverless.yml.
  W3005: 'a DependsOn that a Ref or GetAtt already implies, written by osls',
};

type Finding = { Rule: { Id: string }; Level: string; Message: string; Location: { Path: unknown } };

describe('the packaged template', () => {
  it('passes cfn-lint (experimental rules too), with no finding but the accepted ones', () => {
    const run = spawnSync(
      'cfn-lint',
      [
        '--format',
        'json',
        '--include-experimental',
        '--regions',
        'eu-west-3',
        '--',
        process.env.STICKLER_AWS_TEMPLATE!,
      ],
      { encoding: 'utf8' },
    );
    expect(run.error).toBeUndefined();
    const findings = JSON.parse(run.stdout || '[]') as Finding[];
    // An empty report from a run that did not end cleanly would hide a crash of cfn-lint.
    if (findings.length === 0) expect([run.status, run.stderr]).toEqual([0, '']);
    const unexpected = findings
      .filter((f) => !(f.Rule.Id in ACCEPTED_FINDINGS))
      .map((f) => `${f.Level} ${f.Rule.Id} ${f.Message} at ${JSON.stringify(f.Location.Path)}`);
    expect(unexpected).toEqual([]);
    // Errors are never accepted, whatever the list says.
    expect(findings.filter((f) => f.Level === 'Error')).toEqual([]);
  });

  it('deploys on moto, which builds the queue, its dead-letter redrive and the change request rule as the template says', async () => {
    const { Stacks = [] } = await new CloudFormationClient(sdk()).send(
      new DescribeStacksCommand({ StackName: STACK.name }),
    );
    expect(Stacks[0]?.StackStatus).toBe('CREATE_COMPLETE');

    const sqs = new SQSClient(sdk());
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: STACK.changeRequestQueue }));
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }),
    );
    expect(Attributes.VisibilityTimeout).toBe('5400');
    expect(JSON.parse(Attributes.RedrivePolicy!)).toEqual({
      deadLetterTargetArn: queueArn(`${STACK.changeRequestQueue}-dlq`),
      maxReceiveCount: 20,
    });

    const events = new EventBridgeClient(sdk());
    const { Rules = [] } = await events.send(new ListRulesCommand({ EventBusName: STACK.bus }));
    const rule = Rules.find((r) => r.Name === STACK.changeRequestRule);
    expect(JSON.parse(rule!.EventPattern!)).toEqual({ 'detail-type': [...QUEUED_DETAIL_TYPES] });
    const { Targets = [] } = await events.send(
      new ListTargetsByRuleCommand({ Rule: STACK.changeRequestRule, EventBusName: STACK.bus }),
    );
    expect(Targets).toEqual([
      expect.objectContaining({
        Arn: queueArn(STACK.changeRequestQueue),
        DeadLetterConfig: { Arn: queueArn(`${STACK.name}-rule-delivery-dlq`) },
      }),
    ]);
  });

  it("has the table expire items on expiresAtEpoch (set from the template: moto's CloudFormation skips it)", async () => {
    const { TimeToLiveDescription } = await new DynamoDBClient(sdk()).send(
      new DescribeTimeToLiveCommand({ TableName: STACK.table }),
    );
    expect(TimeToLiveDescription).toMatchObject({
      AttributeName: 'expiresAtEpoch',
      TimeToLiveStatus: 'ENABLED',
    });
  });
});
