/**
 * Who may do what from chat, on stable ids only (workspace/team id, user id, channel id), never
 * display names, which anyone can change. Fails closed: nothing configured, nothing allowed.
 *
 * - `set` (and the Apply click) needs a setter in a setter channel;
 * - `show` and `plan` need a reader in a reader channel (by default every user and channel of the
 *   allowed workspaces: reading the fleet writes nothing);
 * - `help` is open to every allowed workspace;
 * - with `requireSecondApprover`, the Apply click must come from a setter other than the requester.
 */

export interface ChatAuthorization {
  /** Workspace (team) ids; every command from another workspace is refused. `*` (the local stage's default): any. */
  teams: ReadonlySet<string>;
  /** Setter user ids, `U123` (any allowed workspace) or `T123:U123` (that workspace only); no wildcard. */
  setters: ReadonlySet<string>;
  /** Channel ids where `set` and Apply are allowed; no wildcard. */
  setterChannels: ReadonlySet<string>;
  /** Reader user ids like setters; `*` for every user of the allowed workspaces. */
  readers: ReadonlySet<string>;
  /** Channel ids where `show` and `plan` answer; `*` for every channel. */
  readerChannels: ReadonlySet<string>;
  requireSecondApprover: boolean;
}

export interface ChatCaller {
  teamId: string;
  userId: string;
  channelId: string;
}

export type ChatAction = 'help' | 'show' | 'plan' | 'set' | 'apply' | 'cancel';

export type Verdict = { allowed: true } | { allowed: false; reason: string };

const listed = (set: ReadonlySet<string>, caller: ChatCaller) =>
  set.has('*') || set.has(caller.userId) || set.has(`${caller.teamId}:${caller.userId}`);

const inChannel = (set: ReadonlySet<string>, caller: ChatCaller) => set.has('*') || set.has(caller.channelId);

export const authorizeChat = (
  auth: ChatAuthorization,
  action: ChatAction,
  caller: ChatCaller,
  requester?: { teamId: string; userId: string },
): Verdict => {
  if (!auth.teams.has(caller.teamId) && !auth.teams.has('*'))
    return { allowed: false, reason: 'this workspace is not allowed to use stickler' };
  if (action === 'help') return { allowed: true };
  if (action === 'show' || action === 'plan') {
    if (!listed(auth.readers, caller))
      return { allowed: false, reason: 'you are not allowed to read the fleet' };
    if (!inChannel(auth.readerChannels, caller))
      return { allowed: false, reason: 'stickler does not answer in this channel' };
    return { allowed: true };
  }
  // set, apply, cancel: the setters' rule. (Cancel also needs it: a click is a decision.)
  // No wildcard here: every setter and setter channel is named.
  if (!auth.setters.has(caller.userId) && !auth.setters.has(`${caller.teamId}:${caller.userId}`))
    return { allowed: false, reason: 'you are not allowed to change stickiness' };
  if (!auth.setterChannels.has(caller.channelId))
    return { allowed: false, reason: 'stickiness changes are not allowed in this channel' };
  if (
    action === 'apply' &&
    auth.requireSecondApprover &&
    requester &&
    requester.teamId === caller.teamId &&
    requester.userId === caller.userId
  )
    return {
      allowed: false,
      reason: 'a second approver must apply this change: ask another allowed user to click Apply',
    };
  return { allowed: true };
};

/** Reads a comma-separated id list from configuration (blank entries dropped). */
export const idList = (value: string | undefined): Set<string> =>
  new Set(
    (value ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
