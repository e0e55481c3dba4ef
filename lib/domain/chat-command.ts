/**
 * What an operator types after the chat command (`/stickiness plan lb-1 http/101 cookie`), read
 * into a command or a usage problem. Pure: the same words give the same answer, and nothing a
 * user types can make it throw.
 *
 *   help
 *   show SERVICE [TYPE/FARM_ID]
 *   plan SERVICE TYPE/FARM_ID STICKINESS
 *   set  SERVICE TYPE/FARM_ID STICKINESS [ticket=KEY] [reason="…"] [window=START/END]
 *
 * `window` is kept as typed (ISO 8601, `parseTimeWindow`): whether it is still ahead depends on the
 * time, which this reader is not given.
 */
import { parseFarmReference } from './change-command';
import { InvalidInputError } from './errors';
import { SERVICE_NAME_PATTERN, SERVICE_NAME_RULE } from './farm';
import type { FarmType, StickinessWord } from './stickiness';
import { STICKINESS_WORDS } from './stickiness';

/** Longest command text read (Slack sends at most a few thousand characters). */
export const MAX_COMMAND_TEXT = 2_000;

export interface FarmTarget {
  service: string;
  farmType: FarmType;
  farmId: number;
  stickiness: StickinessWord;
}

export type ChatCommand =
  | { kind: 'help' }
  | { kind: 'show'; service: string; farm?: { farmType: FarmType; farmId: number } }
  | ({ kind: 'plan' } & FarmTarget)
  | ({ kind: 'set'; ticket?: string; reason?: string; window?: string } & FarmTarget);

export type ChatCommandKind = ChatCommand['kind'];

export const CHAT_USAGE = [
  'help',
  'show SERVICE [TYPE/FARM_ID]',
  'plan SERVICE TYPE/FARM_ID STICKINESS',
  'set SERVICE TYPE/FARM_ID STICKINESS [ticket=KEY] [reason="why"] [window=START/END]',
] as const;

/** A command that does not read: what was wrong, in a sentence for the person who typed it. */
export class ChatUsageError extends InvalidInputError {
  constructor(message: string) {
    super(message, [], 'chat-usage');
  }
}

/** Double quotes, straight or typographic (chat clients substitute them); an apostrophe is a letter. */
const QUOTES: Record<string, string> = { '"': '"', '“': '”', '”': '”', '„': '“' };

/**
 * Splits on white space; a quoted part (straight or typographic quotes, which chat clients
 * substitute) stays one word, quotes removed: `reason="pin sessions"` is one word.
 */
export const splitWords = (text: string): string[] => {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let closing: string | undefined;
  for (const c of text) {
    if (closing !== undefined) {
      if (c === closing || c === '"' || c === '”') closing = undefined;
      else current += c;
      continue;
    }
    if (/\s/.test(c)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c in QUOTES) closing = QUOTES[c];
    else current += c;
  }
  if (closing !== undefined) throw new ChatUsageError('a quote is not closed');
  if (inWord) words.push(current);
  return words;
};

const serviceWord = (word: string | undefined): string => {
  if (!word) throw new ChatUsageError('a load balancer service name is missing');
  if (!SERVICE_NAME_PATTERN.test(word)) throw new ChatUsageError(`'${shorten(word)}': ${SERVICE_NAME_RULE}`);
  return word;
};

const farmWord = (word: string | undefined) => {
  if (!word) throw new ChatUsageError('a farm is missing (TYPE/FARM_ID, for example http/101)');
  try {
    const { farmType, farmId } = parseFarmReference(word);
    return { farmType: farmType as FarmType, farmId };
  } catch {
    throw new ChatUsageError(
      `'${shorten(word)}' is not a farm: TYPE/FARM_ID, for example http/101 or tcp/45`,
    );
  }
};

const stickinessWord = (word: string | undefined): StickinessWord => {
  if (!word) throw new ChatUsageError(`a stickiness is missing (${STICKINESS_WORDS.join(', ')})`);
  const found = STICKINESS_WORDS.find((w) => w.toLowerCase() === word.toLowerCase());
  if (!found)
    throw new ChatUsageError(`'${shorten(word)}' is not a stickiness: one of ${STICKINESS_WORDS.join(', ')}`);
  return found;
};

const shorten = (word: string) => (word.length > 40 ? `${word.slice(0, 40)}…` : word);

const TICKET_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:#/-]{0,63}$/;

/** The characters of an ISO 8601 window (the full reading is `parseTimeWindow`'s). */
const WINDOW_PATTERN = /^[0-9A-Za-z:.+/-]{1,80}$/;

const noMore = (words: string[], from: number, grammar: string) => {
  if (words.length > from)
    throw new ChatUsageError(`unexpected '${shorten(words[from]!)}': the command is ${grammar}`);
};

/** Reads the text after the command name. Throws ChatUsageError, and nothing else, on bad input. */
export const parseChatCommand = (text: string): ChatCommand => {
  if (text.length > MAX_COMMAND_TEXT)
    throw new ChatUsageError(`the command is longer than ${MAX_COMMAND_TEXT} characters`);
  const words = splitWords(text);
  const verb = (words[0] ?? 'help').toLowerCase();
  switch (verb) {
    case 'help':
      return { kind: 'help' };
    case 'show': {
      const service = serviceWord(words[1]);
      noMore(words, 3, CHAT_USAGE[1]);
      return words[2] ? { kind: 'show', service, farm: farmWord(words[2]) } : { kind: 'show', service };
    }
    case 'plan': {
      const target = {
        service: serviceWord(words[1]),
        ...farmWord(words[2]),
        stickiness: stickinessWord(words[3]),
      };
      noMore(words, 4, CHAT_USAGE[2]);
      return { kind: 'plan', ...target };
    }
    case 'set': {
      const target = {
        service: serviceWord(words[1]),
        ...farmWord(words[2]),
        stickiness: stickinessWord(words[3]),
      };
      const options: { ticket?: string; reason?: string; window?: string } = {};
      for (const word of words.slice(4)) {
        const eq = word.indexOf('=');
        const key = eq > 0 ? word.slice(0, eq).toLowerCase() : '';
        const value = word.slice(eq + 1).trim();
        if (key === 'ticket' && !('ticket' in options)) {
          if (!TICKET_PATTERN.test(value))
            throw new ChatUsageError(
              `ticket '${shorten(value)}' is not a ticket key (letters, digits, . _ : # / -, up to 64)`,
            );
          options.ticket = value;
        } else if (key === 'reason' && !('reason' in options)) {
          if (!value) throw new ChatUsageError('reason is empty');
          // Printable text only: it is shown in Slack and stored in audit events.
          options.reason = Array.from(value.slice(0, 500), (c) =>
            c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f) ? ' ' : c,
          ).join('');
        } else if (key === 'window' && !('window' in options)) {
          if (!WINDOW_PATTERN.test(value))
            throw new ChatUsageError(
              `window '${shorten(value)}' is not START/END in ISO 8601 with offsets (2026-12-08T00:00Z/PT6H)`,
            );
          options.window = value;
        } else {
          throw new ChatUsageError(`unexpected '${shorten(word)}': the command is ${CHAT_USAGE[3]}`);
        }
      }
      return { kind: 'set', ...target, ...options };
    }
    default:
      throw new ChatUsageError(`'${shorten(words[0]!)}' is not a command`);
  }
};
