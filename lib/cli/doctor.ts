/**
 * `stickler doctor`'s checks: what a deployment needs, each answered ✓ (pass), ✗ (fail, with how
 * to fix it) or skipped (with why: a check that cannot be made here is never passed). Every call
 * has a timeout: the AWS clients' and the OVH client's, two attempts each.
 */
import { type AwsCall, AwsError, type AwsRestCall } from '../adapters/aws/aws-json-client';
import { ovhConfigFromEnv } from '../adapters/ovh/config';
import { resolveEndpoint, resolveOAuth2TokenUrl } from '../adapters/ovh/endpoint';
import { OvhApiError } from '../adapters/ovh/errors';
import { isServiceAccount, type OvhCredentials, OvhHttpClient } from '../adapters/ovh/http-client';
import { makeSsmOvhCredentialsLoader } from '../adapters/ssm/ovh-credentials';
import { isMissingParameter, makeSsmSecret } from '../adapters/ssm/ssm-secret';
import { type AccessRule, compareAccessRules, ruleText, STICKLER_ACCESS_RULES } from '../domain/access-rules';
import { SticklerError } from '../domain/errors';
import { plainText } from '../domain/text';
import { systemClock } from '../ports/clock';
import { checkLocalApi } from './doctor-local-api';

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
  /** How to fix a failure. */
  fix?: string;
}

/** Where the doctor looks, and the clients it looks with (each with its timeout). */
export interface DoctorTarget {
  /** `stage prod (eu-west-3)`, `the local pipeline`. */
  where: string;
  region: string;
  /** The deployed stage; undefined in the environment's mode. */
  stage?: string;
  /** The local pipeline of `stickler simulate --pipeline`. */
  local: boolean;
  busName: string;
  tableName: string;
  queueName: string;
  scheduleGroup: string;
  /** The environment: OVH's endpoint (and, out of a stage, its credentials), local secrets. */
  env: NodeJS.ProcessEnv;
  ssm?: AwsCall;
  events: AwsCall;
  sqs: AwsCall;
  dynamodb: AwsCall;
  scheduler: AwsRestCall;
  /** Per OVH call (default 10 s). */
  ovhTimeoutMs?: number;
}

const pass = (id: string, title: string, detail: string): CheckResult => ({
  id,
  title,
  status: 'pass',
  detail,
});
const fail = (id: string, title: string, detail: string, fix: string): CheckResult => ({
  id,
  title,
  status: 'fail',
  detail,
  fix,
});
const skip = (id: string, title: string, detail: string): CheckResult => ({
  id,
  title,
  status: 'skip',
  detail,
});

/** An error's words as the doctor shows them: stickler's own messages (they never hold a secret). */
const said = (error: unknown): string =>
  error instanceof SticklerError ? error.message : plainText(String((error as Error)?.message ?? error), 200);

const awsCode = (error: unknown): string | undefined => (error instanceof AwsError ? error.code : undefined);

const parameterNames = (stage: string) => ({
  serviceAccount: `/stickler/${stage}/ovh-service-account`,
  applicationKey: `/stickler/${stage}/ovh-credentials`,
  slack: `/stickler/${stage}/slack-signing-secret`,
  jiraWebhook: `/stickler/${stage}/webhook-secret/jira`,
  jiraCredentials: `/stickler/${stage}/jira-credentials`,
  servicenowWebhook: `/stickler/${stage}/webhook-secret/servicenow`,
  servicenowCredentials: `/stickler/${stage}/servicenow-credentials`,
});

/** The OVH credentials the functions would use: from SSM in a stage, from the environment otherwise. */
export const checkOvhSecrets = async (
  target: DoctorTarget,
): Promise<{ result: CheckResult; credentials?: OvhCredentials }> => {
  const title = 'SSM parameters (OVH credentials)';
  if (!target.stage || !target.ssm) {
    const why = target.local
      ? "the local pipeline's functions take OVH credentials from OVH_* variables (checked below), not from SSM"
      : 'no stage named: give --stage STAGE to check the stack’s SSM parameters';
    try {
      return {
        result: skip('ssm-ovh', title, `skipped: ${why}`),
        credentials: ovhConfigFromEnv(target.env).credentials,
      };
    } catch {
      // Said by the OVH check, which reads them again.
      return { result: skip('ssm-ovh', title, `skipped: ${why}`), credentials: undefined };
    }
  }
  const names = parameterNames(target.stage);
  const load = makeSsmOvhCredentialsLoader({
    ssm: target.ssm,
    parameters: { applicationKey: names.applicationKey, serviceAccount: names.serviceAccount },
    clock: systemClock,
  });
  try {
    const credentials = await load();
    const kind = isServiceAccount(credentials)
      ? `a service account in ${names.serviceAccount}`
      : `an application key in ${names.applicationKey}`;
    return { result: pass('ssm-ovh', title, `${kind} exists and decrypts in ${target.region}`), credentials };
  } catch (error) {
    const code = (error as SticklerError).code;
    const put = `aws ssm put-parameter --region ${target.region} --type SecureString --name ${names.serviceAccount} --value '{"clientId":"…","clientSecret":"…"}' (a service account; README: With a service account), or --name ${names.applicationKey} --value '{"applicationKey":"…","applicationSecret":"…","consumerKey":"…"}'`;
    const fix =
      code === 'credentials-ambiguous'
        ? `delete the one you no longer use: aws ssm delete-parameter --region ${target.region} --name ${names.applicationKey} (or ${names.serviceAccount})`
        : code === 'credentials-missing'
          ? put
          : code === 'credentials-invalid'
            ? `put it again, as the JSON the error names, with --overwrite: ${put}`
            : `your AWS identity must be allowed ssm:GetParameter and kms:Decrypt (through SSM) on ${names.serviceAccount} and ${names.applicationKey} in ${target.region}`;
    return { result: fail('ssm-ovh', title, said(error), fix) };
  }
};

const OVH_WORKS = 'OVH credentials work';
const OVH_RIGHTS = 'OVH rights';

/** The OVH endpoint and credentials to check with. */
interface OvhAccess {
  baseUrl: string;
  tokenUrl: string | undefined;
  credentials: OvhCredentials;
}

/** The endpoint and credentials (the environment's when none were read from SSM), or the ✗ saying why not. */
const ovhAccess = (
  target: DoctorTarget,
  credentials: OvhCredentials | undefined,
): OvhAccess | CheckResult[] => {
  try {
    const baseUrl = resolveEndpoint(target.env.OVH_ENDPOINT);
    const resolved = credentials ?? ovhConfigFromEnv(target.env).credentials;
    const tokenUrl = isServiceAccount(resolved)
      ? resolveOAuth2TokenUrl(baseUrl, target.env.OVH_OAUTH2_TOKEN_URL)
      : undefined;
    return { baseUrl, tokenUrl, credentials: resolved };
  } catch (error) {
    return [
      fail(
        'ovh-credentials',
        OVH_WORKS,
        said(error),
        target.stage
          ? 'set OVH_ENDPOINT as the stack’s ovhEndpoint param (and OVH_OAUTH2_TOKEN_URL as its ovhOAuth2TokenUrl, if any)'
          : 'set OVH_CLIENT_ID and OVH_CLIENT_SECRET (a service account) or OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET and OVH_CONSUMER_KEY, or paste the exports of stickler simulate --pipeline',
      ),
      skip('ovh-rights', OVH_RIGHTS, 'skipped: no OVH credentials to check'),
    ];
  }
};

/** How to fix what OVH answered at `baseUrl`. */
const ovhFix = (error: unknown, baseUrl: string): string =>
  error instanceof OvhApiError && error.code === 'credentials-refused'
    ? 'check the client id and secret, and that the service account exists (README: With a service account)'
    : error instanceof OvhApiError && (error.status === 403 || error.status === 400 || error.status === 401)
      ? 'create credentials again as the README says (With a service account, or With an application key), and store them where stickler reads them'
      : `check that ${baseUrl} is the OVH endpoint of your load balancers and that it can be reached from here`;

/** What GET /auth/currentCredential answers, as far as the doctor reads it. */
interface CurrentCredential {
  status?: unknown;
  rules?: unknown;
  expiration?: unknown;
}

/** A consumer key's rules compared with what stickler calls: exactly those, validated. */
const rightsOf = (credential: CurrentCredential): CheckResult => {
  const granted = (Array.isArray(credential.rules) ? credential.rules : []).filter(
    (r): r is AccessRule => typeof r?.method === 'string' && typeof r?.path === 'string',
  );
  const report = compareAccessRules(granted);
  const problems = [
    credential.status !== undefined && credential.status !== 'validated'
      ? `the consumer key is ${plainText(String(credential.status), 30)}, not validated`
      : undefined,
    report.missing.length ? `missing: ${report.missing.map(ruleText).join(', ')}` : undefined,
    report.broader.length
      ? `broader than stickler needs: ${report.broader.map(ruleText).join(', ')}`
      : undefined,
  ].filter((p): p is string => p !== undefined);
  const expires =
    typeof credential.expiration === 'string' ? ` (it expires ${plainText(credential.expiration, 40)})` : '';
  if (problems.length > 0)
    return fail(
      'ovh-rights',
      OVH_RIGHTS,
      `${problems.join('; ')}${expires}`,
      `create a consumer key with exactly these rules: ${STICKLER_ACCESS_RULES.map(ruleText).join(', ')} (README: With an application key), or a service account`,
    );
  const pinned = report.pinned.length
    ? `, pinned to ${[...new Set(report.pinned.flatMap((p) => p.services))].join(', ')}`
    : '';
  return pass(
    'ovh-rights',
    OVH_RIGHTS,
    `the consumer key's rules are exactly what stickler calls${pinned}${expires}`,
  );
};

/** An application key's rights, as its consumer key reads them, when it may. */
const checkApplicationKeyRights = async (client: OvhHttpClient, baseUrl: string): Promise<CheckResult> => {
  let credential: CurrentCredential;
  try {
    credential = await client.get('/auth/currentCredential');
  } catch (error) {
    if (error instanceof OvhApiError && error.errorCode === 'NOT_GRANTED_CALL')
      return skip(
        'ovh-rights',
        OVH_RIGHTS,
        'skipped: this consumer key may not read its own rules (GET /auth/currentCredential is not granted to it)',
      );
    return fail('ovh-rights', OVH_RIGHTS, said(error), ovhFix(error, baseUrl));
  }
  return rightsOf(credential);
};

/** Does the OVH API answer these credentials, and with the rights stickler needs and no more? */
export const checkOvh = async (
  target: DoctorTarget,
  credentials: OvhCredentials | undefined,
): Promise<CheckResult[]> => {
  const access = ovhAccess(target, credentials);
  if (Array.isArray(access)) return access;
  const { baseUrl, tokenUrl } = access;
  const client = new OvhHttpClient({
    baseUrl,
    credentials: access.credentials,
    ...(tokenUrl ? { oauth2TokenUrl: tokenUrl } : {}),
    timeoutMs: target.ovhTimeoutMs ?? 10_000,
    retry: { maxAttempts: 2, baseDelayMs: 200, maxDelayMs: 1_000, maxThrottledAttempts: 2 },
  });
  let listed: string[];
  try {
    listed = await client.get<string[]>('/ipLoadbalancing');
  } catch (error) {
    return [
      fail('ovh-credentials', OVH_WORKS, said(error), ovhFix(error, baseUrl)),
      skip('ovh-rights', OVH_RIGHTS, 'skipped: the credentials do not work'),
    ];
  }
  const count = Array.isArray(listed) ? listed.length : 0;
  if (isServiceAccount(access.credentials))
    return [
      pass(
        'ovh-credentials',
        OVH_WORKS,
        `service account: a token from ${tokenUrl}, then GET /ipLoadbalancing answered ${count} load balancer(s) at ${baseUrl}`,
      ),
      skip(
        'ovh-rights',
        OVH_RIGHTS,
        "skipped: a service account's rights are its IAM policy, which OVH does not show to the account itself; give it exactly the actions the README lists (With a service account)",
      ),
    ];
  const worked = pass(
    'ovh-credentials',
    OVH_WORKS,
    `application key: GET /ipLoadbalancing answered ${count} load balancer(s) at ${baseUrl}`,
  );
  return [worked, await checkApplicationKeyRights(client, baseUrl)];
};

/** One AWS resource: found, or what to do about it. */
const resource = async (
  id: string,
  title: string,
  name: string,
  call: () => Promise<unknown>,
  target: DoctorTarget,
): Promise<CheckResult> => {
  try {
    await call();
    return pass(id, title, `${name} exists in ${target.region}`);
  } catch (error) {
    const notFound = /NotFound|NonExistent|DoesNotExist/.test(awsCode(error) ?? '');
    const fix = target.local
      ? "is 'stickler simulate --pipeline' running, and are its exports pasted in this shell (all of them, from this run)?"
      : target.stage
        ? `deploy the stack: npx serverless deploy --stage ${target.stage} --region ${target.region}`
        : 'check EVENT_BUS_NAME, IDEMPOTENCY_TABLE and DEFERRAL_SCHEDULE_GROUP, or give --stage STAGE';
    return fail(
      id,
      title,
      notFound ? `${name} does not exist in ${target.region}` : said(error),
      notFound || target.local ? fix : `${fix}; your AWS identity must be allowed to describe it`,
    );
  }
};

export const checkResources = (target: DoctorTarget): Promise<CheckResult[]> =>
  Promise.all([
    resource(
      'bus',
      'Event bus',
      `bus ${target.busName}`,
      () => target.events('DescribeEventBus', { Name: target.busName }),
      target,
    ),
    resource(
      'queue',
      'Queue',
      `queue ${target.queueName}`,
      () => target.sqs('GetQueueUrl', { QueueName: target.queueName }),
      target,
    ),
    resource(
      'table',
      'Table',
      `table ${target.tableName}`,
      () => target.dynamodb('DescribeTable', { TableName: target.tableName }),
      target,
    ),
    resource(
      'schedule-group',
      'Schedule group',
      `schedule group ${target.scheduleGroup}`,
      () => target.scheduler('GET', `/schedule-groups/${encodeURIComponent(target.scheduleGroup)}`),
      target,
    ),
  ]);

interface TriggerPiece {
  /** An SSM parameter (a stage) or an environment variable. */
  name: string;
  value?: string;
}

const TRIGGERS = ['slack', 'jira', 'servicenow'] as const;
const TRIGGER_TITLES = {
  slack: 'Slack secrets',
  jira: 'Jira secrets',
  servicenow: 'ServiceNow secrets',
} as const;

/** What each trigger needs: in a stage its SSM parameters, in the environment its variables. */
const triggerPieces = (target: DoctorTarget): Record<(typeof TRIGGERS)[number], TriggerPiece[]> => {
  if (target.stage) {
    const n = parameterNames(target.stage);
    return {
      slack: [{ name: n.slack, value: '<the Slack app’s signing secret>' }],
      jira: [
        { name: n.jiraWebhook, value: '"$(openssl rand -hex 32)"' },
        { name: n.jiraCredentials, value: `'{"email":"…","apiToken":"…"}'` },
      ],
      servicenow: [
        { name: n.servicenowWebhook, value: '"$(openssl rand -hex 32)"' },
        { name: n.servicenowCredentials, value: `'{"user":"…","password":"…"}'` },
      ],
    };
  }
  const names = {
    slack: ['SLACK_SIGNING_SECRET'],
    jira: ['STICKLER_WEBHOOK_SECRET_JIRA', 'JIRA_BASE_URL', 'JIRA_EMAIL', 'JIRA_API_TOKEN'],
    servicenow: [
      'STICKLER_WEBHOOK_SECRET_SERVICENOW',
      'SERVICENOW_BASE_URL',
      'SERVICENOW_USER',
      'SERVICENOW_PASSWORD',
    ],
  };
  return Object.fromEntries(TRIGGERS.map((t) => [t, names[t].map((name) => ({ name }))])) as never;
};

/**
 * Each trigger's secrets. The local pipeline serves every trigger, so each needs all its pieces;
 * elsewhere a trigger counts as set up when any of its pieces exists, and then needs them all.
 */
export const checkTriggers = async (target: DoctorTarget): Promise<CheckResult[]> => {
  const pieces = triggerPieces(target);
  const present = async (piece: TriggerPiece): Promise<boolean | Error> => {
    if (!target.stage || !target.ssm) return Boolean(target.env[piece.name]?.trim());
    try {
      await makeSsmSecret({ ssm: target.ssm, parameterName: piece.name, clock: systemClock, cacheMs: 0 })();
      return true;
    } catch (error) {
      return isMissingParameter(error) ? false : (error as Error);
    }
  };
  return Promise.all(
    TRIGGERS.map(async (trigger): Promise<CheckResult> => {
      const id = `${trigger}-secrets`;
      const title = TRIGGER_TITLES[trigger];
      const found = await Promise.all(pieces[trigger].map(present));
      const failed = found.find((f): f is Error => f instanceof Error);
      if (failed)
        return fail(
          id,
          title,
          said(failed),
          `your AWS identity must be allowed ssm:GetParameter and kms:Decrypt (through SSM) on /stickler/${target.stage}/*`,
        );
      const missing = pieces[trigger].filter((_, i) => found[i] !== true);
      const kind = target.stage ? 'SSM parameter' : 'variable';
      if (missing.length === 0)
        return pass(id, title, `${pieces[trigger].map((p) => p.name).join(', ')} present`);
      if (missing.length === pieces[trigger].length && !target.local)
        return skip(
          id,
          title,
          `skipped: not set up (no ${missing.map((p) => p.name).join(' nor ')}); the README says how to set it up`,
        );
      const fix = target.stage
        ? missing
            .map(
              (p) =>
                `aws ssm put-parameter --region ${target.region} --type SecureString --name ${p.name} --value ${p.value}`,
            )
            .join('; ')
        : target.local
          ? "paste all the exports of 'stickler simulate --pipeline'"
          : `set ${missing.map((p) => p.name).join(', ')}`;
      return fail(
        id,
        title,
        `missing ${kind}${missing.length > 1 ? 's' : ''}: ${missing.map((p) => p.name).join(', ')}`,
        fix,
      );
    }),
  );
};

/** Every check, in the order they are shown. */
export const runDoctor = async (target: DoctorTarget): Promise<CheckResult[]> => {
  const [secrets, resources, triggers, api] = await Promise.all([
    checkOvhSecrets(target),
    checkResources(target),
    checkTriggers(target),
    target.local ? checkLocalApi(target.env).then((c) => [c]) : Promise.resolve([]),
  ]);
  const ovh =
    secrets.result.status === 'fail'
      ? [
          skip(
            'ovh-credentials',
            'OVH credentials work',
            'skipped: the OVH credentials cannot be read (above)',
          ),
          skip('ovh-rights', 'OVH rights', 'skipped: the OVH credentials cannot be read (above)'),
        ]
      : await checkOvh(target, secrets.credentials);
  return [secrets.result, ...ovh, ...resources, ...triggers, ...api];
};
