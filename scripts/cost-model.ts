/**
 * What a stage costs on AWS: an idle month and 1,000 change requests, computed from the packaged
 * CloudFormation template (functions and their memory, alarms, dashboards, schedules, the queue's
 * event source) and the list prices below. `npm run cost` prints it; a test holds the README's
 * table to it (test/infra/serverless-template.test.ts).
 *
 * What the template cannot say (how long an OVH refresh task takes, how many requests share a
 * batch) is an assumption, named in the output.
 */

/**
 * USD list prices AWS publishes for its on-demand tiers, without free tiers, as this project
 * recorded them (no machine here reaches AWS's price list API): us-east-1's; eu-west-3 (Paris)
 * lists the same for Lambda, EventBridge, Scheduler, SQS and CloudWatch alarms, dashboards and
 * metrics, and up to about 15% more for DynamoDB, API Gateway and CloudWatch Logs.
 */
export const PRICES = {
  recorded: 'in 2025',
  lambdaArmGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  eventBridgeEvent: 1 / 1e6,
  sqsRequest: 0.4 / 1e6,
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  httpApiRequest: 1 / 1e6,
  alarmMonth: 0.1,
  dashboardMonth: 3,
  metricMonth: 0.3,
  logsGbIngested: 0.5,
  schedulerInvocation: 1 / 1e6,
} as const;

/** What the template cannot know, stated in the output. */
export const ASSUMPTIONS = {
  /** One compliance report run (read the fleet, plan): a few hundred farms at OVH's latency. */
  complianceRunSeconds: 5,
  /** A worker batch: writes, then the wait for OVH's refresh task of each zone. */
  workerBatchSeconds: 45,
  webhookSeconds: 0.3,
  notifierSeconds: 1,
  /** Idle long polls of the queue's event source: 5 pollers, one 20 s receive each at a time. */
  sqsIdlePollsPerMonth: 5 * 3 * 60 * 730,
  /** Per request: bus events (the request, its outcome) and DynamoDB units (records, ledger, webhook). */
  eventsPerRequest: 2,
  writeUnitsPerRequest: 10,
  readUnitsPerRequest: 6,
  logBytesPerRequest: 4096,
  /** Worker metrics of a month with traffic: requests_<outcome> (2), zone_applies, lease_wait, refused_<code> (3). */
  workerMetrics: 7,
  /** The compliance run's metrics, each hour: drifted_farms, unapplied_zones, farms_checked. */
  complianceMetrics: 3,
} as const;

const HOURS_PER_MONTH = 730;

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

interface Line {
  what: string;
  usd: number;
}

const runsPerMonth = (expression: string): number => {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!m) throw new Error(`cost model: cannot read the schedule ${expression}`);
  const every = Number(m[1]) * (m[2]!.startsWith('minute') ? 1 / 60 : m[2]!.startsWith('hour') ? 1 : 24);
  return HOURS_PER_MONTH / every;
};

/** The stack's parts the cost depends on, read from the template. */
export const partsOf = (template: Template) => {
  const resources = Object.values(template.Resources);
  const functions = new Map<string, number>();
  for (const r of resources)
    if (r.Type === 'AWS::Lambda::Function')
      functions.set(String(r.Properties?.FunctionName), Number(r.Properties?.MemorySize ?? 1024) / 1024);
  const memoryOf = (suffix: string) => {
    const found = [...functions].find(([name]) => name.endsWith(`-${suffix}`));
    if (!found) throw new Error(`cost model: no function ${suffix} in the template`);
    return found[1];
  };
  const schedules = resources
    .filter((r) => r.Type === 'AWS::Events::Rule' && typeof r.Properties?.ScheduleExpression === 'string')
    .map((r) => ({
      runs: runsPerMonth(String(r.Properties!.ScheduleExpression)),
      enabled: r.Properties!.State !== 'DISABLED',
    }));
  return {
    alarms: resources.filter((r) => r.Type === 'AWS::CloudWatch::Alarm').length,
    dashboards: resources.filter((r) => r.Type === 'AWS::CloudWatch::Dashboard').length,
    queuesPolled: resources.filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping').length,
    scheduledRuns: schedules.filter((s) => s.enabled).reduce((sum, s) => sum + s.runs, 0),
    memory: {
      worker: memoryOf('apply-worker'),
      webhook: memoryOf('ticketing-webhook'),
      notifier: memoryOf('notifier'),
      compliance: memoryOf('compliance-run'),
    },
  };
};

const lambda = (invocations: number, seconds: number, gb: number) =>
  invocations * (PRICES.lambdaRequest + seconds * gb * PRICES.lambdaArmGbSecond);

export const estimate = (template: Template) => {
  const p = partsOf(template);
  const a = ASSUMPTIONS;
  const idle: Line[] = [
    { what: `${p.alarms} CloudWatch alarms`, usd: p.alarms * PRICES.alarmMonth },
    { what: `${p.dashboards} CloudWatch dashboard`, usd: p.dashboards * PRICES.dashboardMonth },
    {
      what: `${Math.round(p.scheduledRuns)} scheduled compliance runs (${a.complianceRunSeconds} s each) and their ${a.complianceMetrics} metrics`,
      usd:
        lambda(p.scheduledRuns, a.complianceRunSeconds, p.memory.compliance) +
        p.scheduledRuns * (PRICES.schedulerInvocation + 2 * PRICES.eventBridgeEvent) +
        a.complianceMetrics * PRICES.metricMonth,
    },
    {
      what: `the queue's event source polling an empty queue (${(a.sqsIdlePollsPerMonth / 1e6).toFixed(2)} M receives)`,
      usd: p.queuesPolled * a.sqsIdlePollsPerMonth * PRICES.sqsRequest,
    },
  ];
  const perThousand = (perBatch: number): Line[] => {
    const n = 1000;
    const batches = n / perBatch;
    return [
      {
        what: `apply-worker: ${batches} batches of ${a.workerBatchSeconds} s`,
        usd: lambda(batches, a.workerBatchSeconds, p.memory.worker),
      },
      {
        what: 'ticketing-webhook and notifier',
        usd: lambda(n, a.webhookSeconds, p.memory.webhook) + lambda(n, a.notifierSeconds, p.memory.notifier),
      },
      {
        what: 'API Gateway, EventBridge, SQS',
        usd:
          n * PRICES.httpApiRequest +
          (n * a.eventsPerRequest + batches) * PRICES.eventBridgeEvent +
          (n + 2 * batches) * PRICES.sqsRequest,
      },
      {
        what: 'DynamoDB and CloudWatch Logs',
        usd:
          n *
            (a.writeUnitsPerRequest * PRICES.dynamoWriteUnit +
              a.readUnitsPerRequest * PRICES.dynamoReadUnit) +
          batches * 2 * PRICES.dynamoWriteUnit +
          (n * a.logBytesPerRequest * PRICES.logsGbIngested) / 1024 ** 3,
      },
    ];
  };
  return {
    parts: p,
    idle,
    alone: perThousand(1),
    batched: perThousand(10),
    trafficMetrics: a.workerMetrics * PRICES.metricMonth,
  };
};

const usd = (value: number) => (value >= 0.1 ? `$${value.toFixed(2)}` : `$${value.toFixed(3)}`);
const sum = (lines: Line[]) => lines.reduce((s, l) => s + l.usd, 0);

/** The README's cost table. */
export const costMarkdown = (template: Template): string => {
  const e = estimate(template);
  const rows = (lines: Line[]) => lines.map((l) => `| ${l.what} | ${usd(l.usd)} |`).join('\n');
  return [
    '| an idle month | USD |',
    '|---|---|',
    rows(e.idle),
    `| **total** | **${usd(sum(e.idle))}** |`,
    '',
    '| 1,000 change requests, each alone in its batch | USD |',
    '|---|---|',
    rows(e.alone),
    `| **total** | **${usd(sum(e.alone))}** |`,
    '',
    '| 1,000 change requests, 10 to a batch | USD |',
    '|---|---|',
    rows(e.batched),
    `| **total** | **${usd(sum(e.batched))}** |`,
    '',
    `A month with requests also pays the worker's ${ASSUMPTIONS.workerMetrics} metrics: ${usd(e.trafficMetrics)}.`,
    `Prices: AWS's list prices as recorded ${PRICES.recorded} (scripts/cost-model.ts), without free tiers.`,
  ].join('\n');
};
