/**
 * Slack requests as Slack sends them: form-encoded bodies, signed with the published v0
 * algorithm (HMAC-SHA256 over `v0:<timestamp>:<body>`), computed here independently of the code
 * under test.
 */
import { createHmac } from 'node:crypto';

export const LOCAL_SECRET = 'stickler-local-slack-secret';

export const signSlack = (
  body: string,
  secret = LOCAL_SECRET,
  timestampS = Math.floor(Date.now() / 1000),
) => ({
  'content-type': 'application/x-www-form-urlencoded',
  'x-slack-request-timestamp': String(timestampS),
  'x-slack-signature': `v0=${createHmac('sha256', secret).update(`v0:${timestampS}:${body}`).digest('hex')}`,
});

export interface SlashFields {
  text: string;
  team_id?: string;
  user_id?: string;
  user_name?: string;
  channel_id?: string;
  response_url?: string;
  command?: string;
}

/** A slash command body in Slack's wire order and encoding (`+` for spaces, `%2F`). */
export const slashBody = (f: SlashFields): string =>
  new URLSearchParams({
    token: 'gIkuvaNzQIHg97ATvDxqgjtO',
    team_id: f.team_id ?? 'T0001',
    team_domain: 'example',
    channel_id: f.channel_id ?? 'C0OPS',
    channel_name: 'ops',
    user_id: f.user_id ?? 'U0ALICE',
    user_name: f.user_name ?? 'alice',
    command: f.command ?? '/stickiness',
    text: f.text,
    api_app_id: 'A0STICKLER',
    is_enterprise_install: 'false',
    response_url: f.response_url ?? 'https://hooks.slack.com/commands/T0001/1/abc',
    trigger_id: '13345224609.738474920.8088930838d88f008e0',
  }).toString();

/** A block_actions payload for a click on one of stickler's buttons. */
export const clickBody = (o: {
  actionId: 'stickler_apply' | 'stickler_apply_quietest' | 'stickler_cancel' | 'stickler_undo';
  value: string;
  team_id?: string;
  user_id?: string;
  channel_id?: string;
  response_url?: string;
}): string =>
  new URLSearchParams({
    payload: JSON.stringify({
      type: 'block_actions',
      user: { id: o.user_id ?? 'U0ALICE', username: 'alice', name: 'alice', team_id: o.team_id ?? 'T0001' },
      api_app_id: 'A0STICKLER',
      token: 'gIkuvaNzQIHg97ATvDxqgjtO',
      container: {
        type: 'message',
        message_ts: '1548261231.000200',
        channel_id: o.channel_id ?? 'C0OPS',
        is_ephemeral: true,
      },
      trigger_id: '12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3',
      team: { id: o.team_id ?? 'T0001', domain: 'example' },
      channel: { id: o.channel_id ?? 'C0OPS', name: 'ops' },
      response_url: o.response_url ?? 'https://hooks.slack.com/actions/T0001/2/def',
      actions: [
        {
          action_id: o.actionId,
          block_id: 'stickler_proposal',
          text: { type: 'plain_text', text: o.actionId === 'stickler_apply' ? 'Apply' : 'Cancel' },
          value: o.value,
          style: 'danger',
          type: 'button',
          action_ts: '1548426417.840180',
        },
      ],
    }),
  }).toString();
