/**
 * The doctor's look at the local pipeline's HTTP API (`STICKLER_API_URL`, which `stickler send`
 * and the Slack walk-through post to): that it answers, and that each ticketing webhook secret of
 * the environment (`STICKLER_WEBHOOK_SECRET_*`) is the pipeline's. Each webhook is sent an empty
 * JSON object signed with the secret: a refused signature (401) says the secret is not the one the
 * pipeline checks; any other answer (an empty object is no ticket: 400, or 200 ignored) says it
 * is. Nothing is asked of the pipeline by such a probe.
 */
import { createHmac } from 'node:crypto';
import type { CheckResult } from './doctor';

const SOURCES = ['generic', 'jira', 'servicenow'] as const;
const PROBE_TIMEOUT_MS = 5_000;

/** What the pipeline answered a probe signed with the environment's secret for `source`. */
const probe = async (api: string, source: (typeof SOURCES)[number], secret: string): Promise<number> => {
  const body = '{}';
  const header = source === 'jira' ? 'x-hub-signature' : 'x-hub-signature-256';
  const response = await fetch(`${api}/webhooks/${source}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [header]: `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
    },
    body,
    signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
  });
  await response.arrayBuffer().catch(() => undefined);
  return response.status;
};

/** The local HTTP API's check: reachable, and each webhook secret the pipeline's own. */
export const checkLocalApi = async (env: NodeJS.ProcessEnv): Promise<CheckResult> => {
  const id = 'local-http-api';
  const title = "The local pipeline's HTTP API and webhook secrets";
  const api = env.STICKLER_API_URL?.trim().replace(/\/+$/, '');
  const exports = "paste all the exports of 'stickler simulate --pipeline' (it prints them)";
  if (!api || !/^https?:\/\/[^/]+/.test(api))
    return { id, title, status: 'fail', detail: 'STICKLER_API_URL is not set (or not a URL)', fix: exports };
  let statuses: number[];
  try {
    statuses = await Promise.all(
      SOURCES.map((s) =>
        probe(api, s, env[`STICKLER_WEBHOOK_SECRET_${s.toUpperCase()}`] || `stickler-local-${s}-secret`),
      ),
    );
  } catch (error) {
    return {
      id,
      title,
      status: 'fail',
      detail: `${api} does not answer: ${(error as Error).message}`,
      fix: `is 'stickler simulate --pipeline' still running? Then ${exports}`,
    };
  }
  const wrong = SOURCES.filter((_, i) => statuses[i] === 401 || statuses[i] === 403);
  if (wrong.length > 0)
    return {
      id,
      title,
      status: 'fail',
      detail: `${wrong.map((s) => `STICKLER_WEBHOOK_SECRET_${s.toUpperCase()}`).join(', ')} not the pipeline's (its webhook refused the signature)`,
      fix: exports,
    };
  return {
    id,
    title,
    status: 'pass',
    detail: `${api} answers; the ${SOURCES.join(', ')} webhook secrets are the pipeline's`,
  };
};
