/**
 * A local HTTP server that behaves like the OVH IP Load Balancer API for every call stickler
 * makes: signed requests checked the way OVH checks them, strict PUT bodies, stored vs applied
 * configuration, refresh tasks that take time, and seeded fault injection.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { STICKLER_ACCESS_RULES } from '../domain/access-rules';
import { ConfigError } from '../domain/errors';
import { compileGlob } from '../domain/glob';
import { FARM_TYPES, type FarmType } from '../domain/stickiness';
import { TASK_STATUSES } from '../ports/load-balancer-api';
import type { Fleet } from './fleet';
import { ovhSignatureMatches } from './signature-check';
import { farmKeyOf, type SimService, SimulatorState, type TaskTiming, writableFields } from './state';
import { parsePromStep, parsePromTime, parseRateQuery, queryValueAt } from './traffic-curve';

export interface SimulatorCredentials {
  applicationKey: string;
  applicationSecret: string;
  consumerKey: string;
}

/** Credentials the simulator accepts unless told otherwise. They guard nothing real. */
export const SIMULATOR_CREDENTIALS: SimulatorCredentials = {
  applicationKey: 'simulator-application-key',
  applicationSecret: 'simulator-application-secret',
  consumerKey: 'simulator-consumer-key',
};

/** A service account (OAuth2 client credentials) the simulator knows. */
export interface SimulatorServiceAccount {
  clientId: string;
  clientSecret: string;
}

/** The service account the simulator accepts unless told otherwise. It guards nothing real. */
export const SIMULATOR_SERVICE_ACCOUNT: SimulatorServiceAccount = {
  clientId: 'simulator-client-id',
  clientSecret: 'simulator-client-secret',
};

/** Where a service account asks for tokens: the API's origin, outside /1.0 (OVH_OAUTH2_TOKEN_URL's default). */
export const SIMULATOR_TOKEN_PATH = '/auth/oauth2/token';

export interface AccessRule {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: string;
}

/** The least-privilege consumer key the README asks operators to create (the domain's list). */
export const LEAST_PRIVILEGE_RULES: AccessRule[] = STICKLER_ACCESS_RULES.map((r) => ({ ...r }) as AccessRule);

export interface FaultOptions {
  /** Seed for every random choice, so a failing run can be replayed. */
  seed: number;
  latencyMs: number;
  latencyJitterMs: number;
  /** Share of requests answered 500/502/503. */
  serverErrorRate: number;
  /** The statuses those answers are drawn from (500, 502 and 503 when absent). */
  serverErrorStatuses?: readonly number[];
  /**
   * At most this many faults in a row for one call (its method and path), then it is answered:
   * every call then succeeds within a client's retries (none when absent).
   */
  maxFaultsPerCall?: number;
  /** Share of requests that start a burst of 429 answers. */
  throttleRate: number;
  throttleBurst: number;
  retryAfterSeconds: number;
  /** Share of requests never answered (the client must time out). */
  hangRate: number;
  /** Share of requests whose connection is reset without an answer. */
  resetRate: number;
  /** Share of refresh tasks that end in `error`. */
  taskErrorRate: number;
  /**
   * Calls answered 200 with a body that cannot be read, as a proxy on the way may answer: the
   * JSON cut in the middle, or an HTML page. `carriedOut`: the API did the call first (default),
   * or the answer came without it (the proxy never passed it on).
   */
  garbled?: { calls: readonly CallKind[]; body: 'cut-json' | 'html'; carriedOut?: boolean };
}

export const NO_FAULTS: FaultOptions = {
  seed: 1,
  latencyMs: 0,
  latencyJitterMs: 0,
  serverErrorRate: 0,
  throttleRate: 0,
  throttleBurst: 3,
  retryAfterSeconds: 1,
  hangRate: 0,
  resetRate: 0,
  taskErrorRate: 0,
};

/**
 * What the metrics side answers: `on` (each service's curve, but for `traffic: none`), `off`
 * (metricsToken answers 404 for every service), `empty` (queries answer no series), `refused`
 * (the endpoint refuses every token), `hang` (the endpoint never answers).
 */
export const METRICS_MODES = ['on', 'off', 'empty', 'refused', 'hang'] as const;
export type MetricsMode = (typeof METRICS_MODES)[number];

/** The path of the simulator's Prometheus-compatible endpoint (metricsToken's `endpoint` ends with it). */
export const METRICS_PATH = '/metrics';
const METRICS_TOKEN_PREFIX = 'simulator-metrics-token-';
/** The token the simulator gives a service; like the credentials, it guards nothing real. */
export const simulatorMetricsToken = (service: string) => `${METRICS_TOKEN_PREFIX}${service}`;
/** Prometheus refuses a range query of more points than this per series. */
const MAX_POINTS = 11_000;

export interface SimulatorOptions {
  fleet: Fleet;
  /** The metrics side (default `on`); change `metrics.mode` at run time to take it away mid-test. */
  metrics?: MetricsMode;
  host?: string;
  port?: number;
  credentials?: SimulatorCredentials;
  /**
   * Service accounts that may get tokens at POST /auth/oauth2/token (default: the simulator's
   * own). Their calls are held to the same access rules as the application key's (an IAM policy
   * granting exactly stickler's actions allows the same calls).
   */
  serviceAccounts?: SimulatorServiceAccount[];
  /** Lifetime of the access tokens issued, in seconds (default 3600, OVH's). */
  tokenLifetimeSeconds?: number;
  accessRules?: AccessRule[];
  /** OVH's clock minus the local one, in seconds: clients must correct with /auth/time. */
  clockSkewSeconds?: number;
  /** How far a request timestamp may be from server time. */
  timestampToleranceSeconds?: number;
  task?: Partial<TaskTiming>;
  faults?: Partial<FaultOptions>;
  now?: () => number;
  /**
   * Answer farm lists with objects, a page per call, when asked with `X-Pagination-Mode:
   * CachedObjectList-Pages` (what OVH's control panel does; undocumented). Off: ids, as the
   * published schema says, whatever the headers.
   */
  aggregatedListing?: boolean;
}

export type CallKind =
  | 'auth-time'
  | 'oauth2-token'
  | 'current-credential'
  | 'list-services'
  | 'get-service'
  | 'list-zones'
  | 'defined-farms'
  | 'list-farms'
  | 'list-farm-objects'
  | 'get-farm'
  | 'put-farm'
  | 'pending-changes'
  | 'refresh'
  | 'list-tasks'
  | 'get-task'
  | 'metrics-token'
  | 'metrics-query'
  | 'other';

export interface SimulatorStats {
  /** Requests answered by the API logic (after faults), by kind. */
  calls: Record<CallKind, number>;
  faults: { serverErrors: number; throttled: number; hangs: number; resets: number };
  rejected: { auth: number; validation: number };
}

export interface RunningSimulator {
  /** Base URL to give OVH_ENDPOINT, e.g. http://127.0.0.1:43210/1.0 */
  baseUrl: string;
  port: number;
  state: SimulatorState;
  stats: SimulatorStats;
  /** The fault settings in force; change them at run time to inject faults mid-test. */
  faults: FaultOptions;
  /** What the metrics side answers now (see MetricsMode); may be changed at run time. */
  metrics: { mode: MetricsMode };
  resetStats(): void;
  /** Access tokens: their lifetime for the next ones issued (seconds), and expiring all issued so far. */
  tokens: { lifetimeSeconds: number; expireAll(): void; readonly issued: number };
  /** Every load balancer back to the fleet it started with (tests that share one simulator). */
  resetState(): void;
  close(): Promise<void>;
}

/** The kind of a call, from its method and path alone (for faults that answer without the API). */
export const callKindOf = (method: string, path: string): CallKind => {
  const rest = path.split('/').filter(Boolean).slice(2);
  if (path === '/auth/time') return 'auth-time';
  if (path === SIMULATOR_TOKEN_PATH) return 'oauth2-token';
  if (path === '/auth/currentCredential') return 'current-credential';
  if (!path.startsWith('/ipLoadbalancing')) return 'other';
  if (rest.length === 0) return path === '/ipLoadbalancing' ? 'list-services' : 'get-service';
  if (method === 'POST' && rest[0] === 'refresh') return 'refresh';
  if (rest[0] === 'pendingChanges') return 'pending-changes';
  if (rest[0] === 'metricsToken') return 'metrics-token';
  if (rest[0] === 'zone') return 'list-zones';
  if (rest[0] === 'definedFarms') return 'defined-farms';
  if (rest[0] === 'task') return rest.length === 1 ? 'list-tasks' : 'get-task';
  if (rest[1] === 'farm')
    return rest.length === 2 ? 'list-farms' : method === 'PUT' ? 'put-farm' : 'get-farm';
  return 'other';
};

/** mulberry32: tiny, fast, good enough for fault injection, and reproducible from a seed. */
export const seededRandom = (seed: number): (() => number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

const emptyStats = (): SimulatorStats => ({
  calls: {
    'auth-time': 0,
    'oauth2-token': 0,
    'current-credential': 0,
    'list-services': 0,
    'get-service': 0,
    'list-zones': 0,
    'defined-farms': 0,
    'list-farms': 0,
    'list-farm-objects': 0,
    'get-farm': 0,
    'put-farm': 0,
    'pending-changes': 0,
    refresh: 0,
    'list-tasks': 0,
    'get-task': 0,
    'metrics-token': 0,
    'metrics-query': 0,
    other: 0,
  },
  faults: { serverErrors: 0, throttled: 0, hangs: 0, resets: 0 },
  rejected: { auth: 0, validation: 0 },
});

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message));
  }
}

const authError = (status: number, errorCode: string, message: string) =>
  new HttpError(status, {
    errorCode,
    httpCode: `${status} ${status === 400 ? 'Bad Request' : status === 401 ? 'Unauthorized' : 'Forbidden'}`,
    message,
  });
const clientError = (status: number, cls: string, message: string) =>
  new HttpError(status, { class: cls, message });
const notFound = (message: string) => clientError(404, 'Client::NotFound', message);
const badRequest = (message: string) => clientError(400, 'Client::BadRequest', message);

const ENUMS = {
  httpStickiness: ['cookie', 'sourceIp'],
  tcpStickiness: ['sourceIp'],
  httpBalance: ['first', 'leastconn', 'roundrobin', 'source', 'uri'],
  tcpBalance: ['first', 'leastconn', 'roundrobin', 'source'],
} as const;

/** Validates a farm PUT body the way the OVH schema describes BackendHttp/Tcp/Udp. */
export const validateFarmBody = (type: FarmType, body: unknown): Record<string, unknown> => {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('Invalid body: expected an object');
  }
  const allowed = writableFields(type);
  for (const [key, value] of Object.entries(body)) {
    if (key === 'farmId' || key === 'zone') throw badRequest(`Invalid property ${key}: it is read-only`);
    if (!allowed.includes(key)) throw badRequest(`Invalid property ${key}: not a property of this farm`);
    const fail = (expected: string) =>
      badRequest(`Invalid value for property ${key}: ${JSON.stringify(value)} (expected ${expected})`);
    switch (key) {
      case 'stickiness': {
        const values: readonly string[] = type === 'http' ? ENUMS.httpStickiness : ENUMS.tcpStickiness;
        if (value !== null && !values.includes(value as string))
          throw fail(`null or one of ${values.join(', ')}`);
        break;
      }
      case 'balance': {
        const values: readonly string[] = type === 'http' ? ENUMS.httpBalance : ENUMS.tcpBalance;
        if (value !== null && !values.includes(value as string))
          throw fail(`null or one of ${values.join(', ')}`);
        break;
      }
      case 'port':
        if (!(Number.isInteger(value) || (value === null && type !== 'udp'))) throw fail('an integer');
        break;
      case 'vrackNetworkId':
        if (!(value === null || Number.isInteger(value))) throw fail('null or an integer');
        break;
      case 'displayName':
        if (!(value === null || typeof value === 'string')) throw fail('null or a string');
        break;
      case 'probe':
        if (!(value === null || (typeof value === 'object' && !Array.isArray(value))))
          throw fail('null or an object');
        break;
    }
  }
  return body as Record<string, unknown>;
};

export const startSimulator = async (options: SimulatorOptions): Promise<RunningSimulator> => {
  const credentials = options.credentials ?? SIMULATOR_CREDENTIALS;
  const rules = (options.accessRules ?? LEAST_PRIVILEGE_RULES).map((r) => ({
    method: r.method,
    path: compileGlob(r.path),
  }));
  const now = options.now ?? Date.now;
  const faults: FaultOptions = { ...NO_FAULTS, ...options.faults };
  const metrics = { mode: options.metrics ?? ('on' as MetricsMode) };
  const random = seededRandom(faults.seed);
  const taskRandom = seededRandom(faults.seed ^ 0x5bd1e995);
  const tolerance = options.timestampToleranceSeconds ?? 180;
  const skew = options.clockSkewSeconds ?? 0;
  const state = new SimulatorState(
    options.fleet,
    { todoMs: options.task?.todoMs ?? 300, doingMs: options.task?.doingMs ?? 1200 },
    () => taskRandom() < faults.taskErrorRate,
  );
  let stats = emptyStats();
  let queryCounter = 0;
  let throttleLeft = 0;
  const serverSeconds = () => Math.floor(now() / 1000) + skew;
  const startedAt = now();
  const serviceAccounts = options.serviceAccounts ?? [SIMULATOR_SERVICE_ACCOUNT];
  /** Access tokens issued: who holds each, and until when (epoch ms). */
  const issued = new Map<string, { clientId: string; until: number }>();
  const tokens = { lifetimeSeconds: options.tokenLifetimeSeconds ?? 3600, issuedCount: 0 };

  const sameText = (a: string, b: string) => {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && timingSafeEqual(x, y);
  };

  /**
   * POST /auth/oauth2/token, client credentials: the client id and secret in HTTP Basic (as OVH's
   * clients send them) or in the form body (RFC 6749 allows both). OAuth2's error bodies.
   */
  const issueToken = (req: IncomingMessage, body: string): [number, unknown] => {
    const form = new URLSearchParams(body);
    let clientId = form.get('client_id') ?? undefined;
    let clientSecret = form.get('client_secret') ?? undefined;
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const decode = (v: string) => new URLSearchParams(`v=${v}`).get('v') ?? '';
      if (colon > 0) {
        clientId = decode(decoded.slice(0, colon));
        clientSecret = decode(decoded.slice(colon + 1));
      }
    }
    if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? ''))
      return [400, { error: 'invalid_request', error_description: 'expected a form body' }];
    if (form.get('grant_type') !== 'client_credentials')
      return [
        400,
        { error: 'unsupported_grant_type', error_description: 'only client_credentials is supported' },
      ];
    const account = serviceAccounts.find(
      (a) =>
        clientId !== undefined &&
        clientSecret !== undefined &&
        sameText(a.clientId, clientId) &&
        sameText(a.clientSecret, clientSecret),
    );
    if (!account)
      return [401, { error: 'invalid_client', error_description: 'ovhcloud oauth2 client does not exists' }];
    const token = `sim-${randomBytes(24).toString('hex')}`;
    issued.set(token, { clientId: account.clientId, until: now() + tokens.lifetimeSeconds * 1000 });
    tokens.issuedCount++;
    return [
      200,
      { access_token: token, token_type: 'Bearer', expires_in: tokens.lifetimeSeconds, scope: 'all' },
    ];
  };

  const authenticate = (req: IncomingMessage, method: string, path: string, body: string) => {
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const bearer = /^Bearer\s+(\S+)$/i.exec(header('authorization') ?? '');
    if (bearer) {
      const held = issued.get(bearer[1]!);
      // OVH documents no error body for a bearer token; its auth errors' shape (NOTES.md), status 401.
      if (!held || held.until <= now()) {
        if (held) issued.delete(bearer[1]!);
        throw authError(401, 'INVALID_CREDENTIAL', 'This credential is not valid');
      }
      if (path !== '/auth/currentCredential' && !rules.some((r) => r.method === method && r.path.test(path)))
        throw authError(403, 'NOT_GRANTED_CALL', 'This call has not been granted');
      return;
    }
    const ak = header('x-ovh-application');
    if (!ak || ak !== credentials.applicationKey) {
      throw authError(403, 'INVALID_KEY', 'This application key is invalid');
    }
    const ck = header('x-ovh-consumer');
    if (!ck) throw authError(403, 'NOT_CREDENTIAL', 'This call has not been granted');
    if (ck !== credentials.consumerKey)
      throw authError(403, 'INVALID_CREDENTIAL', 'This credential does not exist');
    const ts = Number(header('x-ovh-timestamp'));
    if (!Number.isInteger(ts) || Math.abs(ts - serverSeconds()) > tolerance) {
      throw authError(400, 'QUERY_TIME_OUT', 'Query out of time');
    }
    const signed = ovhSignatureMatches(
      {
        method,
        host: req.headers.host ?? '',
        target: req.url ?? '',
        body,
        timestamp: header('x-ovh-timestamp') ?? '',
        signature: header('x-ovh-signature') ?? '',
      },
      credentials,
    );
    if (!signed) throw authError(400, 'INVALID_SIGNATURE', 'Invalid signature');
    if (path !== '/auth/currentCredential' && !rules.some((r) => r.method === method && r.path.test(path))) {
      throw authError(403, 'NOT_GRANTED_CALL', 'This call has not been granted');
    }
  };

  const serviceOf = (name: string): SimService => {
    const service = state.services.get(name);
    if (!service) throw notFound(`The requested object (serviceName = ${name}) does not exist`);
    return service;
  };

  const parseJson = (body: string): unknown => {
    if (body === '') return undefined;
    try {
      return JSON.parse(body);
    } catch {
      throw badRequest('Invalid JSON received');
    }
  };

  /** The API proper: returns [kind, status, body, extra answer headers]. */
  const route = (
    method: string,
    path: string,
    query: URLSearchParams,
    body: string,
    headers: IncomingMessage['headers'] = {},
  ): [CallKind, number, unknown, Record<string, string>?] => {
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] !== 'ipLoadbalancing') throw notFound(`Got an invalid (or empty) URL`);
    state.advance(now());
    if (parts.length === 1 && method === 'GET') return ['list-services', 200, [...state.services.keys()]];
    const service = serviceOf(parts[1]!);
    const rest = parts.slice(2);
    if (service.state === 'expired' && rest.length > 0) {
      throw new HttpError(460, {
        class: 'Client::ExpiredService',
        message: `The service ${service.name} is expired`,
      });
    }
    const is = (m: string, ...segments: (string | null)[]) =>
      method === m &&
      rest.length === segments.length &&
      segments.every((s, i) => s === null || s === rest[i]);

    if (is('GET')) {
      return [
        'get-service',
        200,
        {
          serviceName: service.name,
          displayName: service.displayName,
          ipLoadbalancing: '198.51.100.10',
          ipv4: '198.51.100.10',
          ipv6: null,
          offer: 'iplb-lb1',
          state: service.state === 'expired' ? 'suspended' : 'ok',
          zone: service.zones,
          sslConfiguration: 'intermediate',
          metricsToken: null,
          orderableZone: [],
          vrackEligibility: false,
          vrackName: null,
        },
      ];
    }
    if (is('GET', 'zone')) return ['list-zones', 200, service.zones];
    if (is('GET', 'definedFarms')) {
      return ['defined-farms', 200, [...service.farms.values()].map((f) => ({ id: f.farmId, type: f.type }))];
    }
    if (is('GET', 'pendingChanges')) return ['pending-changes', 200, state.pendingChanges(service)];
    if (is('GET', 'metricsToken')) {
      if (metrics.mode === 'off' || service.traffic === 'none')
        throw notFound(`No metrics token for this service (serviceName = ${service.name})`);
      return [
        'metrics-token',
        200,
        {
          endpoint: `http://${headers.host ?? '127.0.0.1'}${METRICS_PATH}`,
          token: simulatorMetricsToken(service.name),
        },
      ];
    }
    if (is('POST', 'refresh')) {
      const payload = parseJson(body) as { zone?: unknown } | undefined;
      const zone = payload?.zone;
      if (
        zone !== undefined &&
        (typeof zone !== 'string' || (zone !== 'all' && !service.zones.includes(zone)))
      ) {
        throw badRequest(`Invalid zone ${JSON.stringify(zone)}: not a zone of this load balancer`);
      }
      const task = state.createRefresh(service, zone as string | undefined, now());
      return ['refresh', 200, state.taskView(task, now())];
    }
    if (is('GET', 'task')) {
      const action = query.get('action');
      const status = query.get('status');
      if (status && !(TASK_STATUSES as readonly string[]).includes(status)) {
        throw badRequest(`Invalid value for parameter status: ${status}`);
      }
      const ids = service.tasks
        .filter((t) => (!action || t.action === action) && (!status || t.status === status))
        .map((t) => t.id);
      return ['list-tasks', 200, ids];
    }
    if (is('GET', 'task', null)) {
      const task = service.tasks.find((t) => String(t.id) === rest[1]);
      if (!task) throw notFound(`The requested object (id = ${rest[1]}) does not exist`);
      return ['get-task', 200, state.taskView(task, now())];
    }
    const type = rest[0] as FarmType;
    if ((FARM_TYPES as readonly string[]).includes(type) && rest[1] === 'farm') {
      if (is('GET', type, 'farm')) {
        const zone = query.get('zone');
        const farms = [...service.farms.values()].filter(
          (f) => f.type === type && (!zone || f.zone === zone),
        );
        // OVH's control panel lists objects, a page per call, with this header (not in the
        // published schema): answered only when the simulator is told to, as OVH may not.
        if (options.aggregatedListing && headers['x-pagination-mode'] === 'CachedObjectList-Pages') {
          const size = Math.max(1, Math.min(50_000, Number(headers['x-pagination-size']) || 5_000));
          const page = Math.max(1, Number(headers['x-pagination-number']) || 1);
          const objects = farms.slice((page - 1) * size, page * size).map((f) => state.farmView(f));
          return [
            'list-farm-objects',
            200,
            objects,
            {
              'X-Pagination-Elements': String(farms.length),
              'X-Pagination-Size': String(size),
              'X-Pagination-Number': String(page),
            },
          ];
        }
        return ['list-farms', 200, farms.map((f) => f.farmId)];
      }
      if (rest.length === 3 && (method === 'GET' || method === 'PUT')) {
        const farm = service.farms.get(farmKeyOf(type, rest[2]!));
        if (!farm) throw notFound(`The requested object (farmId = ${rest[2]}) does not exist`);
        if (method === 'GET') return ['get-farm', 200, state.farmView(farm)];
        const patch = validateFarmBody(type, parseJson(body));
        state.updateFarm(service, farm, patch);
        return ['put-farm', 200, null];
      }
    }
    throw notFound(`Got an invalid (or empty) URL`);
  };

  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks).toString('utf8'));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.destroyed) return;
    const text = body === null || body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'X-Ovh-QueryID': `EU.sim.${(++queryCounter).toString(16).padStart(8, '0')}`,
      ...headers,
    });
    res.end(text);
  };

  /** A 200 whose body cannot be read: `payload`'s JSON cut in half, or a proxy's HTML page. */
  const sendGarbled = (res: ServerResponse, as: 'cut-json' | 'html', payload: unknown) => {
    if (res.destroyed) return;
    const json = JSON.stringify(payload ?? { status: 'ok', message: 'The farm was updated' });
    const text =
      as === 'html'
        ? '<!DOCTYPE html>\n<html><head><title>Gateway</title></head><body><h1>Request forwarded</h1></body></html>\n'
        : json.slice(0, Math.max(1, Math.floor(json.length / 2)));
    res.writeHead(200, {
      'Content-Type': as === 'html' ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8',
      'X-Ovh-QueryID': `EU.sim.${(++queryCounter).toString(16).padStart(8, '0')}`,
    });
    res.end(text);
  };

  /** Prometheus' error shape: `{status: "error", errorType, error}`. */
  const promError = (res: ServerResponse, status: number, errorType: string, error: string) =>
    send(res, status, { status: 'error', errorType, error });

  /** The Prometheus HTTP API's instant and range queries, over each service's curve. */
  const handleMetrics = (req: IncomingMessage, res: ServerResponse, url: URL) => {
    stats.calls['metrics-query']++;
    if (metrics.mode === 'hang') return; // never answered; the socket is destroyed on close()
    const kind = url.pathname.slice(`${METRICS_PATH}/prometheus/api/v1/`.length);
    const bearer = /^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const service = bearer.startsWith(METRICS_TOKEN_PREFIX)
      ? state.services.get(bearer.slice(METRICS_TOKEN_PREFIX.length))
      : undefined;
    if (!service || service.traffic === 'none' || metrics.mode === 'refused' || metrics.mode === 'off')
      return promError(res, 401, 'unauthorized', 'invalid or missing token');
    if (kind !== 'query' && kind !== 'query_range') return promError(res, 404, 'not_found', 'not found');
    const params = url.searchParams;
    const query = parseRateQuery(params.get('query') ?? '');
    if (!query)
      return promError(
        res,
        400,
        'bad_data',
        'the simulator answers sum(rate(haproxy_process_requests_total{servicename="…"}[W])) and the same of connections only',
      );
    // A token sees its own service only, as a tenant sees its own series.
    const traffic = query.service === service.name && metrics.mode === 'on' ? service.traffic : undefined;
    if (kind === 'query') {
      const time = params.has('time') ? parsePromTime(params.get('time')) : now();
      if (time === undefined) return promError(res, 400, 'bad_data', 'invalid parameter "time"');
      return send(res, 200, {
        status: 'success',
        data: {
          resultType: 'vector',
          result: traffic
            ? [{ metric: {}, value: [time / 1000, String(queryValueAt(traffic, query, time))] }]
            : [],
        },
      });
    }
    const start = parsePromTime(params.get('start'));
    const end = parsePromTime(params.get('end'));
    const step = parsePromStep(params.get('step'));
    if (start === undefined) return promError(res, 400, 'bad_data', 'invalid parameter "start"');
    if (end === undefined) return promError(res, 400, 'bad_data', 'invalid parameter "end"');
    if (step === undefined) return promError(res, 400, 'bad_data', 'invalid parameter "step"');
    if (end < start) return promError(res, 400, 'bad_data', 'end timestamp must not be before start time');
    if (step <= 0)
      return promError(
        res,
        400,
        'bad_data',
        'zero or negative query resolution step widths are not accepted. Try a positive integer',
      );
    if (Math.floor((end - start) / step) + 1 > MAX_POINTS)
      return promError(
        res,
        400,
        'bad_data',
        'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)',
      );
    const values: [number, string][] = [];
    if (traffic)
      for (let t = start; t <= end; t += step)
        values.push([t / 1000, String(queryValueAt(traffic, query, t))]);
    return send(res, 200, {
      status: 'success',
      data: { resultType: 'matrix', result: traffic ? [{ metric: {}, values }] : [] },
    });
  };

  /** Calls faulted in a row, per method and path (with `maxFaultsPerCall`). */
  const faulted = new Map<string, number>();
  /** Answers with a random fault (or none: false), drawing as the fault settings say. */
  const injectFault = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (faults.hangRate > 0 && random() < faults.hangRate) {
      stats.faults.hangs++;
      return true; // never answered; the socket is destroyed on close()
    }
    if (faults.resetRate > 0 && random() < faults.resetRate) {
      stats.faults.resets++;
      req.socket.destroy(); // ECONNRESET on the client, nothing answered
      return true;
    }
    if (throttleLeft === 0 && faults.throttleRate > 0 && random() < faults.throttleRate) {
      throttleLeft = faults.throttleBurst;
    }
    if (throttleLeft > 0) {
      throttleLeft--;
      stats.faults.throttled++;
      send(
        res,
        429,
        { class: 'Client::TooManyRequests', message: 'Too many requests' },
        { 'Retry-After': String(faults.retryAfterSeconds) },
      );
      return true;
    }
    if (faults.serverErrorRate > 0 && random() < faults.serverErrorRate) {
      stats.faults.serverErrors++;
      const statuses = faults.serverErrorStatuses ?? [500, 502, 503];
      const status = statuses[Math.floor(random() * statuses.length)]!;
      send(res, status, {
        class: 'Server::InternalServerError::Maintenance',
        message: 'Internal server error',
      });
      return true;
    }
    return false;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, body: string) => {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const method = (req.method ?? 'GET').toUpperCase();
    const latency = faults.latencyMs + random() * faults.latencyJitterMs;
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    if (url.pathname.startsWith(`${METRICS_PATH}/`) && method === 'GET') return handleMetrics(req, res, url);
    const tokenCall = url.pathname === SIMULATOR_TOKEN_PATH;
    if (!tokenCall && !url.pathname.startsWith('/1.0/'))
      return send(res, 404, { class: 'Client::NotFound', message: 'Not found' });
    const path = tokenCall ? url.pathname : url.pathname.slice('/1.0'.length);

    // A call that met its most faults in a row is spared them this time.
    const callKey = `${method} ${url.pathname}`;
    const faultsInARow = faulted.get(callKey) ?? 0;
    const spared = faults.maxFaultsPerCall !== undefined && faultsInARow >= faults.maxFaultsPerCall;
    const answered = spared ? undefined : injectFault(req, res);
    if (answered) {
      if (faults.maxFaultsPerCall !== undefined) faulted.set(callKey, faultsInARow + 1);
      return;
    }
    faulted.delete(callKey);

    if (tokenCall) {
      if (method !== 'POST')
        return send(res, 405, { error: 'invalid_request', error_description: 'POST only' });
      stats.calls['oauth2-token']++;
      const [status, answer] = issueToken(req, body);
      if (status !== 200) stats.rejected.auth++;
      return send(res, status, answer, { 'Cache-Control': 'no-store' });
    }
    if (path === '/auth/time' && method === 'GET') {
      stats.calls['auth-time']++;
      return send(res, 200, serverSeconds());
    }
    try {
      authenticate(req, method, path, body);
    } catch (error) {
      stats.rejected.auth++;
      if (error instanceof HttpError) return send(res, error.status, error.body);
      throw error;
    }
    try {
      const garbled = faults.garbled;
      if (garbled && garbled.carriedOut === false) {
        const kind = callKindOf(method, path);
        if (garbled.calls.includes(kind)) return sendGarbled(res, garbled.body, undefined);
      }
      if (path === '/auth/currentCredential' && method === 'GET') {
        // The consumer key's own description (auth.ApiCredential), its access rules included.
        stats.calls['current-credential']++;
        return send(res, 200, {
          credentialId: 7_000_001,
          applicationId: 150_001,
          creation: new Date(startedAt).toISOString(),
          expiration: null,
          lastUse: new Date(now()).toISOString(),
          ovhSupport: false,
          rules: options.accessRules ?? LEAST_PRIVILEGE_RULES,
          status: 'validated',
          allowedIPs: null,
        });
      }
      const [kind, status, payload, extra] = route(method, path, url.searchParams, body, req.headers);
      stats.calls[kind]++;
      if (garbled && garbled.carriedOut !== false && status < 300 && garbled.calls.includes(kind))
        return sendGarbled(res, garbled.body, payload);
      return send(res, status, payload, extra);
    } catch (error) {
      if (error instanceof HttpError) {
        stats.rejected.validation++;
        return send(res, error.status, error.body);
      }
      return send(res, 500, { class: 'Server::InternalServerError', message: 'Internal server error' });
    }
  };

  await new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new ConfigError(
              `port ${options.port} on ${options.host ?? '127.0.0.1'} is in use: choose another with --port, or 0 for any free port`,
            )
          : new ConfigError(
              `the simulator cannot listen on ${options.host ?? '127.0.0.1'}:${options.port ?? 0}: ${error.code ?? error.message}`,
            ),
      );
    server.once('error', failed);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', failed);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  return {
    baseUrl: `http://${host.includes(':') ? `[${host}]` : host}:${port}/1.0`,
    port,
    state,
    faults,
    metrics,
    get stats() {
      return stats;
    },
    resetStats() {
      stats = emptyStats();
    },
    tokens: {
      get lifetimeSeconds() {
        return tokens.lifetimeSeconds;
      },
      set lifetimeSeconds(value: number) {
        tokens.lifetimeSeconds = value;
      },
      expireAll() {
        issued.clear();
      },
      get issued() {
        return tokens.issuedCount;
      },
    },
    resetState() {
      state.reset();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
};

/**
 * The OVH_* variables that point stickler (or anything OVH-compatible) at a running simulator,
 * with an application key or a service account (whose token URL is the default for a base URL).
 */
export const simulatorEnv = (
  baseUrl: string,
  credentials: SimulatorCredentials | SimulatorServiceAccount = SIMULATOR_CREDENTIALS,
): Record<string, string> =>
  'clientId' in credentials
    ? {
        OVH_ENDPOINT: baseUrl,
        OVH_CLIENT_ID: credentials.clientId,
        OVH_CLIENT_SECRET: credentials.clientSecret,
      }
    : {
        OVH_ENDPOINT: baseUrl,
        OVH_APPLICATION_KEY: credentials.applicationKey,
        OVH_APPLICATION_SECRET: credentials.applicationSecret,
        OVH_CONSUMER_KEY: credentials.consumerKey,
      };
