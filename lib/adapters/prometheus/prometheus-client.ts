/**
 * A small client of the Prometheus HTTP API (instant and range queries), as OVH's metrics
 * endpoint answers it: `Authorization: Bearer TOKEN`, a timeout on every call, one attempt (a
 * reader of traffic would rather say "unknown" than wait), answers read up to a bound. Errors
 * name the path and the status, never the token.
 */
import * as z from 'zod/mini';
import { ConfigError, SticklerError } from '../../domain/errors';
import { plainText } from '../../domain/text';
import type { RateSample } from '../../domain/traffic';
import { readBounded } from '../http/read-bounded';

export class PrometheusError extends SticklerError {}

/** Prometheus refuses a range query of more points than this per series. */
export const MAX_POINTS_PER_SERIES = 11_000;

/**
 * The step (whole seconds) of a range query: `wanted`, or the smallest larger step that keeps
 * the query under MAX_POINTS_PER_SERIES (Prometheus counts floor((end - start) / step) + 1 points).
 */
export const rangeStepSeconds = (startMs: number, endMs: number, wanted: number): number => {
  const spanSeconds = Math.max(0, (endMs - startMs) / 1000);
  const least = Math.ceil(spanSeconds / (MAX_POINTS_PER_SERIES - 1));
  return Math.max(Math.ceil(wanted), least, 1);
};

/** The largest answer read: a week of 5-minute points is about 60 KiB. */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

const ValueSchema = z.tuple([z.number(), z.string()]);
const AnswerSchema = z.looseObject({
  status: z.literal('success'),
  data: z.looseObject({
    resultType: z.string(),
    result: z.array(
      z.looseObject({
        metric: z.optional(z.record(z.string(), z.string())),
        value: z.optional(ValueSchema),
        values: z.optional(z.array(ValueSchema)),
      }),
    ),
  }),
});
const ErrorSchema = z.looseObject({
  status: z.literal('error'),
  errorType: z.optional(z.string()),
  error: z.optional(z.string()),
});

/**
 * A metrics endpoint as OVH gives it, made a base URL: https is assumed when no scheme is given;
 * plain http only to this machine (the simulator), since the token travels in a header.
 */
export const metricsBaseUrl = (endpoint: string): URL => {
  const text = endpoint.trim();
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`);
  } catch {
    throw new ConfigError('the metrics endpoint OVH gave is not a URL');
  }
  const local = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local))
    throw new ConfigError(`the metrics endpoint OVH gave is not https (${url.protocol}): not used`);
  if (url.username || url.password || url.search || url.hash)
    throw new ConfigError('the metrics endpoint OVH gave carries credentials or a query: not used');
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
};

export interface PrometheusClientOptions {
  /** The endpoint's base (metricsBaseUrl); calls go to {base}/prometheus/api/v1/… */
  baseUrl: URL;
  token: string;
  timeoutMs: number;
  fetch?: typeof fetch;
}

export interface PrometheusClient {
  /** The single value of a one-series instant query at `time`; undefined when no series answered. */
  instant(query: string, time: Date): Promise<number | undefined>;
  /** The points of a one-series range query (empty when no series answered). */
  range(query: string, start: Date, end: Date, stepSeconds: number): Promise<RateSample[]>;
}

const seconds = (date: Date) => (date.getTime() / 1000).toFixed(3);

const toNumber = (text: string): number => {
  const value = Number(text);
  return Number.isFinite(value) ? value : Number.NaN;
};

export const makePrometheusClient = (options: PrometheusClientOptions): PrometheusClient => {
  const doFetch = options.fetch ?? fetch;
  // A token fetch would refuse quotes in its error message: checked here, never quoted.
  if (!/^[\x21-\x7e]+$/.test(options.token))
    throw new ConfigError('the metrics token OVH gave is empty or not printable ASCII: not used');

  async function call(kind: 'query' | 'query_range', params: Record<string, string>) {
    const url = new URL(`${options.baseUrl.href.replace(/\/+$/, '')}/prometheus/api/v1/${kind}`);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    const what = `GET ${url.pathname}`;
    let response: Response;
    let text: string;
    try {
      response = await doFetch(url, {
        headers: { Accept: 'application/json', Authorization: `Bearer ${options.token}` },
        signal: AbortSignal.timeout(options.timeoutMs),
        redirect: 'error',
      });
      const read = await readBounded(response, MAX_ANSWER_BYTES);
      if (read === undefined)
        throw new PrometheusError('too-large', `${what}: an answer over ${MAX_ANSWER_BYTES} bytes, not read`);
      text = read;
    } catch (cause) {
      if (cause instanceof PrometheusError) throw cause;
      const name = (cause as { name?: unknown } | null)?.name;
      const timedOut = name === 'TimeoutError' || name === 'AbortError';
      const code = (cause as { cause?: { code?: unknown } } | null)?.cause?.code;
      // The cause is not kept: a fetch error may quote a request header.
      throw new PrometheusError(
        timedOut ? 'timeout' : 'network',
        `${what}: ${timedOut ? `no answer within ${options.timeoutMs} ms` : `network error${typeof code === 'string' ? ` ${code}` : ''}`}`,
        { retryable: true },
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const error = ErrorSchema.safeParse(body);
      const detail = error.success
        ? plainText(`${error.data.errorType ?? 'error'}: ${error.data.error ?? ''}`, 200)
        : plainText(text, 120);
      const refused = response.status === 401 || response.status === 403;
      throw new PrometheusError(
        refused ? 'refused' : response.status === 404 ? 'not-found' : 'http-error',
        `${what}: HTTP ${response.status}${refused ? ' (the token was refused)' : ''}${detail ? ` ${detail}` : ''}`,
        { retryable: response.status === 429 || response.status >= 500 },
      );
    }
    const answer = AnswerSchema.safeParse(body);
    if (!answer.success) {
      const error = ErrorSchema.safeParse(body);
      throw new PrometheusError(
        'bad-response',
        error.success
          ? `${what}: ${plainText(`${error.data.errorType ?? 'error'}: ${error.data.error ?? ''}`, 200)}`
          : `${what}: the answer is not a Prometheus query result`,
      );
    }
    return answer.data.data.result;
  }

  return {
    async instant(query, time) {
      const result = await call('query', { query, time: seconds(time) });
      if (result.length === 0) return undefined;
      if (result.length > 1)
        throw new PrometheusError('bad-response', `the query answered ${result.length} series, not one`);
      const value = result[0]!.value;
      return value ? toNumber(value[1]) : undefined;
    },
    async range(query, start, end, stepSeconds) {
      const step = rangeStepSeconds(start.getTime(), end.getTime(), stepSeconds);
      const result = await call('query_range', {
        query,
        start: seconds(start),
        end: seconds(end),
        step: String(step),
      });
      if (result.length > 1)
        throw new PrometheusError('bad-response', `the query answered ${result.length} series, not one`);
      return (result[0]?.values ?? [])
        .map(([at, value]) => ({ at: Math.round(at * 1000), value: toNumber(value) }))
        .filter((sample) => Number.isFinite(sample.value));
    },
  };
};
