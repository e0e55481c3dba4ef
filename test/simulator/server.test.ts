import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OvhApiError } from '../../lib/adapters/ovh/errors';
import { OvhLoadBalancerApi } from '../../lib/adapters/ovh/ovh-load-balancer-api';
import { parseFleet } from '../../lib/simulator/fleet';
import { LEAST_PRIVILEGE_RULES, startSimulator, validateFarmBody } from '../../lib/simulator/server';
import { type SimulatorHarness, startHarness } from '../helpers/simulator';

/** The official OVH schema, shipped beside the project; every simulator answer must fit it. */
const swagger = JSON.parse(
  readFileSync(join(__dirname, '../fixtures/ovh-api/ipLoadbalancing.swagger-2023.json'), 'utf8'),
) as {
  models: Record<
    string,
    { properties?: Record<string, { type: string; canBeNull: boolean }>; enum?: string[] }
  >;
};

const primitive: Record<string, (v: unknown) => boolean> = {
  long: Number.isInteger,
  string: (v) => typeof v === 'string',
  boolean: (v) => typeof v === 'boolean',
  datetime: (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)),
  ip: (v) => typeof v === 'string',
  ipv4: (v) => typeof v === 'string',
  ipv6: (v) => typeof v === 'string',
};

/** Checks a value against an OVH model: types, enums, nullability, and no property the model lacks. */
const conforms = (value: unknown, type: string, path = '$'): string[] => {
  if (type.endsWith('[]')) {
    if (!Array.isArray(value)) return [`${path}: expected ${type}`];
    return value.flatMap((v, i) => conforms(v, type.slice(0, -2), `${path}[${i}]`));
  }
  if (primitive[type])
    return primitive[type](value) ? [] : [`${path}: expected ${type}, got ${JSON.stringify(value)}`];
  const model = swagger.models[type];
  if (!model) return [`${path}: unknown model ${type}`];
  if (model.enum)
    return model.enum.includes(value as string) ? [] : [`${path}: ${JSON.stringify(value)} not in ${type}`];
  if (typeof value !== 'object' || value === null) return [`${path}: expected object ${type}`];
  const props = model.properties ?? {};
  const problems = Object.keys(value)
    .filter((k) => !props[k])
    .map((k) => `${path}.${k}: not in ${type}`);
  for (const [name, prop] of Object.entries(props)) {
    const v = (value as Record<string, unknown>)[name];
    if (v === undefined) continue;
    if (v === null) {
      if (!prop.canBeNull) problems.push(`${path}.${name}: null but ${type} says it cannot be`);
      continue;
    }
    problems.push(...conforms(v, prop.type, `${path}.${name}`));
  }
  return problems;
};

describe('simulator responses fit the official OVH schema', () => {
  let h: SimulatorHarness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it.each([
    ['/ipLoadbalancing', 'string[]'],
    ['/ipLoadbalancing/loadbalancer-aaa', 'ipLoadbalancing.Ip'],
    ['/ipLoadbalancing/loadbalancer-aaa/zone', 'string[]'],
    ['/ipLoadbalancing/loadbalancer-aaa/definedFarms', 'ipLoadbalancing.DefinedFarm[]'],
    ['/ipLoadbalancing/loadbalancer-aaa/http/farm', 'long[]'],
    ['/ipLoadbalancing/loadbalancer-aaa/http/farm/1', 'ipLoadbalancing.backendHttp.BackendHttp'],
    ['/ipLoadbalancing/loadbalancer-aaa/tcp/farm/3', 'ipLoadbalancing.backendTcp.BackendTcp'],
    ['/ipLoadbalancing/loadbalancer-aaa/udp/farm/4', 'ipLoadbalancing.backendUdp.BackendUdp'],
    ['/ipLoadbalancing/loadbalancer-aaa/pendingChanges', 'ipLoadbalancing.PendingChanges[]'],
    ['/ipLoadbalancing/loadbalancer-aaa/task', 'long[]'],
  ])('GET %s is a %s', async (path, type) => {
    const body = await h.client.get(path);
    expect(conforms(body, type)).toEqual([]);
  });

  it('answers a refresh with an ipLoadbalancing.Task.Task, and so does the task read', async () => {
    const task = await h.client.post<{ id: number }>('/ipLoadbalancing/loadbalancer-aaa/refresh', {
      zone: 'gra',
    });
    expect(conforms(task, 'ipLoadbalancing.Task.Task')).toEqual([]);
    const read = await h.client.get(`/ipLoadbalancing/loadbalancer-aaa/task/${task.id}`);
    expect(conforms(read, 'ipLoadbalancing.Task.Task')).toEqual([]);
  });
});

describe("the simulator's /auth/currentCredential fits OVH's /auth schema", () => {
  it('answers an auth.ApiCredential holding its access rules', async () => {
    const auth = JSON.parse(
      readFileSync(join(__dirname, '../fixtures/ovh-api/auth.swagger-2023.json'), 'utf8'),
    ) as typeof swagger;
    const h = await startHarness();
    try {
      const body = await h.client.get<{ rules: unknown }>('/auth/currentCredential');
      const saved = swagger.models;
      swagger.models = auth.models;
      try {
        expect(conforms(body, 'auth.ApiCredential')).toEqual([]);
      } finally {
        swagger.models = saved;
      }
      expect(body.rules).toEqual(LEAST_PRIVILEGE_RULES);
      expect(h.sim.stats.calls['current-credential']).toBe(1);
    } finally {
      await h.close();
    }
  });
});

describe('simulator behaviour', () => {
  let h: SimulatorHarness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.close());

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('keeps a PUT stored but not applied, with a pending change, until a refresh task is done', async () => {
    // The simulator's own clock, moved by the test: a busy machine cannot skip a task's state.
    let t = Date.now();
    await h.close();
    h = await startHarness({ now: () => t });
    const sleep = async (ms: number) => {
      t += ms;
    };
    const farm = h.sim.state.services.get('loadbalancer-aaa')!.farms.get('http/2')!;
    await h.api.setStickiness({ service: 'loadbalancer-aaa', type: 'http', farmId: 2 }, 'cookie');
    expect(farm.stored.stickiness).toBe('cookie');
    expect(farm.applied.get('sbg')?.stickiness).toBeNull();
    expect(await h.api.pendingChanges('loadbalancer-aaa')).toEqual([{ zone: 'sbg', number: 1 }]);

    const task = await h.api.refresh('loadbalancer-aaa', 'sbg');
    expect(task).toMatchObject({ status: 'todo', action: 'refreshIplb', zones: ['sbg'] });
    expect(await h.api.listTasks('loadbalancer-aaa', { action: 'refreshIplb', status: 'todo' })).toEqual([
      task.id,
    ]);
    await sleep(20);
    expect((await h.api.getTask('loadbalancer-aaa', task.id)).status).toBe('doing');
    await sleep(40);
    const done = await h.api.getTask('loadbalancer-aaa', task.id);
    expect(done).toMatchObject({ status: 'done', progress: 100 });
    expect(done.doneDate).not.toBeNull();
    expect(farm.applied.get('sbg')?.stickiness).toBe('cookie');
    expect(await h.api.pendingChanges('loadbalancer-aaa')).toEqual([]);
  });

  it('counts a change to an all-zone farm in every zone, and applies it per refreshed zone', async () => {
    await h.api.setStickiness({ service: 'loadbalancer-aaa', type: 'http', farmId: 5 }, 'sourceIp');
    expect(await h.api.pendingChanges('loadbalancer-aaa')).toEqual([
      { zone: 'gra', number: 1 },
      { zone: 'sbg', number: 1 },
    ]);
    await h.api.refresh('loadbalancer-aaa', 'gra');
    await sleep(60);
    await h.api.listServices(); // any call moves time on
    const farm = h.sim.state.services.get('loadbalancer-aaa')!.farms.get('http/5')!;
    expect(farm.applied.get('gra')?.stickiness).toBe('sourceIp');
    expect(farm.applied.get('sbg')?.stickiness).toBeNull();
    expect(await h.api.pendingChanges('loadbalancer-aaa')).toEqual([{ zone: 'sbg', number: 1 }]);
  });

  it('refuses a refresh of a zone the service does not have', async () => {
    await expect(h.api.refresh('loadbalancer-aaa', 'bhs')).rejects.toMatchObject({ status: 400 });
  });

  it('refuses cookie on a TCP farm and stickiness on a UDP farm, with OVH error bodies', async () => {
    const tcp = await h.api
      .setStickiness({ service: 'loadbalancer-aaa', type: 'tcp', farmId: 3 }, 'cookie')
      .catch((e) => e);
    expect(tcp).toBeInstanceOf(OvhApiError);
    expect(tcp).toMatchObject({ status: 400, errorClass: 'Client::BadRequest' });
    const udp = await h.api
      .setStickiness({ service: 'loadbalancer-aaa', type: 'udp', farmId: 4 }, null)
      .catch((e) => e);
    // The least-privilege key does not even grant writes to UDP farms.
    expect(udp).toMatchObject({ status: 403, errorCode: 'NOT_GRANTED_CALL' });
    expect(await h.api.pendingChanges('loadbalancer-aaa')).toEqual([]);
  });

  it('grants only the least-privilege calls: no DELETE, no PUT outside farms', async () => {
    await expect(
      h.client.request('DELETE', '/ipLoadbalancing/loadbalancer-aaa/http/farm/1'),
    ).rejects.toMatchObject({
      status: 403,
      errorCode: 'NOT_GRANTED_CALL',
    });
  });

  it('refuses an unknown consumer key and a stale timestamp', async () => {
    const headers = { 'X-Ovh-Application': 'simulator-application-key', 'X-Ovh-Consumer': 'nope' };
    const res = await fetch(`${h.sim.baseUrl}/ipLoadbalancing`, { headers });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ errorCode: 'INVALID_CREDENTIAL' });
    const stale = await fetch(`${h.sim.baseUrl}/ipLoadbalancing`, {
      headers: {
        'X-Ovh-Application': 'simulator-application-key',
        'X-Ovh-Consumer': 'simulator-consumer-key',
        'X-Ovh-Timestamp': '1000',
        'X-Ovh-Signature': '$1$00',
      },
    });
    expect(stale.status).toBe(400);
    expect(await stale.json()).toMatchObject({ errorCode: 'QUERY_TIME_OUT' });
  });

  it('answers the calls it is told to with a body that cannot be read, carried out or not', async () => {
    const ref = { service: 'loadbalancer-aaa', type: 'http' as const, farmId: 2 };
    const stored = () => h.sim.state.services.get('loadbalancer-aaa')!.farms.get('http/2')!.stored.stickiness;
    h.sim.faults.garbled = { calls: ['put-farm', 'get-farm'], body: 'cut-json' };
    await expect(h.api.getFarm(ref)).rejects.toThrow(/cut or broken JSON/);
    await expect(h.api.setStickiness(ref, 'cookie')).rejects.toMatchObject({ outcomeUnknown: true });
    expect(stored()).toBe('cookie');
    h.sim.faults.garbled = { calls: ['put-farm'], body: 'html', carriedOut: false };
    await expect(h.api.setStickiness(ref, 'sourceIp')).rejects.toThrow(/an HTML page/);
    expect(stored()).toBe('cookie');
    expect(h.sim.stats.calls['put-farm']).toBe(1);
    // Other calls are answered as usual.
    await expect(h.api.pendingChanges('loadbalancer-aaa')).resolves.toEqual([{ zone: 'sbg', number: 1 }]);
  });

  it('ends a refresh task in error at the configured rate, applying nothing', async () => {
    await h.close();
    h = await startHarness({ faults: { taskErrorRate: 1 } });
    await h.api.setStickiness({ service: 'loadbalancer-bbb', type: 'http', farmId: 10 }, null);
    const task = await h.api.refresh('loadbalancer-bbb', 'rbx');
    await sleep(60);
    expect((await h.api.getTask('loadbalancer-bbb', task.id)).status).toBe('error');
    expect(
      h.sim.state.services.get('loadbalancer-bbb')!.farms.get('http/10')!.applied.get('rbx')?.stickiness,
    ).toBe('sourceIp');
  });
});

describe('simulator faults capped per call', () => {
  it('faults one call at most maxFaultsPerCall times in a row, then answers it', async () => {
    // Prepare: every request answered 503, but no call more than twice in a row.
    const h = await startHarness(
      { faults: { serverErrorRate: 1, serverErrorStatuses: [503], maxFaultsPerCall: 2 } },
      { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 } },
    );
    try {
      // Act: the clock offset and the list each fail twice, then succeed on their third attempt.
      const services = await h.api.listServices();
      // Assess
      expect(services).toEqual(['loadbalancer-aaa', 'loadbalancer-bbb']);
      expect(h.sim.stats.faults.serverErrors).toBe(4);
      // Answered, the call starts again from none in a row: its next two attempts fail again.
      await expect(
        new OvhLoadBalancerApi(h.client.bounded(Date.now() + 60_000)).listServices(),
      ).resolves.toHaveLength(2);
      expect(h.sim.stats.faults.serverErrors).toBe(6);
    } finally {
      await h.close();
    }
  });
});

describe('validateFarmBody', () => {
  it('accepts writable fields with valid values and nulls', () => {
    expect(() =>
      validateFarmBody('http', { stickiness: null, balance: 'uri', displayName: null, port: 80 }),
    ).not.toThrow();
    expect(() => validateFarmBody('tcp', { stickiness: 'sourceIp' })).not.toThrow();
  });

  it.each([
    ['http', { farmId: 1 }, /read-only/],
    ['http', { zone: 'gra' }, /read-only/],
    ['http', { stickyness: 'cookie' }, /not a property/],
    ['tcp', { stickiness: 'cookie' }, /stickiness/],
    ['tcp', { balance: 'uri' }, /balance/],
    ['udp', { stickiness: null }, /not a property/],
    ['udp', { port: null }, /port/],
    ['http', [], /expected an object/],
  ] as const)('refuses %s body %j', (type, body, message) => {
    expect(() => validateFarmBody(type, body)).toThrow(message);
  });
});

describe('simulator start-up', () => {
  it('says a port is in use, instead of crashing', async () => {
    const fleet = parseFleet('services:\n  - name: lb-a\n    zones: [gra]\n    farms: []\n');
    const first = await startSimulator({ fleet });
    try {
      await expect(startSimulator({ fleet, port: first.port })).rejects.toThrow(
        `port ${first.port} on 127.0.0.1 is in use: choose another with --port, or 0 for any free port`,
      );
    } finally {
      await first.close();
    }
  });
});
