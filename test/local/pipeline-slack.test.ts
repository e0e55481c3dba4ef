import type { LocalPipeline } from '../../lib/local/pipeline';
import type { RunningSimulator } from '../../lib/simulator/server';
import { startFakeHttp } from '../helpers/fake-http';
import { type PipelineHarness, startPipelineHarness } from '../helpers/pipeline';
import { clickBody, signSlack, slashBody } from '../helpers/slack';

type Message = { text: string; replace_original?: boolean; response_type?: string; blocks?: unknown[] };

describe('Slack chat-ops through the local pipeline: /slack/commands → work → plan + buttons → Apply → worker → outcome', () => {
  let sim: RunningSimulator;
  let pipeline: LocalPipeline;
  let slack: Awaited<ReturnType<typeof startFakeHttp>>;
  let harness: PipelineHarness;
  const saved = { ...process.env };
  beforeAll(async () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    // Stands in for hooks.slack.com: the local stage allows this origin by configuration.
    slack = await startFakeHttp(() => ({ status: 200 }));
    harness = await startPipelineHarness({
      pipeline: {
        slack: {
          STICKLER_SLACK_TEAMS: 'T0001',
          STICKLER_SLACK_SETTERS: 'U0ALICE,T0001:U0BOB',
          STICKLER_SLACK_CHANNELS: 'C0OPS',
          STICKLER_SLACK_RESPONSE_ORIGIN: slack.url,
        },
      },
    });
    ({ sim, pipeline } = harness);
  });
  afterAll(async () => {
    await harness.close();
    await slack.close();
    process.env = saved;
  });

  let n = 0;
  const replyUrl = (kind: string) => `${slack.url}/${kind}/T0001/${++n}/token${n}`;
  const post = (route: string, body: string, headers = signSlack(body)) =>
    fetch(`${pipeline.env.STICKLER_API_URL}/slack/${route}`, { method: 'POST', body, headers });
  const postedTo = (url: string) =>
    slack.requests.filter((r) => r.path === new URL(url).pathname).map((r) => JSON.parse(r.body) as Message);
  const until = async <T>(found: () => T, ms: number): Promise<T> => {
    for (const end = Date.now() + ms; !found() && Date.now() < end; )
      await new Promise((r) => setTimeout(r, 50));
    return found();
  };
  const farm = (key: string) => sim.state.services.get('loadbalancer-7f3a9c21')!.farms.get(key)!;
  const requested = () =>
    pipeline.bus.events.filter((e) => e['detail-type'] === 'Stickiness Change Requested');
  const denied = () => pipeline.bus.events.filter((e) => e['detail-type'] === 'Stickiness Change Denied');
  const applyValue = (m: Message): string => {
    const actions = m.blocks!.find((b) => (b as { type: string }).type === 'actions') as {
      elements: { action_id: string; value: string }[];
    };
    return actions.elements.find((e) => e.action_id === 'stickler_apply')!.value;
  };

  /** `/stickiness set …` by `user`, then the plan with its buttons, as posted to the response URL. */
  const set = async (text: string, user = 'U0ALICE') => {
    const url = replyUrl('commands');
    const started = Date.now();
    const answer = await post('commands', slashBody({ text, user_id: user, response_url: url }));
    const elapsed = Date.now() - started;
    expect(answer.status).toBe(200);
    const ack = (await answer.json()) as Message;
    const [plan] = (await until(() => (postedTo(url).length > 0 ? postedTo(url) : undefined), 10_000)) ?? [];
    return { ack, elapsed, plan: plan!, url };
  };

  it('asks, then applies on Apply: the farm is applied on the simulator and the outcome is posted back', async () => {
    const before = farm('http/101').stored.stickiness;
    const target = before === 'cookie' ? 'sourceIp' : 'cookie';
    // The tests share one pipeline, in any order: counts are taken from here.
    const published = requested().length;
    const { ack, plan } = await set(
      `set loadbalancer-7f3a9c21 http/101 ${target} ticket=OPS-77 reason="sessions bounce"`,
    );
    expect(ack.text).toMatch(/^Working on/);
    expect(plan.text).toContain('web-checkout-gra');
    expect(plan.text).toContain(`→ *${target}*`);
    expect(plan.text).toContain('their HTTP sessions are lost');
    expect(farm('http/101').stored.stickiness).toBe(before); // nothing written before the click
    expect(requested()).toHaveLength(published);

    const clickUrl = replyUrl('actions');
    const click = await post(
      'interactions',
      clickBody({ actionId: 'stickler_apply', value: applyValue(plan), response_url: clickUrl }),
    );
    expect(click.status).toBe(200);
    const outcome = await until(
      () => postedTo(clickUrl).find((m) => m.response_type === 'in_channel'),
      15_000,
    );
    expect(outcome?.text).toMatch(/applied: .* → \*cookie\*|applied: .* → \*sourceIp\*/);
    expect(farm('http/101').stored.stickiness).toBe(target);
    expect(farm('http/101').applied.get('gra')?.stickiness).toBe(target);
    const request = requested()[published];
    expect(request).toMatchObject({
      source: 'stickler.slack',
      detail: {
        actor: { kind: 'chat', id: 'slack:T0001:U0ALICE', name: 'alice' },
        ticket: 'OPS-77',
        notify: { kind: 'slack' },
      },
    });
    // The reply address is in no event at all.
    expect(JSON.stringify(pipeline.bus.events)).not.toContain('/actions/T0001/');
    expect(JSON.stringify(pipeline.bus.events)).not.toContain('/commands/T0001/');

    // A second click on the same buttons does nothing but say so.
    const again = replyUrl('actions');
    await post(
      'interactions',
      clickBody({ actionId: 'stickler_apply', value: applyValue(plan), response_url: again }),
    );
    const said = await until(() => postedTo(again)[0], 5_000);
    expect(said?.text).toMatch(/already requested .* by <@U0ALICE>/);
    expect(requested()).toHaveLength(published + 1);
  }, 40_000);

  it("says the simulator's traffic and its quietest slot, and Apply at the quietest time defers the change there", async () => {
    const published = requested().length;
    // http/105, which no other test here changes (zone all: every zone's refresh would cut it).
    // A window from the next midnight UTC, so that its quietest slot is never now, whatever the hour.
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    const { plan } = await set(
      `set loadbalancer-7f3a9c21 http/105 cookie reason="quiet please" window=${midnight.toISOString()}/PT12H`,
    );
    // The example fleet's curve: quietest at 04:00 UTC, about 180 req/s then.
    expect(JSON.stringify(plan)).toMatch(
      /traffic now: [\d,.]+ req\/s; quietest in your window: (\d{4}-\d\d-\d\d )?0[34]:[0-5]\d UTC \(≈ 1\d\d req\/s\)/,
    );
    const actions = plan.blocks!.find((b) => (b as { type: string }).type === 'actions') as {
      elements: { action_id: string; value: string }[];
    };
    expect(actions.elements.map((e) => e.action_id)).toEqual([
      'stickler_apply',
      'stickler_apply_quietest',
      'stickler_cancel',
    ]);
    const before = farm('http/105').stored.stickiness;
    const clickUrl = replyUrl('actions');
    const click = await post(
      'interactions',
      clickBody({ actionId: 'stickler_apply_quietest', value: applyValue(plan), response_url: clickUrl }),
    );
    expect(click.status).toBe(200);
    const request = requested()[published] as { detail: { requestId: string; window: object } };
    expect(request.detail.window).toMatchObject({ prefer: 'quietest' });
    const deferred = await until(
      () =>
        pipeline.bus.events.find(
          (e) =>
            e['detail-type'] === 'Stickiness Change Deferred' &&
            (e.detail as { requestId: string }).requestId === request.detail.requestId,
        ),
      15_000,
    );
    expect(deferred?.detail).toMatchObject({ code: 'quietest-slot' });
    const slot = Date.parse((deferred!.detail as { deferredUntil: string }).deferredUntil);
    expect(Math.abs(slot - (midnight.getTime() + 4 * 3_600_000))).toBeLessThanOrEqual(5 * 60_000);
    expect(farm('http/105').stored.stickiness).toBe(before); // nothing written before the slot
    // The notifier tells the conversation when, and the rate expected.
    const told = await until(() => postedTo(clickUrl).find((m) => m.response_type === 'in_channel'), 10_000);
    expect(told?.text).toMatch(
      /deferred to the quietest 5 minutes of its window by the last 7 days of traffic: \d{4}-\d\d-\d\d 0[34]:[0-5]\d UTC \(≈ 1\d\d req\/s typical/,
    );

    // The worker remembers that slot for the farm's zone: the next proposal in a window holding it
    // says that applying at the quietest time joins it, and its confirmation names that time.
    const other = before === 'sourceIp' ? 'none' : 'sourceIp';
    const next = await set(
      `set loadbalancer-7f3a9c21 http/105 ${other} window=${new Date(midnight.getTime() + 3_600_000).toISOString()}/PT6H`,
    );
    // The slot's time, with its date when it is more than 24 hours ahead.
    const at = new Date(slot).toISOString();
    const time = `(${at.slice(0, 10)} )?${at.slice(11, 16)} UTC`;
    expect(JSON.stringify(next.plan)).toMatch(
      new RegExp(
        `this zone already waits for ${time} \\(another request's slot\\): applying at the quietest time joins it`,
      ),
    );
    const nextActions = next.plan.blocks!.find((b) => (b as { type: string }).type === 'actions') as {
      elements: { action_id: string; confirm?: { text: { text: string } } }[];
    };
    expect(
      nextActions.elements.find((e) => e.action_id === 'stickler_apply_quietest')?.confirm?.text.text,
    ).toMatch(new RegExp(`at ${time}, joining the slot this zone already waits for`));
  }, 40_000);

  it('answers within Slack 3 seconds while OVH takes 2 s per call', async () => {
    sim.faults.latencyMs = 2_000;
    try {
      const { ack, elapsed, plan } = await set('plan loadbalancer-7f3a9c21 http/103 sourceIp');
      expect(ack.text).toMatch(/^Working on/);
      expect(elapsed).toBeLessThan(3_000);
      expect(plan.text).toContain('web-checkout-rbx');
    } finally {
      sim.faults.latencyMs = 0;
    }
  }, 30_000);

  it('refuses a user who may not set, and a channel where setting is not allowed: an audit event, nothing published', async () => {
    const events = requested().length;
    const eve = await post(
      'commands',
      slashBody({
        text: 'set loadbalancer-7f3a9c21 http/102 cookie',
        user_id: 'U0EVE',
        response_url: replyUrl('commands'),
      }),
    );
    expect(((await eve.json()) as Message).text).toMatch(/not allowed to change stickiness/);
    const channel = await post(
      'commands',
      slashBody({
        text: 'set loadbalancer-7f3a9c21 http/102 cookie',
        channel_id: 'C0RANDOM',
        response_url: replyUrl('commands'),
      }),
    );
    expect(((await channel.json()) as Message).text).toMatch(/not allowed in this channel/);
    await until(() => denied().length >= 2, 2_000);
    expect(denied().map((e) => (e.detail as { actor: { id: string } }).actor.id)).toEqual(
      expect.arrayContaining(['slack:T0001:U0EVE', 'slack:T0001:U0ALICE']),
    );
    expect(requested()).toHaveLength(events);
  });

  it('refuses a click from a user who may not set, then lets an allowed one apply', async () => {
    const { plan } = await set('set loadbalancer-7f3a9c21 http/104 sourceIp');
    const events = requested().length;
    const eveUrl = replyUrl('actions');
    await post(
      'interactions',
      clickBody({
        actionId: 'stickler_apply',
        value: applyValue(plan),
        user_id: 'U0EVE',
        response_url: eveUrl,
      }),
    );
    expect((await until(() => postedTo(eveUrl)[0], 5_000))?.text).toMatch(/not allowed to change stickiness/);
    expect(requested()).toHaveLength(events);
    const cancelUrl = replyUrl('actions');
    await post(
      'interactions',
      clickBody({
        actionId: 'stickler_cancel',
        value: applyValue(plan),
        user_id: 'U0BOB',
        response_url: cancelUrl,
      }),
    );
    expect((await until(() => postedTo(cancelUrl)[0], 5_000))?.text).toMatch(/cancelled by <@U0BOB>/);
    expect(requested()).toHaveLength(events);
  });

  it('Undo under an applied outcome proposes the reverse, applied on Apply like any change; once the farm has moved on, it is refused', async () => {
    const before = farm('http/104').stored.stickiness ?? null;
    const target = before === 'cookie' ? 'sourceIp' : 'cookie';
    const { plan } = await set(`set loadbalancer-7f3a9c21 http/104 ${target}`);
    const clickUrl = replyUrl('actions');
    await post(
      'interactions',
      clickBody({ actionId: 'stickler_apply', value: applyValue(plan), response_url: clickUrl }),
    );
    const outcome = (await until(
      () => postedTo(clickUrl).find((m) => m.response_type === 'in_channel'),
      15_000,
    ))!;
    const undoButton = (
      outcome.blocks!.find((b) => (b as { type: string }).type === 'actions') as {
        elements: { action_id: string; value: string }[];
      }
    ).elements[0]!;
    expect(undoButton.action_id).toBe('stickler_undo');
    const requestId = undoButton.value;

    // Undo: a proposal of the reverse, nothing written yet.
    const undoUrl = replyUrl('actions');
    const published = requested().length;
    await post(
      'interactions',
      clickBody({ actionId: 'stickler_undo', value: requestId, user_id: 'U0BOB', response_url: undoUrl }),
    );
    const proposal = (await until(() => postedTo(undoUrl)[0], 5_000))!;
    expect(proposal.text).toContain(`${target} → *${before ?? 'none'}*`);
    expect(requested()).toHaveLength(published);
    expect(farm('http/104').stored.stickiness ?? null).toBe(target);

    // Apply on it: the farm goes back, audited as an undo.
    const applyUrl = replyUrl('actions');
    await post(
      'interactions',
      clickBody({
        actionId: 'stickler_apply',
        value: applyValue(proposal),
        user_id: 'U0BOB',
        response_url: applyUrl,
      }),
    );
    const undone = await until(
      () => postedTo(applyUrl).find((m) => m.response_type === 'in_channel'),
      15_000,
    );
    expect(undone?.text).toMatch(/applied: /);
    expect(farm('http/104').stored.stickiness ?? null).toBe(before);
    expect(requested().at(-1)!.detail).toMatchObject({
      reason: `undo of ${requestId}`,
      actor: { id: 'slack:T0001:U0BOB' },
      // Carried out only over what the Undo showed.
      ifStores: expect.any(String),
    });

    // The first request cannot be undone again: the farm has moved on since (the undo).
    const againUrl = replyUrl('actions');
    await post(
      'interactions',
      clickBody({ actionId: 'stickler_undo', value: requestId, response_url: againUrl }),
    );
    const refused = await until(() => postedTo(againUrl)[0], 5_000);
    expect(refused?.text).toMatch(
      /cannot be undone: loadbalancer-7f3a9c21 http\/104 has been changed since by request slack-/,
    );
  }, 60_000);

  it('refuses Undo to a user who may not set, with an audit event', async () => {
    const url = replyUrl('actions');
    const events = denied().length;
    await post(
      'interactions',
      clickBody({ actionId: 'stickler_undo', value: 'slack-0123', user_id: 'U0EVE', response_url: url }),
    );
    const said = await until(() => postedTo(url)[0], 5_000);
    expect(said?.text).toMatch(/Sorry, stickler cannot do that for you/);
    expect(denied().length).toBe(events + 1);
  });

  it('refuses a bad or stale signature with 401 and publishes nothing', async () => {
    const events = pipeline.bus.events.length;
    const body = slashBody({ text: 'set loadbalancer-7f3a9c21 http/102 cookie' });
    expect((await post('commands', body, signSlack(body, 'a guess'))).status).toBe(401);
    expect(
      (await post('commands', body, signSlack(body, undefined, Math.floor(Date.now() / 1000) - 301))).status,
    ).toBe(401);
    expect((await post('commands', `${body}&x=1`, signSlack(body))).status).toBe(401);
    const click = clickBody({ actionId: 'stickler_apply', value: '0'.repeat(32) });
    expect((await post('interactions', click, signSlack(click, 'a guess'))).status).toBe(401);
    expect(pipeline.bus.events.length).toBe(events);
  });

  it('never calls a response URL that is not Slack address', async () => {
    const calls = slack.requests.length;
    const answer = await post(
      'commands',
      slashBody({ text: 'show loadbalancer-7f3a9c21', response_url: 'https://attacker.example/commands/x' }),
    );
    expect(((await answer.json()) as Message).text).toMatch(/without a Slack response address/);
    await new Promise((r) => setTimeout(r, 300));
    expect(slack.requests.length).toBe(calls);
  });
});
