/**
 * The Slack walk-through of the README, to its end: sends `/stickiness TEXT` to the local
 * pipeline as Slack would (signed with the pipeline's SLACK_SIGNING_SECRET), listens on a port of
 * your choosing as Slack's response URLs would, prints every reply, and when the plan comes back
 * with its Apply button, clicks it as Slack would (a signed block_actions payload built from that
 * reply), then prints the outcome the notifier posts. Run it with `simulate --pipeline`'s exports,
 * the pipeline started with STICKLER_SLACK_RESPONSE_ORIGIN=http://127.0.0.1:PORT:
 *
 *   npx tsx scripts/slack-walkthrough.ts --port 9977 --text "set loadbalancer-7f3a9c21 http/101 cookie"
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { parseArgs } from 'node:util';

type Reply = {
  text?: string;
  response_type?: string;
  blocks?: { type: string; elements?: { action_id?: string; value?: string }[] }[];
};

export interface WalkthroughOptions {
  apiUrl: string;
  secret: string;
  port: number;
  text: string;
  team?: string;
  user?: string;
  channel?: string;
  timeoutMs?: number;
  say?: (line: string) => void;
}

const signed = (body: string, secret: string) => {
  const ts = Math.floor(Date.now() / 1000);
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(ts),
    'x-slack-signature': `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`,
  };
};

/** The value of the plan's Apply button, if this reply carries one. */
export const applyValueOf = (reply: Reply): string | undefined =>
  reply.blocks?.find((b) => b.type === 'actions')?.elements?.find((e) => e.action_id === 'stickler_apply')
    ?.value;

/** Runs the walk-through; resolves with the outcome's text, or rejects saying where it stopped. */
export const runSlackWalkthrough = async (o: WalkthroughOptions): Promise<string> => {
  const say = o.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  const team = o.team ?? 'T0001';
  const user = o.user ?? 'U0ALICE';
  const channel = o.channel ?? 'C0OPS';
  const replies: { path: string; reply: Reply }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      try {
        const reply = JSON.parse(body) as Reply;
        replies.push({ path: req.url ?? '', reply });
        say(`Slack reply on ${req.url}: ${reply.text ?? '(no text)'}`);
      } catch {
        say(`Slack reply on ${req.url}: not JSON`);
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, '127.0.0.1', () => resolve());
  });
  const origin = `http://127.0.0.1:${o.port}`;
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  const waitFor = async <T>(what: string, found: () => T | undefined): Promise<T> => {
    for (;;) {
      const value = found();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`no ${what} came back to ${origin} in time`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const post = async (route: string, body: string) => {
    const answer = await fetch(`${o.apiUrl}/slack/${route}`, {
      method: 'POST',
      body,
      headers: signed(body, o.secret),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await answer.text();
    if (answer.status !== 200) throw new Error(`POST /slack/${route}: HTTP ${answer.status} ${text}`);
    return text;
  };
  try {
    const command = new URLSearchParams({
      team_id: team,
      team_domain: 'local',
      channel_id: channel,
      channel_name: 'ops',
      user_id: user,
      user_name: user.toLowerCase(),
      command: '/stickiness',
      text: o.text,
      api_app_id: 'A0STICKLER',
      response_url: `${origin}/commands/1`,
      trigger_id: `${Date.now()}.local`,
    }).toString();
    say(`/stickiness ${o.text}`);
    const ack = JSON.parse(await post('commands', command)) as Reply;
    say(`Slack shows at once: ${ack.text}`);
    // Work was started only when Slack is told so; any other answer (a refusal, the usage) ends it.
    if (!ack.text?.startsWith('Working on'))
      throw new Error(`no plan to apply: ${ack.text ?? 'an empty answer'}`);
    // The plan with its buttons, or an answer without them (a refusal, an error): said at once.
    const answered = await waitFor('plan with an Apply button', () =>
      replies.find((r) => r.path.startsWith('/commands/')),
    );
    const value = applyValueOf(answered.reply);
    if (value === undefined)
      throw new Error(`no plan to apply: ${answered.reply.text ?? 'an answer without text'}`);
    say('Clicking Apply (and confirming, as the dialog asks)');
    const click = new URLSearchParams({
      payload: JSON.stringify({
        type: 'block_actions',
        user: { id: user, username: user.toLowerCase(), team_id: team },
        api_app_id: 'A0STICKLER',
        container: { type: 'message', channel_id: channel, is_ephemeral: true },
        trigger_id: `${Date.now()}.local`,
        team: { id: team, domain: 'local' },
        channel: { id: channel, name: 'ops' },
        response_url: `${origin}/actions/2`,
        actions: [
          {
            action_id: 'stickler_apply',
            block_id: 'stickler_proposal',
            value,
            type: 'button',
            action_ts: String(Date.now() / 1000),
          },
        ],
      }),
    }).toString();
    await post('interactions', click);
    const outcome = await waitFor('outcome', () =>
      replies.find((r) => r.path.startsWith('/actions/') && r.reply.response_type === 'in_channel'),
    );
    return outcome.reply.text ?? '';
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
};

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '9977' },
      text: { type: 'string', default: 'set loadbalancer-7f3a9c21 http/101 cookie' },
      user: { type: 'string' },
      channel: { type: 'string' },
      team: { type: 'string' },
    },
  });
  const apiUrl = process.env.STICKLER_API_URL;
  const secret = process.env.SLACK_SIGNING_SECRET;
  if (!apiUrl || !secret) {
    process.stderr.write(
      "set STICKLER_API_URL and SLACK_SIGNING_SECRET: source 'simulate --pipeline's exports first\n",
    );
    process.exit(1);
  }
  runSlackWalkthrough({
    apiUrl,
    secret,
    port: Number(values.port),
    text: values.text!,
    ...(values.user ? { user: values.user } : {}),
    ...(values.channel ? { channel: values.channel } : {}),
    ...(values.team ? { team: values.team } : {}),
  }).then(
    (outcome) => process.stdout.write(`Outcome: ${outcome}\n`),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
