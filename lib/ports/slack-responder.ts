/**
 * Posts a message to a Slack `response_url`. Only Slack's origin is ever called (or, in the
 * local stage, a test origin set by configuration): `allows` says whether a URL may be used.
 * Neither the URL nor the message is logged or put in an error.
 */
import type { KnownBlock } from '@slack/types';

export interface SlackMessage {
  text: string;
  blocks?: KnownBlock[];
  response_type?: 'ephemeral' | 'in_channel';
  replace_original?: boolean;
}

export interface SlackResponder {
  allows(responseUrl: string): boolean;
  respond(responseUrl: string, message: SlackMessage): Promise<void>;
}
