/**
 * A small signed HTTP client for the OVH API, built on fetch.
 *
 * Unlike the `ovh` npm package it sends `null` fields as they are (needed to clear stickiness),
 * talks plain http to a local simulator, keeps OVH's error details and query id, bounds every
 * call with a timeout, retries what is safe to retry, and shares one concurrency limit across
 * every call of a run.
 */
import { ConfigError } from '../../domain/errors';
import { plainText } from '../../domain/text';
import { type Clock, systemClock } from '../../ports/clock';
import {
  type AdaptiveConcurrency,
  type CallOutcome,
  makeAdaptiveConcurrency,
} from '../../shared/adaptive-concurrency';
import { fullJitterDelay } from '../../shared/backoff';
import { createLimiter, type Limiter } from '../../shared/limiter';
import { readBounded } from '../http/read-bounded';
import { OvhApiError } from './errors';
import { OAuth2TokenSource, type ServiceAccountCredentials } from './oauth2';
import { signRequest } from './signature';

/** An application key with its secret and a consumer key: each request is signed. */
export interface ApplicationKeyCredentials {
  applicationKey: string;
  applicationSecret: string;
  consumerKey: string;
}

/** Either kind of OVH credentials: an application key (signed requests) or a service account (OAuth2). */
export type OvhCredentials = ApplicationKeyCredentials | ServiceAccountCredentials;

export const isServiceAccount = (credentials: OvhCredentials): credentials is ServiceAccountCredentials =>
  'clientId' in credentials;

/**
 * What is wrong with a credential's characters, or undefined. OVH's keys are printable ASCII; a
 * line break or a control character (a bad paste, a file read with its newline) would go into a
 * request header, where fetch refuses it with the value in its message.
 */
export const credentialProblem = (value: string): string | undefined =>
  /^[\x20-\x7e]+$/.test(value)
    ? undefined
    : value === ''
      ? 'is empty'
      : 'holds a character that is not printable ASCII (a line break, a control character or a non-ASCII letter)';

const CREDENTIAL_NAMES = {
  applicationKey: 'application key',
  applicationSecret: 'application secret',
  consumerKey: 'consumer key',
  clientId: 'service account client id',
  clientSecret: 'service account client secret',
} as const;

/** Refuses credentials that cannot go into a request as they are (loaded from SSM, say), never quoting them. */
const checkCredentials = (credentials: OvhCredentials): OvhCredentials => {
  const fields = isServiceAccount(credentials)
    ? (['clientId', 'clientSecret'] as const)
    : (['applicationKey', 'applicationSecret', 'consumerKey'] as const);
  for (const field of fields) {
    const problem = credentialProblem((credentials as unknown as Record<string, string>)[field] ?? '');
    if (problem)
      throw new ConfigError(`the OVH ${CREDENTIAL_NAMES[field]} ${problem}; its value is not shown`);
  }
  return credentials;
};

export interface RetryOptions {
  /** Total attempts including the first. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the call fails (retryable). */
  maxRetryAfterMs: number;
  /** How long, and how many times, one call may wait out throttling (429) before it fails. */
  maxThrottledMs: number;
  maxThrottledAttempts: number;
}

export interface OvhHttpClientOptions {
  /** Base URL, e.g. https://eu.api.ovh.com/1.0 (see resolveEndpoint). */
  baseUrl: string;
  /** Credentials, or a function that loads them (for example from SSM, cached). */
  credentials: OvhCredentials | (() => Promise<OvhCredentials>);
  /**
   * Where a service account gets its access tokens (resolveOAuth2TokenUrl). Needed only with a
   * service account's credentials; without it they are refused.
   */
  oauth2TokenUrl?: string;
  /** Per-attempt timeout, connection to last byte. */
  timeoutMs?: number;
  /** A number, or a Limiter shared with other clients. */
  concurrency?: number | Limiter;
  retry?: Partial<RetryOptions>;
  fetch?: typeof fetch;
  clock?: Clock;
  random?: () => number;
  /** Told of each retry before its wait (the CLI says it, so a slow endpoint is never silent). */
  onRetry?: (retry: RetryNotice) => void;
  /**
   * Adaptive concurrency (with a numeric `concurrency`, which becomes the ceiling): start with
   * `initial` calls in flight, grow while the API keeps up, halve on signs of overload (a round
   * of calls more than a quarter throttled or failed, timeouts clustering, calls twice as slow),
   * never for an isolated failure, and climb back at once to the level of its last clear round
   * (shared/adaptive-concurrency.ts).
   */
  adaptive?: { initial: number };
}

export interface RetryNotice {
  method: string;
  path: string;
  /** The attempt that failed, and how many there may be. */
  attempt: number;
  maxAttempts: number;
  /** Why it failed: the error's code (`timeout`, `network`, `http`…) and message. */
  code: string;
  reason: string;
  delayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = {
  maxAttempts: 5,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 60_000,
  maxThrottledMs: 120_000,
  maxThrottledAttempts: 20,
};

/** The longest timeout a timer takes (setTimeout waits 1 ms instead of anything longer). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The largest answer read. OVH's largest (a page of 1,000 farm objects) is a few hundred KiB;
 * anything past this is not an OVH answer (a proxy's endless stream, a misdirected download).
 */
export const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

/** What an attempt says about OVH's load: throttled, a server error, no answer, a dropped connection, or nothing. */
const outcomeOf = <T>(attempt: Attempt<T>, latencyMs: number): CallOutcome => {
  if (attempt.ok) return { kind: 'success', latencyMs };
  const { error } = attempt;
  if (error.status === 429) return { kind: 'throttled' };
  if (error.code === 'timeout') return { kind: 'timeout' };
  if ((error.status ?? 0) >= 500 || error.code === 'network') return { kind: 'failed' };
  return { kind: 'neutral' };
};

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
/** A POST is not idempotent: retry it only when the answer proves it was not processed. */
const RETRYABLE_STATUS_UNSAFE = new Set([408, 429, 503]);

interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** /auth/time is the only unauthenticated call. */
  unauthenticated?: boolean;
  /** Extra request headers (not signed: OVH signs the method, URL, body and time only). */
  headers?: Record<string, string>;
  /** Told of the successful answer's headers. */
  onHeaders?: (headers: Headers) => void;
}

/** A signed call's credentials and clock offset, or a service account's access token. */
type Authorization = { credentials: ApplicationKeyCredentials; offset: number } | { bearer: string };

type Attempt<T> =
  | { ok: true; value: T; headers: Headers }
  | { ok: false; error: OvhApiError; retryAfterMs?: number };

export class OvhHttpClient {
  private readonly baseUrl: string;
  private readonly credentials: OvhCredentials | (() => Promise<OvhCredentials>);
  private readonly timeoutMs: number;
  private readonly limiter: Limiter;
  private readonly retry: RetryOptions;
  private readonly fetchImpl: typeof fetch;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly onRetry: ((retry: RetryNotice) => void) | undefined;
  private readonly adaptive: AdaptiveConcurrency | undefined;
  /**
   * Shared with every `bounded` view of this client (an object, not a field: a view is created
   * with Object.create, and a field set on it would stay the view's): OVH's time is asked once.
   */
  private readonly timeSync: { offset?: Promise<number> } = {};
  /** A service account's access tokens, shared by every view of this client. */
  readonly tokens: OAuth2TokenSource | undefined;
  /** Epoch ms by which every call of this view ends (see bounded). */
  private deadline: number | undefined;

  constructor(options: OvhHttpClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.credentials = options.credentials;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    // Past a timer's range Node waits 1 ms instead; below 1, AbortSignal.timeout throws on each call.
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs < 1 || this.timeoutMs > MAX_TIMEOUT_MS)
      throw new ConfigError(
        `the OVH client's timeout per call must be a whole number of ms from 1 to ${MAX_TIMEOUT_MS}, got ${this.timeoutMs}`,
      );
    this.limiter =
      typeof options.concurrency === 'object' ? options.concurrency : createLimiter(options.concurrency ?? 8);
    this.adaptive =
      options.adaptive && typeof options.concurrency !== 'object'
        ? makeAdaptiveConcurrency(this.limiter, {
            initial: options.adaptive.initial,
            max: this.limiter.limit,
          })
        : undefined;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.fetchImpl = options.fetch ?? fetch;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.onRetry = options.onRetry;
    this.tokens = options.oauth2TokenUrl
      ? new OAuth2TokenSource({ tokenUrl: options.oauth2TokenUrl, fetch: this.fetchImpl, clock: this.clock })
      : undefined;
  }

  /**
   * A view of this client whose every call ends by `deadline` (epoch ms): each attempt's timeout
   * is cut to the time left, no retry waits past it, and a call that would start after it fails
   * at once (retryable). It shares the concurrency limit and the clock offset with this client.
   * The worker bounds a batch's calls by its invocation's end, so no call outlives the invocation.
   */
  bounded(deadline: number): OvhHttpClient {
    const view = Object.create(this) as OvhHttpClient;
    view.deadline = Math.min(deadline, this.deadline ?? Number.POSITIVE_INFINITY);
    return view;
  }

  /** Milliseconds left before the deadline (undefined without one). */
  private timeLeft(): number | undefined {
    return this.deadline === undefined ? undefined : this.deadline - this.clock.now().getTime();
  }

  private deadlineError(method: string, path: string, sent: boolean): OvhApiError {
    return new OvhApiError(
      'timeout',
      `the invocation's time ran out before ${method} ${path} ${sent ? 'was answered' : 'could be sent'}`,
      { method, path, retryable: true },
    );
  }

  /** The limit of calls in flight now, the most reached, and how often it was halved (adaptive concurrency). */
  concurrency(): { current: number; peak: number; decreases: number } {
    return this.adaptive
      ? { current: this.adaptive.current, peak: this.adaptive.peak, decreases: this.adaptive.decreases }
      : { current: this.limiter.limit, peak: this.limiter.limit, decreases: 0 };
  }

  get<T>(path: string, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  /** A GET with extra headers, answering the body and the answer's headers. */
  async getWithHeaders<T>(
    path: string,
    headers: Record<string, string>,
  ): Promise<{ value: T; headers: Headers }> {
    let answered: Headers = new Headers();
    const value = await this.request<T>('GET', path, {
      headers,
      onHeaders: (h) => {
        answered = h;
      },
    });
    return { value, headers: answered };
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, { body });
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, { body });
  }

  /** Seconds to add to the local clock to get OVH's, fetched once from /auth/time. */
  serverTimeOffset(): Promise<number> {
    const sync = this.timeSync;
    if (!sync.offset) {
      const localBefore = this.clock.now().getTime();
      sync.offset = this.request<unknown>('GET', '/auth/time', { unauthenticated: true }).then(
        (serverTime) => {
          if (typeof serverTime !== 'number' || !Number.isFinite(serverTime)) {
            throw new OvhApiError('bad-response', 'expected a number of seconds', {
              method: 'GET',
              path: '/auth/time',
              retryable: true,
            });
          }
          const localMid = (localBefore + this.clock.now().getTime()) / 2000;
          return Math.round(serverTime - localMid);
        },
        (error: unknown) => {
          sync.offset = undefined; // let the next call try again
          throw error;
        },
      );
    }
    return sync.offset;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) search.set(key, String(value));
    }
    const url = `${this.baseUrl}${path}${search.size > 0 ? `?${search}` : ''}`;
    const body = options.body === undefined ? '' : JSON.stringify(options.body);
    const safeToRepeat = method !== 'POST';

    // Throttling (429) is OVH asking to slow down, not failing: it is waited out (its Retry-After,
    // or backoff) for up to maxThrottledMs in all, apart from the attempts other failures count.
    let throttledMs = 0;
    let throttled = 0;
    // A service account's token refused with a 401 is dropped and fetched again, once per call.
    let renewed = false;
    for (let attempt = 1; ; attempt++) {
      const before = this.timeLeft();
      if (before !== undefined && before <= 0) throw this.deadlineError(method, path, false);
      const credentials = options.unauthenticated
        ? undefined
        : checkCredentials(
            typeof this.credentials === 'function' ? await this.credentials() : this.credentials,
          );
      const prepared: { ok: true; auth?: Authorization } | { ok: false; error: OvhApiError } = credentials
        ? await this.authorization(credentials)
        : { ok: true };
      // A zone's apply path (its pending changes, the refresh, its task) waits ahead of bulk farm
      // reads and writes: those calls are few, and each zone waits on them one after another.
      const urgent = /\/(pendingChanges|refresh|task)(\/|$)/.test(path);
      const result: Attempt<T> = !prepared.ok
        ? { ok: false, error: prepared.error }
        : await this.limiter.run(
            async () => {
              // A slot found after the deadline: nothing is sent.
              const left = this.timeLeft();
              if (left !== undefined && left <= 0)
                return { ok: false as const, error: this.deadlineError(method, path, false) };
              const ticket = this.adaptive?.started() ?? 0;
              const sentAt = this.clock.now().getTime();
              // Signed inside the limiter slot, so a long wait in the queue never sends a stale timestamp.
              const outcome = await this.attempt<T>(
                method,
                path,
                url,
                { ...this.headers(method, url, body, prepared.auth), ...options.headers },
                body,
                safeToRepeat,
              );
              this.adaptive?.finished(ticket, outcomeOf(outcome, this.clock.now().getTime() - sentAt));
              return outcome;
            },
            { urgent },
          );
      const bearer =
        prepared.ok && prepared.auth && 'bearer' in prepared.auth ? prepared.auth.bearer : undefined;
      if (!result.ok && bearer !== undefined && result.error.status === 401) {
        // A 401 proves the call was not carried out: repeating it (even a POST) is safe.
        if (!renewed) {
          renewed = true;
          this.tokens?.invalidate(bearer);
          attempt--;
          continue;
        }
        result.error.message +=
          ' (a new access token was refused too: check that the service account still exists and that its IAM policy grants this call)';
      }
      if (result.ok) {
        options.onHeaders?.(result.headers);
        return result.value;
      }
      const { error } = result;
      const isThrottle = error.status === 429;
      const delayMs = Math.max(
        result.retryAfterMs ?? 0,
        fullJitterDelay(
          isThrottle ? Math.min(throttled + 1, attempt) : attempt - throttled,
          this.retry,
          this.random,
        ),
      );
      const giveUp =
        !error.retryable ||
        (isThrottle
          ? throttled >= this.retry.maxThrottledAttempts || throttledMs + delayMs > this.retry.maxThrottledMs
          : attempt - throttled >= this.retry.maxAttempts) ||
        (result.retryAfterMs !== undefined && result.retryAfterMs > this.retry.maxRetryAfterMs) ||
        // No retry waits past the deadline.
        (this.deadline !== undefined && this.clock.now().getTime() + delayMs >= this.deadline);
      if (giveUp) {
        // Say that it was tried more than once: "no answer within 15000 ms" after a minute is a puzzle.
        if (attempt > 1) error.message += ` (gave up after ${attempt} attempts)`;
        throw error;
      }
      if (isThrottle) {
        throttled++;
        throttledMs += delayMs;
      }
      this.onRetry?.({
        method,
        path,
        attempt,
        maxAttempts: this.retry.maxAttempts,
        code: error.code,
        reason: error.message,
        delayMs,
      });
      await this.clock.sleep(delayMs);
    }
  }

  /**
   * How a call proves who it is: a service account's bearer token (fetched or held), or the
   * application key's signature with the clock offset. A token that cannot be had is the call's
   * failure, retried as one (a timeout, a 5xx) or not (refused credentials).
   */
  private async authorization(
    credentials: OvhCredentials,
  ): Promise<{ ok: true; auth: Authorization } | { ok: false; error: OvhApiError }> {
    if (!isServiceAccount(credentials))
      return { ok: true, auth: { credentials, offset: await this.serverTimeOffset() } };
    if (!this.tokens)
      throw new ConfigError(
        `OVH service account credentials cannot be used with ${this.baseUrl}: it has no OAuth2 token URL (kimsufi and soyoustart endpoints offer no service accounts); use an application key and a consumer key`,
      );
    const left = this.timeLeft();
    const timeoutMs = Math.max(1, Math.min(this.timeoutMs, left ?? this.timeoutMs));
    try {
      return { ok: true, auth: { bearer: await this.tokens.token(credentials, timeoutMs) } };
    } catch (error) {
      // Its own copy: the calls that waited on the same fetch share the error it ended with.
      if (error instanceof OvhApiError) return { ok: false, error: error.copy() };
      throw error;
    }
  }

  private headers(
    method: string,
    url: string,
    body: string,
    auth: Authorization | undefined,
  ): Record<string, string> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body) headers['Content-Type'] = 'application/json';
    if (!auth) return headers;
    if ('bearer' in auth) {
      headers.Authorization = `Bearer ${auth.bearer}`;
      return headers;
    }
    const { credentials, offset } = auth;
    const timestamp = Math.floor(this.clock.now().getTime() / 1000) + offset;
    headers['X-Ovh-Application'] = credentials.applicationKey;
    headers['X-Ovh-Consumer'] = credentials.consumerKey;
    headers['X-Ovh-Timestamp'] = String(timestamp);
    headers['X-Ovh-Signature'] = signRequest({
      applicationSecret: credentials.applicationSecret,
      consumerKey: credentials.consumerKey,
      method,
      url,
      body,
      timestamp,
    });
    return headers;
  }

  private async attempt<T>(
    method: string,
    path: string,
    url: string,
    headers: Record<string, string>,
    body: string,
    safeToRepeat: boolean,
  ): Promise<Attempt<T>> {
    let response: Response;
    let text: string | undefined;
    const left = this.timeLeft();
    const cutByDeadline = left !== undefined && left < this.timeoutMs;
    const timeoutMs = Math.max(1, Math.min(this.timeoutMs, left ?? this.timeoutMs));
    try {
      response = await this.fetchImpl(url, {
        method,
        headers,
        body: body || undefined,
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await readBounded(response, MAX_RESPONSE_BYTES);
    } catch (cause) {
      // Duck-typed: the DOMException fetch throws may come from another realm.
      const name = (cause as { name?: unknown } | null)?.name;
      const timedOut = name === 'TimeoutError' || name === 'AbortError';
      const neverSent = networkCode(cause) === 'ECONNREFUSED';
      // fetch refused to build the request (a header value it will not send): its message quotes
      // the value, which may be a credential, so it is not repeated. Nothing was sent; a retry
      // would build the same request.
      const inner = (cause as { cause?: unknown } | null)?.cause;
      if (!timedOut && name === 'TypeError' && inner === undefined)
        return {
          ok: false,
          error: new OvhApiError(
            'bad-request',
            'the request could not be built (fetch refused a header or the URL; not sent)',
            { method, path, retryable: false },
          ),
        };
      const message = timedOut
        ? cutByDeadline
          ? `no answer within ${timeoutMs} ms, when the invocation's time ran out`
          : `no answer within ${timeoutMs} ms`
        : `network error: ${networkCode(cause) ?? plainText(String((cause as { message?: unknown } | null)?.message ?? cause), MAX_SERVER_TEXT)}`;
      return {
        ok: false,
        error: new OvhApiError(
          timedOut ? 'timeout' : 'network',
          message,
          { method, path, retryable: safeToRepeat || neverSent },
          { cause },
        ),
      };
    }
    const queryId = response.headers.get('x-ovh-queryid') ?? undefined;
    if (response.ok) {
      if (text === undefined) {
        // Not retried: the same call would stream the same flood again.
        return {
          ok: false,
          error: new OvhApiError(
            'too-large',
            `the answer is larger than ${MAX_RESPONSE_BYTES / 1024 / 1024} MiB, far more than any OVH answer: not read`,
            { method, path, status: response.status, queryId, retryable: false, outcomeUnknown: true },
          ),
        };
      }
      if (text.trim() === '') return { ok: true, value: undefined as T, headers: response.headers };
      try {
        return { ok: true, value: JSON.parse(text) as T, headers: response.headers };
      } catch (cause) {
        return {
          ok: false,
          // A success status: the call was carried out, but what it answered cannot be read (a
          // cut answer, a proxy's HTML page). Whoever wrote must find out, not assume a failure.
          error: new OvhApiError(
            'bad-response',
            `the answer to a success status is not JSON (${describeBody(text, response.headers.get('content-type'))}): the call was carried out, but what it answered cannot be read`,
            { method, path, status: response.status, queryId, retryable: false, outcomeUnknown: true },
            { cause },
          ),
        };
      }
    }
    const parsed =
      text === undefined
        ? { message: `an error answer larger than ${MAX_RESPONSE_BYTES / 1024 / 1024} MiB, not read` }
        : parseErrorBody(text);
    const retryable = (safeToRepeat ? RETRYABLE_STATUS : RETRYABLE_STATUS_UNSAFE).has(response.status);
    return {
      ok: false,
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), this.clock.now()),
      error: new OvhApiError(response.status >= 500 ? 'server-error' : 'request-refused', parsed.message, {
        method,
        path,
        status: response.status,
        errorCode: parsed.errorCode,
        errorClass: parsed.errorClass,
        queryId,
        retryable,
      }),
    };
  }
}

/** What an unreadable answer looks like, in a few words (never its text, which may be anything). */
const describeBody = (text: string, contentType: string | null): string => {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const kind = /^\s*<(!doctype|html)/i.test(text)
    ? 'an HTML page'
    : /^\s*[[{"]/.test(text)
      ? 'cut or broken JSON'
      : 'not JSON';
  return `${kind}, ${text.length} characters${type && /^[\w.+-]+\/[\w.+-]+$/.test(type) ? `, ${type}` : ''}`;
};

const networkCode = (cause: unknown): string | undefined => {
  const inner = (cause as { cause?: { code?: unknown } } | null)?.cause;
  return typeof inner?.code === 'string' ? inner.code : undefined;
};

/** How much of a server's error text is kept: its first characters, never a whole page. */
export const MAX_SERVER_TEXT = 200;

/**
 * An error answer's message, errorCode and class as stickler shows them: bounded (the first 200
 * characters of the message, 64 of a code) and plain (control and bidirectional characters
 * replaced), since they come from whatever answered and reach terminals, logs and audit events.
 */
const parseErrorBody = (text: string): { message: string; errorCode?: string; errorClass?: string } => {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { message: plainText(text, MAX_SERVER_TEXT) || 'request failed' };
  }
  const field = (name: string, max: number) => {
    const value =
      body !== null && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
    return typeof value === 'string' ? plainText(value, max) || undefined : undefined;
  };
  return {
    message: field('message', MAX_SERVER_TEXT) ?? 'request failed',
    errorCode: field('errorCode', 64),
    errorClass: field('class', 64),
  };
};

/** Retry-After as delta-seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export const parseRetryAfter = (value: string | null, now: Date): number | undefined => {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now.getTime());
};
