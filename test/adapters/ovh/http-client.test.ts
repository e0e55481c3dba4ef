import { OvhApiError } from '../../../lib/adapters/ovh/errors';
import { OvhHttpClient, parseRetryAfter } from '../../../lib/adapters/ovh/http-client';
import { OvhLoadBalancerApi } from '../../../lib/adapters/ovh/ovh-load-balancer-api';
import { NotFoundError } from '../../../lib/domain/errors';
import { SIMULATOR_CREDENTIALS } from '../../../lib/simulator/server';
import { type SimulatorHarness, startHarness } from '../../helpers/simulator';

describe('OvhHttpClient against the simulator', () => {
  let h: SimulatorHarness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('ends every call of a bounded view by its deadline, hanging server or not, and retries nothing past it', async () => {
    h = await startHarness({}, { timeoutMs: 15_000 });
    await h.client.serverTimeOffset();
    h.sim.faults.hangRate = 1; // from now on, OVH never answers
    const started = Date.now();
    const bounded = h.api.bounded!(Date.now() + 400);
    const error = await bounded
      .getFarm({ service: 'loadbalancer-aaa', type: 'http', farmId: 1 })
      .catch((e: unknown) => e);
    const took = Date.now() - started;
    expect(error).toMatchObject({ code: 'timeout', retryable: true });
    expect((error as Error).message).toMatch(/invocation's time ran out/);
    expect(took).toBeLessThan(3_000);
    // Past the deadline, a call fails at once without being sent.
    const sent = h.sim.stats.faults.hangs;
    await expect(bounded.pendingChanges('loadbalancer-aaa')).rejects.toThrow(/before GET .* could be sent/);
    expect(h.sim.stats.faults.hangs).toBe(sent);
  });

  it("asks OVH's time once for a client and all its bounded views, whichever calls first", async () => {
    h = await startHarness();
    // A view first (a batch's deadline), then another view and the client itself.
    await h.client.bounded(Date.now() + 60_000).get('/ipLoadbalancing');
    await h.client.bounded(Date.now() + 60_000).get('/ipLoadbalancing');
    await h.client.get('/ipLoadbalancing');
    expect(h.sim.stats.calls['auth-time']).toBe(1);
  });

  it('corrects its timestamps with /auth/time when the server clock is far off', async () => {
    h = await startHarness({ clockSkewSeconds: 3_600 });
    await expect(h.api.listServices()).resolves.toEqual(['loadbalancer-aaa', 'loadbalancer-bbb']);
    expect(await h.client.serverTimeOffset()).toBeGreaterThanOrEqual(3_599);
    expect(h.sim.stats.calls['auth-time']).toBe(1);
    await h.api.listServices();
    expect(h.sim.stats.calls['auth-time']).toBe(1);
  });

  it('sends an explicit null to clear stickiness, which the server stores', async () => {
    h = await startHarness();
    const ref = { service: 'loadbalancer-aaa', type: 'http' as const, farmId: 1 };
    expect((await h.api.getFarm(ref)).stickiness).toBe('cookie');
    await h.api.setStickiness(ref, null);
    expect((await h.api.getFarm(ref)).stickiness).toBeNull();
    expect(h.sim.state.services.get('loadbalancer-aaa')?.farms.get('http/1')?.stored.balance).toBe(
      'roundrobin',
    );
  });

  it('carries status, errorCode and query id in errors, and does not retry a refused call', async () => {
    h = await startHarness(
      {},
      { credentials: { ...SIMULATOR_CREDENTIALS, applicationSecret: 'wrong-secret' } },
    );
    const error = await h.api.listServices().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OvhApiError);
    expect(error).toMatchObject({ status: 400, errorCode: 'INVALID_SIGNATURE', retryable: false });
    expect((error as OvhApiError).queryId).toMatch(/^EU\.sim\./);
    expect((error as Error).message).toContain('Invalid signature');
    expect((error as Error).message).not.toContain('wrong-secret');
    expect(h.sim.stats.rejected.auth).toBe(1);
  });

  it('turns a 404 on a farm into a NotFoundError naming the farm', async () => {
    h = await startHarness();
    await expect(h.api.getFarm({ service: 'loadbalancer-aaa', type: 'tcp', farmId: 999 })).rejects.toThrow(
      NotFoundError,
    );
    await expect(h.api.getFarm({ service: 'loadbalancer-aaa', type: 'tcp', farmId: 999 })).rejects.toThrow(
      'TCP farm 999 was not found on loadbalancer-aaa',
    );
  });

  it('retries 429 bursts, honouring Retry-After, within its own budget for throttling', async () => {
    h = await startHarness({ faults: { throttleRate: 1, throttleBurst: 2, retryAfterSeconds: 0, seed: 3 } });
    // Every request starts a 2-request burst, so each call needs 3 attempts.
    const sleeps: number[] = [];
    const client = new OvhHttpClient({
      baseUrl: h.sim.baseUrl,
      credentials: SIMULATOR_CREDENTIALS,
      retry: { maxAttempts: 1, maxThrottledAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
      clock: { now: () => new Date(), sleep: async (ms) => void sleeps.push(ms) },
    });
    await expect(new OvhLoadBalancerApi(client).listServices()).rejects.toMatchObject({
      status: 429,
      retryable: true,
    });
    expect(h.sim.stats.faults.throttled).toBeGreaterThanOrEqual(4);
    expect(sleeps.length).toBe(3);
  });

  it('gives up on a Retry-After longer than it is allowed to wait', async () => {
    h = await startHarness({ faults: { throttleRate: 1, throttleBurst: 1, retryAfterSeconds: 120 } });
    await expect(h.api.listServices()).rejects.toMatchObject({ status: 429, retryable: true });
    expect(h.sim.stats.faults.throttled).toBe(1);
  });

  it('survives a seeded mix of 5xx, throttling and hangs, and converges on the right answer', async () => {
    h = await startHarness(
      {
        faults: { seed: 42, serverErrorRate: 0.2, throttleRate: 0.05, retryAfterSeconds: 0, hangRate: 0.05 },
      },
      { timeoutMs: 200, retry: { maxAttempts: 10, baseDelayMs: 1, maxDelayMs: 5 } },
    );
    const farms = await Promise.all(
      [1, 2, 3, 5].map((farmId) =>
        h!.api.getFarm({ service: 'loadbalancer-aaa', type: farmId === 3 ? 'tcp' : 'http', farmId }),
      ),
    );
    expect(farms.map((f) => f.farmId)).toEqual([1, 2, 3, 5]);
    const { faults } = h.sim.stats;
    expect(faults.serverErrors + faults.throttled + faults.hangs).toBeGreaterThan(0);
  });

  it('times out a call that never gets an answer, and says so', async () => {
    h = await startHarness({ faults: { hangRate: 1 } }, { timeoutMs: 100, retry: { maxAttempts: 2 } });
    await expect(h.client.get('/auth/time')).rejects.toMatchObject({ code: 'timeout', retryable: true });
    expect(h.sim.stats.faults.hangs).toBe(2);
  });

  it.each([
    [500, 1],
    [503, 3],
  ])(
    'after a %i on a refresh POST makes %i attempt(s): a POST is repeated only when it was surely not processed',
    async (status, attempts) => {
      h = await startHarness();
      let posts = 0;
      const client = new OvhHttpClient({
        baseUrl: h.sim.baseUrl,
        credentials: SIMULATOR_CREDENTIALS,
        retry: { maxAttempts: 3, baseDelayMs: 1 },
        fetch: async (input, init) => {
          if (init?.method !== 'POST') return fetch(input, init);
          posts++;
          return new Response(JSON.stringify({ class: 'Server::InternalServerError', message: 'boom' }), {
            status,
          });
        },
      });
      await expect(new OvhLoadBalancerApi(client).refresh('loadbalancer-aaa', 'gra')).rejects.toMatchObject({
        status,
      });
      expect(posts).toBe(attempts);
      expect(h.sim.stats.calls.refresh).toBe(0);
    },
  );

  it('keeps at most the configured number of calls in flight', async () => {
    h = await startHarness({ faults: { latencyMs: 20 } }, { concurrency: 3 });
    let inFlight = 0;
    let peak = 0;
    const client = new OvhHttpClient({
      baseUrl: h.sim.baseUrl,
      credentials: SIMULATOR_CREDENTIALS,
      concurrency: 3,
      fetch: async (input, init) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        try {
          return await fetch(input, init);
        } finally {
          inFlight--;
        }
      },
    });
    const api = new OvhLoadBalancerApi(client);
    await Promise.all(Array.from({ length: 12 }, () => api.listFarms('loadbalancer-aaa')));
    expect(peak).toBe(3);
  });
});

describe('OvhHttpClient answers', () => {
  const MiB = 1024 * 1024;
  /** A client whose every answer is `answer()`, sent without a clock-offset call. */
  const clientAnswering = (answer: () => Response) =>
    new OvhHttpClient({
      baseUrl: 'https://eu.api.ovh.com/1.0',
      credentials: SIMULATOR_CREDENTIALS,
      retry: { maxAttempts: 3, baseDelayMs: 1 },
      fetch: async () => answer(),
    });
  /** A body that never ends, counting what was pulled from it. */
  const endless = () => {
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    const stream = {
      pulled: 0,
      body: new ReadableStream<Uint8Array>({
        pull(controller) {
          stream.pulled += chunk.byteLength;
          controller.enqueue(chunk);
        },
      }),
    };
    return stream;
  };

  it('stops reading an endless answer past 10 MiB and fails the call, not retried', async () => {
    const streams: ReturnType<typeof endless>[] = [];
    const client = clientAnswering(() => {
      const s = endless();
      streams.push(s);
      return new Response(s.body, { status: 200 });
    });
    const error = await client.request('GET', '/auth/time', { unauthenticated: true }).catch((e) => e);
    expect(error).toMatchObject({ code: 'too-large', retryable: false });
    expect((error as Error).message).toContain('the answer is larger than 10 MiB');
    expect(streams).toHaveLength(1);
    expect(streams[0]!.pulled).toBeLessThan(11 * MiB);
  });

  it('does not read an answer whose Content-Length is over the limit', async () => {
    const s = endless();
    const client = clientAnswering(
      () => new Response(s.body, { status: 200, headers: { 'Content-Length': String(11 * MiB) } }),
    );
    await expect(client.request('GET', '/auth/time', { unauthenticated: true })).rejects.toMatchObject({
      code: 'too-large',
    });
    expect(s.pulled).toBeLessThan(MiB);
  });

  it('reads a large answer under the limit', async () => {
    const big = JSON.stringify('x'.repeat(9 * MiB));
    const client = clientAnswering(() => new Response(big, { status: 200 }));
    await expect(client.request('GET', '/auth/time', { unauthenticated: true })).resolves.toHaveLength(
      9 * MiB,
    );
  });

  it("keeps a server's error text bounded and plain: its first 200 characters, no control character", async () => {
    const client = clientAnswering(
      () =>
        new Response(
          JSON.stringify({
            message: `bad\u001b[31m\u202e${'m'.repeat(50_000)}`,
            class: `C${'c'.repeat(500)}`,
          }),
          { status: 400 },
        ),
    );
    const error = (await client
      .request('GET', '/auth/time', { unauthenticated: true })
      .catch((e) => e)) as Error;
    expect(error).toMatchObject({ status: 400, errorClass: expect.stringMatching(/^Cc{62}…$/) });
    const [, text] =
      /^OVH GET \/auth\/time: (bad \[31m m+…) \(HTTP 400, Cc{62}…\)$/.exec(error.message) ?? [];
    expect(Array.from(text ?? '')).toHaveLength(200);
  });

  it('keeps the retry rules of an error status whose body is over the limit', async () => {
    let calls = 0;
    const client = clientAnswering(() => {
      calls++;
      return new Response(endless().body, { status: 503 });
    });
    const error = await client.request('GET', '/auth/time', { unauthenticated: true }).catch((e) => e);
    expect(error).toMatchObject({ status: 503, retryable: true });
    expect((error as Error).message).toContain('an error answer larger than 10 MiB, not read');
    expect(calls).toBe(3);
  });
});

describe('OvhHttpClient adaptive concurrency: overload, not noise', () => {
  /** An adaptive client (8 up to 32) whose n-th answer is `answer(n)`, with a recording clock. */
  const adaptiveClient = (answer: (n: number) => Response) => {
    let n = 0;
    const sleeps: number[] = [];
    const client = new OvhHttpClient({
      baseUrl: 'https://eu.api.ovh.com/1.0',
      credentials: SIMULATOR_CREDENTIALS,
      concurrency: 32,
      adaptive: { initial: 8 },
      retry: { baseDelayMs: 1, maxDelayMs: 1 },
      // A clock that stands still: answer times are 0, so a slow moment of the machine is not taken for a slow API.
      clock: { now: () => new Date(1_800_000_000_000), sleep: async (ms) => void sleeps.push(ms) },
      fetch: async (input) =>
        String(input).endsWith('/auth/time') ? Response.json(1_800_000_000) : answer(++n),
    });
    return { client, sleeps };
  };
  const throttled = (retryAfter?: string) =>
    new Response('{"message":"Too many requests"}', {
      status: 429,
      headers: retryAfter ? { 'Retry-After': retryAfter } : {},
    });

  it('waits out an isolated 429 for its Retry-After, and neither it nor its retry shrinks the window', async () => {
    // One call in ten throttled, one at a time, with Retry-After: 2 s.
    const { client, sleeps } = adaptiveClient((n) => (n % 10 === 0 ? throttled('2') : Response.json([])));
    await Promise.all(Array.from({ length: 300 }, () => client.get('/ipLoadbalancing')));
    expect(sleeps.length).toBeGreaterThan(0);
    expect(sleeps.every((ms) => ms === 2_000)).toBe(true);
    expect(client.concurrency()).toMatchObject({ decreases: 0, current: 32 });
  });

  it('does not shrink for isolated 503s either', async () => {
    const { client } = adaptiveClient((n) =>
      n % 10 === 0 ? new Response('{"message":"busy"}', { status: 503 }) : Response.json([]),
    );
    await Promise.all(Array.from({ length: 300 }, () => client.get('/ipLoadbalancing')));
    expect(client.concurrency()).toMatchObject({ decreases: 0, current: 32 });
  });

  it('backs off under a sustained 429 storm, Retry-After or not, and still completes every call', async () => {
    // Three answers in four throttled, half of them without Retry-After.
    const { client } = adaptiveClient((n) =>
      n % 4 === 0 ? Response.json([]) : throttled(n % 2 === 0 ? '0' : undefined),
    );
    await Promise.all(Array.from({ length: 40 }, () => client.get('/ipLoadbalancing')));
    expect(client.concurrency().decreases).toBeGreaterThan(0);
    expect(client.concurrency().current).toBeLessThan(8);
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2026-11-25T10:00:00Z');
  it('reads seconds and HTTP dates, and ignores garbage', () => {
    expect(parseRetryAfter('3', now)).toBe(3_000);
    expect(parseRetryAfter('Wed, 25 Nov 2026 10:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
