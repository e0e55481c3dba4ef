import { makeHandleSlackCommand, type SlackWork } from '../../lib/app/handle-slack-command';
import { makeHandleSlackInteraction } from '../../lib/app/handle-slack-interaction';
import { makeNotifyOutcome } from '../../lib/app/notify-outcome';
import { makeRunSlackWork, PROPOSAL_TTL_MS, SHOW_MAX_FARMS } from '../../lib/app/run-slack-work';
import type { SlackEntryDeps } from '../../lib/app/slack-entry';
import type { ChangeAuditDetail, ChangeDeniedDetail } from '../../lib/domain/audit-events';
import type { ChatAuthorization } from '../../lib/domain/chat-authorization';
import {
  InvalidInputError,
  PayloadTooLargeError,
  SticklerError,
  UnauthenticatedError,
} from '../../lib/domain/errors';
import type { ChangeRequestedDetail } from '../../lib/domain/events';
import { DAY_MS, type RateSample, SLOT_MS } from '../../lib/domain/traffic';
import { anAuditDetail } from '../helpers/factories';
import {
  FakeClock,
  FakeTraffic,
  InMemoryChatProposals,
  InMemoryIdempotencyStore,
  InMemoryLoadBalancerApi,
  InMemoryZoneSlots,
  RecordingDispatcher,
  RecordingPublisher,
  RecordingSlackResponder,
  silentLog,
} from '../helpers/fakes';
import { clickBody, slashBody } from '../helpers/slack';

const auth = (over: Partial<ChatAuthorization> = {}): ChatAuthorization => ({
  teams: new Set(['T0001']),
  setters: new Set(['U0ALICE', 'T0001:U0BOB']),
  setterChannels: new Set(['C0OPS']),
  readers: new Set(['*']),
  readerChannels: new Set(['*']),
  requireSecondApprover: false,
  ...over,
});

/** Signature checking is the adapter's (tested on Slack's vector): here a header says good, bad or stale. */
const request = (body: string, verdict: 'ok' | 'bad' | 'stale' = 'ok') => ({
  headers: { 'x-test-verdict': verdict },
  body: Buffer.from(body),
});

/** 7 days of 5-minute samples before `now`: 300 req/s, but 12 req/s in the slot 04:00 to 04:05 UTC. */
const weekQuietAtFour = (now: number): RateSample[] =>
  Array.from({ length: (7 * DAY_MS) / SLOT_MS }, (_, i) => {
    const at = now - i * SLOT_MS;
    const start = new Date(at - SLOT_MS);
    return { at, value: start.getUTCHours() === 4 && start.getUTCMinutes() === 0 ? 12 : 300 };
  });

const setup = (authorization = auth()) => {
  const clock = new FakeClock();
  const traffic = new FakeTraffic({
    'lb-a': { requestsPerSecond: 1780, connectionsPerSecond: 445, history: weekQuietAtFour(clock.t) },
  });
  const publisher = new RecordingPublisher();
  const responder = new RecordingSlackResponder();
  const log = silentLog();
  const dispatcher = new RecordingDispatcher<SlackWork>();
  const proposals = new InMemoryChatProposals();
  const api = new InMemoryLoadBalancerApi()
    .addFarm('lb-a', { type: 'http', farmId: 101, zone: 'gra', stored: null, displayName: 'web-gra' })
    .addFarm('lb-a', { type: 'http', farmId: 102, zone: 'sbg', stored: 'cookie' })
    .addFarm('lb-a', { type: 'tcp', farmId: 201, zone: 'gra', stored: null });
  const entry: SlackEntryDeps = {
    signingSecret: async () => 'secret',
    verify: (headers) => headers['x-test-verdict'] as 'ok' | 'bad' | 'stale',
    authorization,
    publisher,
    responder,
    clock,
    log,
  };
  let ids = 0;
  const command = makeHandleSlackCommand({ ...entry, dispatcher });
  // The worker's remembered slots and records, as the proposal reads them (empty unless a test fills them).
  const zoneSlots = new InMemoryZoneSlots();
  const records = new InMemoryIdempotencyStore();
  const work = makeRunSlackWork({
    api,
    traffic,
    proposals,
    zoneSlots: { store: zoneSlots, requests: records },
    responder,
    clock,
    log,
    newId: () => (++ids).toString(16).padStart(32, '0'),
  });
  const click = makeHandleSlackInteraction({ ...entry, proposals });
  /** A command, its dispatched work run, and what was posted for it. */
  const run = async (text: string, fields: Parameters<typeof slashBody>[0] | object = {}) => {
    const answer = await command(request(slashBody({ text, ...fields })));
    const dispatched = dispatcher.dispatched.at(-1);
    if (dispatched && dispatcher.dispatched.length > 0) {
      dispatcher.dispatched.length = 0;
      await work(dispatched);
      return { answer, posted: responder.to(dispatched.responseUrl).at(-1) };
    }
    return { answer, posted: undefined };
  };
  const buttonValue = (message: { blocks?: unknown[] } | undefined) =>
    (
      message?.blocks?.find((b) => (b as { type: string }).type === 'actions') as
        | { elements: { value: string }[] }
        | undefined
    )?.elements[0]?.value;
  return {
    clock,
    publisher,
    responder,
    log,
    dispatcher,
    proposals,
    api,
    traffic,
    zoneSlots,
    records,
    command,
    work,
    click,
    run,
    buttonValue,
  };
};

const requested = (p: RecordingPublisher) =>
  p.published
    .filter((e) => e.detailType === 'Stickiness Change Requested')
    .map((e) => e.detail as ChangeRequestedDetail);
const deniedEvents = (p: RecordingPublisher) =>
  p.published
    .filter((e) => e.detailType === 'Stickiness Change Denied')
    .map((e) => e.detail as ChangeDeniedDetail);

describe('a slash command', () => {
  it('is refused with 401 before anything when its signature is bad or stale', async () => {
    const s = setup();
    for (const verdict of ['bad', 'stale'] as const)
      await expect(
        s.command(request(slashBody({ text: 'set lb-a http/101 cookie' }), verdict)),
      ).rejects.toBeInstanceOf(UnauthenticatedError);
    expect(s.dispatcher.dispatched).toEqual([]);
    expect(s.publisher.published).toEqual([]);
    expect(s.log.lines.map((l) => l.message)).toEqual([
      'slack command refused: signature missing or wrong',
      'slack command refused: timestamp out of the 5-minute window',
    ]);
  });

  it('refuses a body larger than Slack ever sends, and one without Slack ids', async () => {
    const s = setup();
    await expect(s.command(request('x'.repeat(70_000)))).rejects.toBeInstanceOf(PayloadTooLargeError);
    await expect(s.command(request('text=show+lb-a'))).rejects.toBeInstanceOf(InvalidInputError);
  });

  it("answers Slack's SSL check with an empty 200", async () => {
    expect(await setup().command(request('ssl_check=1&token=x'))).toEqual({});
  });

  it('answers help and bad input with the usage, never an error', async () => {
    const s = setup();
    expect((await s.run('')).answer.message?.text).toMatch(/^Usage:\n`\/stickiness help`/);
    for (const text of [
      'frobnicate',
      'set lb-a http/101',
      'set lb-a web cookie',
      'plan lb-a http/101 sticky',
      'show ..',
      'set lb-a http/101 cookie reason="open',
    ]) {
      const { answer } = await s.run(text);
      expect(answer.message?.text).toMatch(/\n\nUsage:/);
    }
    expect(s.dispatcher.dispatched).toEqual([]);
  });

  it('refuses a workspace, user or channel its authorisation does not name, with a Denied audit event', async () => {
    const s = setup(auth({ readers: new Set(['U0ALICE']), readerChannels: new Set(['C0OPS', 'C0READ']) }));
    const cases: [string, object, RegExp][] = [
      ['show lb-a', { team_id: 'T0OTHER' }, /workspace is not allowed/],
      ['help', { team_id: 'T0OTHER' }, /workspace is not allowed/],
      ['show lb-a', { user_id: 'U0EVE' }, /not allowed to read/],
      ['plan lb-a http/101 cookie', { channel_id: 'C0RANDOM' }, /does not answer in this channel/],
      ['set lb-a http/101 cookie', { user_id: 'U0EVE' }, /not allowed to change stickiness/],
      ['set lb-a http/101 cookie', { channel_id: 'C0READ' }, /not allowed in this channel/],
      // T0001:U0BOB is a setter in T0001 only.
      ['set lb-a http/101 cookie', { team_id: 'T0002', user_id: 'U0BOB' }, /workspace is not allowed/],
    ];
    for (const [text, fields, reason] of cases) {
      const { answer, posted } = await s.run(text, fields);
      expect(answer.message?.text).toMatch(reason);
      expect(answer.message?.text).toMatch(/Nothing was changed/);
      expect(posted).toBeUndefined();
    }
    const denied = deniedEvents(s.publisher);
    expect(denied).toHaveLength(cases.length);
    expect(denied[4]).toMatchObject({
      actor: { kind: 'chat', id: 'slack:T0001:U0EVE', name: 'alice' },
      channelId: 'C0OPS',
      action: 'set',
      command: '/stickiness set lb-a http/101 cookie',
      reason: 'you are not allowed to change stickiness',
    });
    expect(requested(s.publisher)).toEqual([]);
  });

  it('still refuses, and logs, when the Denied event cannot be published', async () => {
    const s = setup();
    s.publisher.refuse = () => true;
    const { answer } = await s.run('set lb-a http/101 cookie', { user_id: 'U0EVE' });
    expect(answer.message?.text).toMatch(/not allowed/);
    expect(s.log.lines.some((l) => l.level === 'error' && /denied audit event/.test(l.message))).toBe(true);
  });

  it('answers at once and dispatches the work, which posts to the response URL', async () => {
    const s = setup();
    const answer = await s.command(request(slashBody({ text: 'show lb-a' })));
    expect(answer.message?.text).toBe('Working on `/stickiness show lb-a`…');
    expect(s.api.calls).toEqual({}); // no OVH call before the answer
    expect(s.dispatcher.dispatched).toEqual([
      expect.objectContaining({
        kind: 'stickler.slack-command',
        command: { kind: 'show', service: 'lb-a' },
        caller: { teamId: 'T0001', userId: 'U0ALICE', userName: 'alice', channelId: 'C0OPS' },
        responseUrl: 'https://hooks.slack.com/commands/T0001/1/abc',
      }),
    ]);
  });

  it('never dispatches work whose response URL is not Slack, and says it cannot answer', async () => {
    const s = setup();
    const { answer } = await s.run('show lb-a', { response_url: 'https://evil.example/x' });
    expect(answer.message?.text).toMatch(/without a Slack response address/);
    expect(s.dispatcher.dispatched).toEqual([]);
    expect(JSON.stringify(s.log.lines)).not.toContain('evil.example');
    expect(s.log.lines.some((l) => /suspicious/.test(l.message))).toBe(true);
  });

  it('says to try again when the work cannot be dispatched', async () => {
    const s = setup();
    s.dispatcher.failures.fail('dispatch');
    const { answer } = await s.run('show lb-a');
    expect(answer.message?.text).toMatch(/try again/);
  });
});

describe('the dispatched work', () => {
  it('shows the farms of a service, their stickiness and the zones with unapplied changes', async () => {
    const s = setup();
    await s.api.setStickiness({ service: 'lb-a', type: 'tcp', farmId: 201 }, 'sourceIp');
    const { posted } = await s.run('show lb-a');
    expect(posted?.text).toBe('lb-a: 3 farm(s)');
    const text = JSON.stringify(posted?.blocks);
    expect(text).toContain('web-gra  http/101  zone gra: *none*');
    expect(text).toContain('http/102  zone sbg: *cookie*');
    expect(text).toContain('unapplied changes in zone(s) gra');
    expect((await s.run('show lb-a http/102')).posted?.text).toBe('lb-a: 1 farm(s)');
  });

  it(`lists at most ${SHOW_MAX_FARMS} farms and counts the rest`, async () => {
    const s = setup();
    for (let id = 1; id <= 60; id++)
      s.api.addFarm('lb-big', { type: 'tcp', farmId: id, zone: 'gra', stored: null });
    const { posted } = await s.run('show lb-big');
    expect(posted?.text).toBe('lb-big: 60 farm(s)');
    expect(JSON.stringify(posted?.blocks)).toContain('and 15 more');
    expect(s.api.calls.getFarm).toBe(SHOW_MAX_FARMS);
  });

  it('plans before → after with the session-loss warning, and writes nothing', async () => {
    const s = setup();
    const change = (await s.run('plan lb-a http/101 cookie')).posted;
    expect(change?.text).toContain('zone *gra*: none → *cookie*');
    expect(change?.text).toContain('their HTTP sessions are lost');
    expect((await s.run('plan lb-a http/102 cookie')).posted?.text).toMatch(
      /Already cookie: nothing to change/,
    );
    expect((await s.run('plan lb-a tcp/201 cookie')).posted?.text).toMatch(
      /stickiness 'cookie' is not allowed on a TCP farm .*Nothing would be written/,
    );
    expect((await s.run('plan lb-a http/999 cookie')).posted?.text).toMatch(/^Not found: http\/999 on lb-a/);
    expect(s.api.calls.setStickiness ?? 0).toBe(0);
    expect(s.api.refreshes).toEqual([]);
  });

  it('set stores a proposal for 15 minutes and answers with Apply (confirming, with the warning) and Cancel', async () => {
    const s = setup();
    const { posted } = await s.run('set lb-a http/101 cookie ticket=OPS-9 reason="pin sessions"');
    const id = s.buttonValue(posted)!;
    expect(s.proposals.items.get(id)?.proposal).toMatchObject({
      requester: { teamId: 'T0001', userId: 'U0ALICE' },
      service: 'lb-a',
      farmType: 'http',
      farmId: 101,
      stickiness: 'cookie',
      ticket: 'OPS-9',
      reason: 'pin sessions',
      before: 'none',
      zone: 'gra',
      expiresAt: new Date(s.clock.t + PROPOSAL_TTL_MS).toISOString(),
    });
    const actions = posted?.blocks?.find((b) => b.type === 'actions') as unknown as {
      elements: { action_id: string; confirm?: { text: { text: string } } }[];
    };
    expect(actions.elements.map((e) => e.action_id)).toEqual([
      'stickler_apply',
      'stickler_apply_quietest',
      'stickler_cancel',
    ]);
    expect(actions.elements[0]!.confirm!.text.text).toContain('their HTTP sessions are lost');
    expect(actions.elements[1]!.confirm!.text.text).toContain('their HTTP sessions are lost');
    expect(requested(s.publisher)).toEqual([]);
    // Nothing to ask when there is nothing to change.
    const same = (await s.run('set lb-a http/102 cookie')).posted;
    expect(s.buttonValue(same)).toBeUndefined();
  });

  it("says the load balancer's traffic now and the quietest slot of the next 24 hours, kept as the proposal's window", async () => {
    const s = setup();
    const { posted } = await s.run('set lb-a http/101 cookie');
    expect(JSON.stringify(posted)).toContain(
      'traffic now: 1,780 req/s; quietest in your window: 04:00 UTC (≈ 12 req/s)',
    );
    expect(s.proposals.items.get(s.buttonValue(posted)!)?.proposal.window).toEqual({
      start: '2026-11-25T10:00:00.000Z',
      end: '2026-11-26T10:00:00.000Z',
    });
    expect(s.traffic.reads.map((r) => r.service)).toEqual(['lb-a']);
    const actions = posted?.blocks?.find((b) => b.type === 'actions') as unknown as {
      elements: { confirm?: { text: { text: string } } }[];
    };
    expect(actions.elements[1]!.confirm!.text.text).toContain(
      'at the quietest 5 minutes before 2026-11-26 10:00 UTC by the last 7 days (04:00 UTC as read now)',
    );
  });

  it("searches the window's quietest as the worker does: not in the margin it keeps before the window's end", async () => {
    // 04:00 UTC is the quietest slot; the window ends 11 s into it.
    const window = 'window=2026-11-26T03:00Z/2026-11-26T04:00:11Z';
    const s = setup();
    const { posted } = await s.run(`set lb-a http/101 cookie ${window}`);
    // The worker keeps 30 s free (by default) before the end: it never defers to 04:00 in this window.
    expect(JSON.stringify(posted)).toContain('quietest in your window: 03:00 UTC (≈ 300 req/s)');
    expect(JSON.stringify(posted)).not.toContain('04:00 UTC (≈ 12');
    // The window kept and confirmed is the one asked.
    expect(s.proposals.items.get(s.buttonValue(posted)!)?.proposal.window).toEqual({
      start: '2026-11-26T03:00:00.000Z',
      end: '2026-11-26T04:00:11.000Z',
    });
    const actions = posted?.blocks?.find((b) => b.type === 'actions') as unknown as {
      elements: { confirm?: { text: { text: string } } }[];
    };
    expect(actions.elements[1]!.confirm!.text.text).toContain(
      'at the quietest 5 minutes before 04:00 UTC by the last 7 days (03:00 UTC as read now)',
    );
    // A stack whose margin is shorter (BATCH_WINDOW_SECONDS 0: 10 s) reaches 04:00.
    const short = makeRunSlackWork({
      api: s.api,
      traffic: s.traffic,
      proposals: s.proposals,
      zoneSlots: { store: s.zoneSlots, requests: s.records, marginMs: 10_000 },
      responder: s.responder,
      clock: s.clock,
      log: s.log,
      newId: () => 'f'.repeat(32),
    });
    await s.command(request(slashBody({ text: `set lb-a http/101 cookie ${window}` })));
    const work = s.dispatcher.dispatched.at(-1)!;
    await short(work);
    expect(JSON.stringify(s.responder.to(work.responseUrl).at(-1))).toContain(
      'quietest in your window: 04:00 UTC (≈ 12 req/s)',
    );
  });

  it('searches the window the command names, and says a slot beyond the next 24 hours with its date', async () => {
    const s = setup();
    const { posted } = await s.run('set lb-a http/101 cookie window=2026-11-26T05:00Z/2026-11-27T05:00Z');
    expect(JSON.stringify(posted)).toContain('quietest in your window: 2026-11-27 04:00 UTC (≈ 12 req/s)');
    expect(s.proposals.items.get(s.buttonValue(posted)!)?.proposal.window).toEqual({
      start: '2026-11-26T05:00:00.000Z',
      end: '2026-11-27T05:00:00.000Z',
    });
  });

  it('answers a window it cannot read, or one already over, with the usage, and reads nothing', async () => {
    const s = setup();
    // Unreadable, over, too long, and opening later than the worker accepts requests (20 days).
    for (const window of [
      'tomorrow',
      '2026-11-20T00:00Z/PT1H',
      '2026-11-26T00:00Z/P8D',
      '2027-06-01T00:00Z/PT6H',
    ]) {
      const { answer } = await s.run(`set lb-a http/101 cookie window=${window}`);
      expect(answer.message?.text).toMatch(/^window/);
      expect(answer.message?.text).toContain('Usage');
    }
    expect(s.dispatcher.dispatched).toEqual([]);
    expect(s.traffic.reads).toEqual([]);
  });

  it('says plainly when the traffic is unknown, and offers no quietest time', async () => {
    const s = setup();
    s.api.addFarm('lb-b', { type: 'http', farmId: 7, zone: 'gra', stored: null });
    const { posted } = await s.run('set lb-b http/7 cookie');
    expect(JSON.stringify(posted)).toContain('traffic unknown: no metrics for this load balancer');
    const actions = posted?.blocks?.find((b) => b.type === 'actions') as unknown as {
      elements: { action_id: string }[];
    };
    expect(actions.elements.map((e) => e.action_id)).toEqual(['stickler_apply', 'stickler_cancel']);
  });

  it('escapes what comes from OVH, so a farm name cannot ping a channel', async () => {
    const s = setup();
    s.api.addFarm('lb-a', {
      type: 'http',
      farmId: 103,
      zone: 'gra',
      stored: null,
      displayName: '<!channel> & co',
    });
    const { posted } = await s.run('plan lb-a http/103 cookie');
    expect(posted?.text).toContain('&lt;!channel&gt; &amp; co');
    expect(posted?.text).not.toContain('<!channel>');
  });

  it('tells the user when OVH fails, and logs it', async () => {
    const s = setup();
    s.api.failures.fail(
      'getFarm',
      new SticklerError('ovh-unavailable', 'OVH answered 503', { retryable: true }),
    );
    const { posted } = await s.run('plan lb-a http/101 cookie');
    expect(posted?.text).toBe(
      'stickler could not read the load balancer: OVH answered 503 Try again in a minute.',
    );
    s.api.failures.fail('getFarm', new Error('boom'));
    expect((await s.run('plan lb-a http/101 cookie')).posted?.text).toMatch(
      /failed on that command; the error is logged/,
    );
    expect(s.log.lines.filter((l) => l.message === 'slack command failed')).toHaveLength(2);
  });

  it('reports unanswered when Slack cannot be reached', async () => {
    const s = setup();
    await s.command(request(slashBody({ text: 'show lb-a' })));
    s.responder.failures.fail('respond');
    expect(await s.work(s.dispatcher.dispatched[0]!)).toBe('unanswered');
  });
});

describe("a proposal and the slot its farm's zone already waits for", () => {
  const HOUR = 3_600_000;
  /** A slot remembered for the zone, chosen by request `r-first`, which still waits for it (deferred). */
  const waiting = (s: ReturnType<typeof setup>, key: string, at: number, requestId = 'r-first') => {
    s.zoneSlots.slots.set(key, [
      ...(s.zoneSlots.slots.get(key) ?? []),
      { at, typicalRate: 40, chosenAt: new Date(s.clock.t - HOUR).toISOString(), requestId },
    ]);
    s.records.records.set(requestId, {
      state: 'deferred',
      until: new Date(at).toISOString(),
      deferredUntil: new Date(at).toISOString(),
      request: {} as ChangeRequestedDetail,
      origin: null,
    });
  };
  const confirmTexts = (posted: { blocks?: unknown[] } | undefined) => {
    const actions = posted?.blocks?.find((b) => (b as { type: string }).type === 'actions') as
      | { elements: { action_id: string; confirm?: { text: { text: string } } }[] }
      | undefined;
    return (actions?.elements ?? []).map((e) => [e.action_id, e.confirm?.text.text] as const);
  };
  const TODAY = 'traffic now: 1,780 req/s; quietest in your window: 04:00 UTC (≈ 12 req/s)';
  const TODAY_CONFIRM =
    'at the quietest 5 minutes before 2026-11-26 10:00 UTC by the last 7 days (04:00 UTC as read now)';

  it('says the slot inside the window that applying at the quietest time joins, and confirms that time', async () => {
    const s = setup();
    // 2026-11-26 06:00 UTC: 20 hours from now, inside the next 24 hours.
    waiting(s, 'lb-a/gra', s.clock.t + 20 * HOUR);
    const { posted } = await s.run('set lb-a http/101 cookie');
    expect(JSON.stringify(posted)).toContain(
      `${TODAY}; this zone already waits for 06:00 UTC (another request's slot): applying at the quietest time joins it`,
    );
    const [, quietest] = confirmTexts(posted);
    expect(quietest![0]).toBe('stickler_apply_quietest');
    expect(quietest![1]).toContain(
      'http/101 → *cookie* in zone *gra*, at 06:00 UTC, joining the slot this zone already waits for (one refresh).',
    );
    expect(quietest![1]).not.toContain('04:00');
    // Slack takes at most 300 characters in a confirmation.
    for (const [, text] of confirmTexts(posted)) expect((text ?? '').length).toBeLessThanOrEqual(300);
    expect(s.log.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('joins a slot kept without the request that chose it (an older item), and says its date when beyond 24 hours', async () => {
    const s = setup();
    s.zoneSlots.slots.set('lb-a/gra', [
      { at: Date.parse('2026-11-27T03:00:00Z'), typicalRate: 40, chosenAt: '2026-11-25T09:00:00.000Z' },
    ]);
    const { posted } = await s.run('set lb-a http/101 cookie window=2026-11-26T05:00Z/2026-11-27T05:00Z');
    expect(JSON.stringify(posted)).toContain(
      "this zone already waits for 2026-11-27 03:00 UTC (another request's slot): applying at the quietest time joins it",
    );
    expect(confirmTexts(posted)[1]![1]).toContain('at 2026-11-27 03:00 UTC, joining the slot');
  });

  it("says what it says today when the slot lies outside the window, has passed, or is another zone's", async () => {
    for (const [key, at, window] of [
      ['lb-a/gra', Date.parse('2026-11-26T12:00:00Z'), ''], // after the window's end
      ['lb-a/gra', Date.parse('2026-11-26T10:00:00Z'), ''], // at its end (the end is not in it)
      ['lb-a/gra', Date.parse('2026-11-26T09:59:35Z'), ''], // in the worker's last 30 s before the end
      ['lb-a/gra', Date.parse('2026-11-25T16:00:00Z'), ' window=2026-11-25T20:00Z/PT14H'], // before its start
      ['lb-a/gra', Date.parse('2026-11-25T09:59:00Z'), ''], // passed
      ['lb-a/gra', Date.parse('2026-11-25T10:00:00Z'), ''], // now: not ahead
      ['lb-a/sbg', Date.parse('2026-11-26T06:00:00Z'), ''], // another zone's
      ['lb-b/gra', Date.parse('2026-11-26T06:00:00Z'), ''], // another load balancer's
    ] as const) {
      const s = setup();
      waiting(s, key, at);
      const { posted } = await s.run(`set lb-a http/101 cookie${window}`);
      expect([key, at, JSON.stringify(posted).includes('already waits for')]).toEqual([key, at, false]);
      if (!window) {
        expect(JSON.stringify(posted)).toContain(`${TODAY}"`);
        expect(confirmTexts(posted)[1]![1]).toContain(TODAY_CONFIRM);
      }
    }
  });

  it("says what it says today when the slot's request no longer waits (applied, cancelled, unknown): the worker would not join it", async () => {
    for (const state of ['decided', 'completed', 'unknown'] as const) {
      const s = setup();
      waiting(s, 'lb-a/gra', s.clock.t + 20 * HOUR);
      if (state === 'unknown') s.records.records.clear();
      else s.records.records.set('r-first', { state, events: [] } as never);
      const { posted } = await s.run('set lb-a http/101 cookie');
      expect([state, JSON.stringify(posted).includes('already waits for')]).toEqual([state, false]);
      expect(confirmTexts(posted)[1]![1]).toContain(TODAY_CONFIRM);
    }
  });

  it('says what it says today, and logs a warning, when the slot or its request cannot be read: the proposal is made all the same', async () => {
    for (const failing of ['slot', 'request'] as const) {
      const s = setup();
      waiting(s, 'lb-a/gra', s.clock.t + 20 * HOUR);
      if (failing === 'slot') s.zoneSlots.failures.fail('get');
      else s.records.failures.fail('status');
      const { posted } = await s.run('set lb-a http/101 cookie');
      expect(JSON.stringify(posted)).toContain(`${TODAY}"`);
      expect(confirmTexts(posted)[1]![1]).toContain(TODAY_CONFIRM);
      expect(s.proposals.items.size).toBe(1);
      expect(s.log.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
        "could not read the slot the farm's zone waits for; the proposal says its window's quietest",
      ]);
    }
  });

  it("offers Apply at the quietest time for the zone's slot when the traffic is unknown (the worker joins it without a profile)", async () => {
    const s = setup();
    s.api.addFarm('lb-b', { type: 'http', farmId: 7, zone: 'gra', stored: null });
    waiting(s, 'lb-b/gra', s.clock.t + 2 * HOUR);
    const { posted } = await s.run('set lb-b http/7 cookie');
    expect(JSON.stringify(posted)).toContain(
      "traffic unknown: no metrics for this load balancer; this zone already waits for 12:00 UTC (another request's slot): applying at the quietest time joins it",
    );
    expect(confirmTexts(posted).map(([id]) => id)).toEqual([
      'stickler_apply',
      'stickler_apply_quietest',
      'stickler_cancel',
    ]);
    expect(confirmTexts(posted)[1]![1]).toContain(
      'at 12:00 UTC, joining the slot this zone already waits for',
    );
  });

  it("joins, for a farm of zone all, any zone's slot of its load balancer, and for a zone's farm zone all's, saying whose", async () => {
    const s = setup();
    s.api.addFarm('lb-a', { type: 'http', farmId: 104, zone: 'all', stored: null });
    waiting(s, 'lb-a/gra', s.clock.t + 20 * HOUR);
    const gra = (await s.run('set lb-a http/104 cookie')).posted;
    expect(JSON.stringify(gra)).toContain(
      "zone gra (this farm's zone all covers it) already waits for 06:00 UTC (another request's slot)",
    );
    expect(confirmTexts(gra)[1]![1]).toContain(
      "joining the slot zone gra (this farm's zone all covers it) already waits for",
    );
    // A quieter slot of zone all itself is preferred, as the worker prefers it.
    s.zoneSlots.slots.set('lb-a/all', [
      {
        at: s.clock.t + 19 * HOUR,
        typicalRate: 5,
        chosenAt: new Date(s.clock.t).toISOString(),
        requestId: 'r-all',
      },
    ]);
    s.records.records.set('r-all', { ...s.records.records.get('r-first')! });
    const all = (await s.run('set lb-a http/104 cookie')).posted;
    expect(JSON.stringify(all)).toContain("this zone already waits for 05:00 UTC (another request's slot)");
    // A farm of zone gra joins zone all's slot.
    const zoned = (await s.run('set lb-a http/101 cookie')).posted;
    expect(JSON.stringify(zoned)).toContain(
      "zone all (its refresh covers this zone) already waits for 05:00 UTC (another request's slot)",
    );
  });
});

describe('a click on Apply or Cancel', () => {
  const proposed = async (
    s: ReturnType<typeof setup>,
    text = 'set lb-a http/101 cookie ticket=OPS-9',
    fields = {},
  ) => s.buttonValue((await s.run(text, fields)).posted)!;
  const clickUrl = 'https://hooks.slack.com/actions/T0001/2/def';

  it('publishes one change request as the clicking user, keeps the reply address off the bus, and says so', async () => {
    const s = setup();
    const id = await proposed(s);
    expect(
      await s.click(request(clickBody({ actionId: 'stickler_apply', value: id, user_id: 'U0BOB' }))),
    ).toBe('applied');
    const [detail] = requested(s.publisher);
    expect(detail).toEqual({
      requestId: `slack-${id}`,
      service: 'lb-a',
      farmType: 'http',
      farmId: 101,
      stickiness: 'cookie',
      actor: { kind: 'chat', id: 'slack:T0001:U0BOB', name: 'alice' },
      ticket: 'OPS-9',
      reason: 'requested in Slack by slack:T0001:U0ALICE',
      requestedAt: s.clock.now().toISOString(),
      notify: { kind: 'slack' },
    });
    expect(s.publisher.published[0]!.source).toBe('stickler.slack');
    expect(JSON.stringify(s.publisher.published)).not.toContain('hooks.slack.com');
    expect(s.proposals.replies.get(`slack-${id}`)?.url).toBe(clickUrl);
    expect(s.responder.to(clickUrl)[0]).toMatchObject({
      replace_original: true,
      text: expect.stringMatching(/Apply requested by <@U0BOB>/),
    });
  });

  it('at the quietest time: publishes the request with a prefer-quietest window from the click to its end', async () => {
    const s = setup();
    const id = await proposed(s);
    s.clock.advance(60_000);
    expect(
      await s.click(request(clickBody({ actionId: 'stickler_apply_quietest', value: id, user_id: 'U0BOB' }))),
    ).toBe('applied');
    const [detail] = requested(s.publisher);
    expect(detail).toMatchObject({
      requestId: `slack-${id}`,
      actor: { kind: 'chat', id: 'slack:T0001:U0BOB' },
      window: {
        notBefore: '2026-11-25T10:01:00.000Z',
        notAfter: '2026-11-26T10:00:00.000Z',
        prefer: 'quietest',
      },
    });
    expect(s.responder.to(clickUrl)[0]?.text).toMatch(
      /Apply at the quietest time before 2026-11-26 10:00 UTC requested by <@U0BOB>/,
    );
    // Single use, whichever button: Apply now after it does nothing.
    expect(await s.click(request(clickBody({ actionId: 'stickler_apply', value: id })))).toBe('spent');
    expect(requested(s.publisher)).toHaveLength(1);
  });

  it("at the quietest time: keeps a window that opens later, and the second approver's rule", async () => {
    const s = setup(auth({ requireSecondApprover: true }));
    const id = await proposed(s, 'set lb-a http/101 cookie window=2026-11-26T00:00Z/PT6H');
    expect(await s.click(request(clickBody({ actionId: 'stickler_apply_quietest', value: id })))).toBe(
      'denied',
    );
    expect(
      await s.click(request(clickBody({ actionId: 'stickler_apply_quietest', value: id, user_id: 'U0BOB' }))),
    ).toBe('applied');
    expect(requested(s.publisher)[0]?.window).toEqual({
      notBefore: '2026-11-26T00:00:00.000Z',
      notAfter: '2026-11-26T06:00:00.000Z',
      prefer: 'quietest',
    });
  });

  it('at the quietest time: a window already over publishes nothing, and Apply now still works', async () => {
    const s = setup();
    const id = await proposed(s, 'set lb-a http/101 cookie window=2026-11-25T10:00Z/PT5M');
    s.clock.advance(6 * 60_000);
    expect(await s.click(request(clickBody({ actionId: 'stickler_apply_quietest', value: id })))).toBe(
      'window-ended',
    );
    expect(requested(s.publisher)).toEqual([]);
    expect(await s.click(request(clickBody({ actionId: 'stickler_apply', value: id })))).toBe('applied');
    expect(requested(s.publisher)[0]?.window).toBeUndefined();
  });

  it('works once: a second click, or a click after 15 minutes, does nothing but say so', async () => {
    const s = setup();
    const id = await proposed(s);
    await s.click(request(clickBody({ actionId: 'stickler_apply', value: id })));
    expect(await s.click(request(clickBody({ actionId: 'stickler_apply', value: id })))).toBe('spent');
    expect(await s.click(request(clickBody({ actionId: 'stickler_cancel', value: id })))).toBe('spent');
    expect(s.responder.to(clickUrl).at(-1)?.text).toMatch(
      /already requested \(Apply now or Apply at the quietest time: its outcome is posted here\) by <@U0ALICE>: nothing more was done/,
    );
    const late = await proposed(s, 'set lb-a http/101 sourceIp');
    s.clock.advance(PROPOSAL_TTL_MS);
    expect(await s.click(request(clickBody({ actionId: 'stickler_apply', value: late })))).toBe('expired');
    expect(s.responder.to(clickUrl).at(-1)?.text).toMatch(/expired/);
    expect(requested(s.publisher)).toHaveLength(1);
  });

  it('cancels: nothing published, and Apply after it does nothing', async () => {
    const s = setup();
    const id = await proposed(s);
    expect(await s.click(request(clickBody({ actionId: 'stickler_cancel', value: id })))).toBe('cancelled');
    expect(await s.click(request(clickBody({ actionId: 'stickler_apply', value: id })))).toBe('spent');
    expect(requested(s.publisher)).toEqual([]);
  });

  it('refuses a click from a user or channel that may not set, audited, and leaves the buttons to someone who may', async () => {
    const s = setup();
    const id = await proposed(s);
    expect(
      await s.click(request(clickBody({ actionId: 'stickler_apply', value: id, user_id: 'U0EVE' }))),
    ).toBe('denied');
    expect(
      await s.click(request(clickBody({ actionId: 'stickler_cancel', value: id, channel_id: 'C0X' }))),
    ).toBe('denied');
    expect(deniedEvents(s.publisher).map((d) => [d.actor.id, d.action])).toEqual([
      ['slack:T0001:U0EVE', 'apply'],
      ['slack:T0001:U0ALICE', 'cancel'],
    ]);
    expect(s.responder.to(clickUrl).at(-1)).toMatchObject({ replace_original: false });
    expect(await s.click(request(clickBody({ actionId: 'stickler_apply', value: id })))).toBe('applied');
  });

  it('with a second approver required, refuses the requester and takes another setter', async () => {
    const s = setup(auth({ requireSecondApprover: true }));
    const id = await proposed(s);
    expect(await s.click(request(clickBody({ actionId: 'stickler_apply', value: id })))).toBe('denied');
    expect(s.responder.to(clickUrl).at(-1)?.text).toMatch(/second approver/);
    expect(requested(s.publisher)).toEqual([]);
    expect(
      await s.click(request(clickBody({ actionId: 'stickler_apply', value: id, user_id: 'U0BOB' }))),
    ).toBe('applied');
  });

  it('says an unknown proposal is unknown', async () => {
    const s = setup();
    expect(await s.click(request(clickBody({ actionId: 'stickler_apply', value: 'f'.repeat(32) })))).toBe(
      'unknown',
    );
    expect(await s.click(request(clickBody({ actionId: 'stickler_apply', value: '../../x' })))).toBe(
      'unknown',
    );
  });

  it('opens the proposal again when the bus refuses the request, so a click again can apply it', async () => {
    const s = setup();
    const id = await proposed(s);
    s.publisher.refuse = () => true;
    expect(await s.click(request(clickBody({ actionId: 'stickler_apply', value: id })))).toBe(
      'publish-failed',
    );
    expect(s.responder.to(clickUrl).at(-1)?.text).toMatch(/Click Apply again/);
    s.publisher.refuse = () => false;
    expect(await s.click(request(clickBody({ actionId: 'stickler_apply', value: id })))).toBe('applied');
    expect(requested(s.publisher)).toHaveLength(1);
  });

  it('ignores interactions that are not its buttons; refuses a bad signature or a payload that is not JSON', async () => {
    const s = setup();
    expect(
      await s.click(request(`payload=${encodeURIComponent(JSON.stringify({ type: 'view_submission' }))}`)),
    ).toBe('ignored');
    await expect(s.click(request('payload=%7Bnot'))).rejects.toBeInstanceOf(InvalidInputError);
    await expect(
      s.click(request(clickBody({ actionId: 'stickler_apply', value: 'x' }), 'bad')),
    ).rejects.toBeInstanceOf(UnauthenticatedError);
  });
});

describe('the outcome back in Slack (notifier)', () => {
  const outcome = (over: Partial<ChangeAuditDetail> = {}): ChangeAuditDetail =>
    anAuditDetail({
      requestId: 'slack-1',
      origin: { source: 'stickler.slack', account: '1', eventId: 'e' },
      actor: { kind: 'chat', id: 'slack:T0001:U0ALICE' },
      ticket: null,
      farmId: 101,
      displayName: 'web-gra',
      refresh: { zone: 'gra', taskId: 7, status: 'done' },
      notify: { kind: 'slack' },
      ...over,
    });

  const notifier = () => {
    const proposals = new InMemoryChatProposals();
    const responder = new RecordingSlackResponder();
    const log = silentLog();
    const notify = makeNotifyOutcome({
      commenters: {},
      slack: { replyTarget: (id) => proposals.replyTarget(id), responder },
      log,
    });
    return { proposals, responder, log, notify };
  };

  it('posts the outcome in the conversation of the click', async () => {
    const n = notifier();
    await n.proposals.saveReplyTarget('slack-1', 'https://hooks.slack.com/actions/x', new Date());
    expect(await n.notify(outcome())).toBe('posted');
    expect(n.responder.posted[0]?.message).toMatchObject({
      response_type: 'in_channel',
      text: expect.stringContaining('applied: none → *cookie* in zone *gra* (OVH task 7)'),
    });
    await n.notify(
      outcome({ outcome: 'failed', code: 'ovh-unavailable', message: 'OVH answered 503', retryable: true }),
    );
    expect(n.responder.posted[1]?.message.text).toMatch(
      /FAILED \(ovh-unavailable\): OVH answered 503 It may succeed/,
    );
  });

  it('says the traffic the refresh cut, and the slot and rate of a deferral to the quietest time', async () => {
    const n = notifier();
    await n.proposals.saveReplyTarget('slack-1', 'https://hooks.slack.com/actions/x', new Date());
    await n.notify(
      outcome({
        traffic: {
          known: true,
          measuredAt: '2026-11-25T10:01:00.000Z',
          requestsPerSecond: 1780,
          connectionsPerSecond: 445,
        },
      }),
    );
    expect(n.responder.posted[0]?.message.text).toContain(
      'Traffic as the zone was applied: 1,780 req/s, 445 conn/s (the whole load balancer',
    );
    await n.notify(outcome({ traffic: { known: false, reason: 'no metrics <here>' } }));
    expect(n.responder.posted[1]?.message.text).toContain(
      'Traffic as the zone was applied: unknown (no metrics &lt;here&gt;).',
    );
    await n.notify(
      outcome({
        outcome: 'deferred',
        code: 'quietest-slot',
        deferredUntil: '2026-11-26T04:00:00.000Z',
        quietest: { at: '2026-11-26T04:00:00.000Z', typicalRequestsPerSecond: 180 },
      }),
    );
    expect(n.responder.posted[2]?.message.text).toContain(
      'deferred to the quietest 5 minutes of its window by the last 7 days of traffic: 2026-11-26 04:00 UTC (≈ 180 req/s typical',
    );
  });

  it('does not answer for requests another publisher sent, or without a kept address', async () => {
    const n = notifier();
    await n.proposals.saveReplyTarget('slack-1', 'https://hooks.slack.com/actions/x', new Date());
    expect(await n.notify(outcome({ origin: { source: 'billing', account: '1', eventId: 'e' } }))).toBe(
      'refused',
    );
    expect(await n.notify(outcome({ requestId: 'slack-2' }))).toBe('skipped');
    expect(n.responder.posted).toEqual([]);
  });

  it('gives up on an address Slack refuses (expired), and retries an outage', async () => {
    const n = notifier();
    await n.proposals.saveReplyTarget('slack-1', 'https://hooks.slack.com/actions/x', new Date());
    n.responder.failures.fail('respond', new SticklerError('slack-refused', 'HTTP 404 expired_url'));
    expect(await n.notify(outcome())).toBe('skipped');
    n.responder.failures.fail('respond', new SticklerError('timeout', 'no answer', { retryable: true }));
    await expect(n.notify(outcome())).rejects.toThrow('no answer');
  });
});
