import fc from 'fast-check';
import { authorizeChat, type ChatAuthorization, idList } from '../../lib/domain/chat-authorization';
import { ChatUsageError, parseChatCommand, splitWords } from '../../lib/domain/chat-command';
import { SERVICE_NAME_PATTERN } from '../../lib/domain/farm';

describe('the chat command grammar', () => {
  it('reads each command', () => {
    expect(parseChatCommand('')).toEqual({ kind: 'help' });
    expect(parseChatCommand('HELP')).toEqual({ kind: 'help' });
    expect(parseChatCommand('show lb-a')).toEqual({ kind: 'show', service: 'lb-a' });
    expect(parseChatCommand('show ip-203.0.113.7 tcp/5')).toEqual({
      kind: 'show',
      service: 'ip-203.0.113.7',
      farm: { farmType: 'tcp', farmId: 5 },
    });
    expect(parseChatCommand('  plan  lb-a   http/101  COOKIE ')).toEqual({
      kind: 'plan',
      service: 'lb-a',
      farmType: 'http',
      farmId: 101,
      stickiness: 'cookie',
    });
    expect(parseChatCommand('set lb-a http/101 sourceip ticket=OPS-12 reason="pin the sessions"')).toEqual({
      kind: 'set',
      service: 'lb-a',
      farmType: 'http',
      farmId: 101,
      stickiness: 'sourceIp',
      ticket: 'OPS-12',
      reason: 'pin the sessions',
    });
  });

  it('takes the typographic quotes chat clients substitute, and apostrophes as letters', () => {
    expect(parseChatCommand('set lb-a http/1 none reason=“don’t bounce” ticket=A-1')).toMatchObject({
      reason: 'don’t bounce',
      ticket: 'A-1',
    });
    expect(splitWords(`a "b c" d'e`)).toEqual(['a', 'b c', "d'e"]);
  });

  it.each([
    ['frobnicate', "'frobnicate' is not a command"],
    ['show', 'a load balancer service name is missing'],
    ['show ..', "'..': a load balancer service name is 1 to 128"],
    ['show .', "'.': a load balancer service name"],
    ['show lb/../x', "'lb/../x': a load balancer service name"],
    ['show lb-a http/1 extra', "unexpected 'extra'"],
    ['plan lb-a', 'a farm is missing'],
    ['plan lb-a web/1 cookie', "'web/1' is not a farm"],
    ['plan lb-a http/0 cookie', "'http/0' is not a farm"],
    ['plan lb-a http/1', 'a stickiness is missing'],
    ['plan lb-a http/1 sticky', "'sticky' is not a stickiness"],
    ['set lb-a http/1 cookie ticket=', "ticket '' is not a ticket key"],
    ['set lb-a http/1 cookie ticket=<!here>', "ticket '<!here>' is not a ticket key"],
    ['set lb-a http/1 cookie reason=', 'reason is empty'],
    ['set lb-a http/1 cookie ticket=A ticket=B', "unexpected 'ticket=B'"],
    ['set lb-a http/1 cookie now', "unexpected 'now'"],
    ['set lb-a http/1 cookie reason="unclosed', 'a quote is not closed'],
    ['x'.repeat(2_001), 'longer than 2000 characters'],
  ])('%s → %s', (text, message) => {
    expect(() => parseChatCommand(text)).toThrow(ChatUsageError);
    expect(() => parseChatCommand(text)).toThrow(message);
  });

  it('bounds what it echoes and strips control characters from a reason', () => {
    expect(() => parseChatCommand(`${'y'.repeat(500)}`)).toThrow(`'${'y'.repeat(40)}…' is not a command`);
    expect(parseChatCommand('set lb-a http/1 none reason="a\u0007b\u009bc"')).toMatchObject({
      reason: 'a b c',
    });
  });

  it('never throws anything but a usage error, whatever is typed (property)', () => {
    const words = fc.oneof(
      fc.constantFrom(
        'help',
        'show',
        'plan',
        'set',
        'http/1',
        'tcp/2',
        'udp/3',
        'cookie',
        'none',
        'sourceIp',
        'ticket=',
        'reason="',
        '"',
        '“',
        '”',
        '..',
        'lb-a',
      ),
      fc.string(),
    );
    fc.assert(
      fc.property(fc.array(words, { maxLength: 8 }), fc.constantFrom(' ', '  ', '\t', '\n'), (parts, sep) => {
        try {
          const command = parseChatCommand(parts.join(sep));
          if ('service' in command) expect(command.service).toMatch(SERVICE_NAME_PATTERN);
          if (command.kind === 'plan' || command.kind === 'set') expect(command.farmId).toBeGreaterThan(0);
        } catch (error) {
          expect(error).toBeInstanceOf(ChatUsageError);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('who may do what from chat', () => {
  const auth = (over: Partial<ChatAuthorization> = {}): ChatAuthorization => ({
    teams: idList('T1, T2'),
    setters: idList('U1,T2:U2'),
    setterChannels: idList('C1'),
    readers: idList('*'),
    readerChannels: idList('*'),
    requireSecondApprover: false,
    ...over,
  });
  const who = (userId: string, channelId = 'C1', teamId = 'T1') => ({ teamId, userId, channelId });

  it('lets setters set in setter channels only, on ids (a workspace-qualified id holds in its workspace only)', () => {
    expect(authorizeChat(auth(), 'set', who('U1'))).toEqual({ allowed: true });
    expect(authorizeChat(auth(), 'set', who('U1', 'C1', 'T2'))).toEqual({ allowed: true });
    expect(authorizeChat(auth(), 'set', who('U2', 'C1', 'T2'))).toEqual({ allowed: true });
    expect(authorizeChat(auth(), 'set', who('U2', 'C1', 'T1'))).toMatchObject({ allowed: false });
    expect(authorizeChat(auth(), 'apply', who('U1', 'C9'))).toMatchObject({ allowed: false });
    expect(authorizeChat(auth(), 'set', who('U1', 'C1', 'T9'))).toMatchObject({ allowed: false });
  });

  it('takes no wildcard for setters or their channels, and allows nothing when nothing is configured', () => {
    const wild = auth({ setters: idList('*'), setterChannels: idList('*') });
    expect(authorizeChat(wild, 'set', who('U1'))).toMatchObject({ allowed: false });
    const none = auth({ teams: idList(''), setters: idList(''), setterChannels: idList('') });
    for (const action of ['help', 'show', 'plan', 'set', 'apply', 'cancel'] as const)
      expect(authorizeChat(none, action, who('U1'))).toMatchObject({ allowed: false });
  });

  it("takes any workspace only when told '*' (the local stage's default)", () => {
    expect(authorizeChat(auth({ teams: idList('*') }), 'set', who('U1', 'C1', 'T7'))).toEqual({
      allowed: true,
    });
    expect(authorizeChat(auth(), 'set', who('U1', 'C1', 'T7'))).toMatchObject({ allowed: false });
  });

  it('opens show and plan as configured', () => {
    const narrow = auth({ readers: idList('U5'), readerChannels: idList('C5') });
    expect(authorizeChat(narrow, 'show', who('U5', 'C5'))).toEqual({ allowed: true });
    expect(authorizeChat(narrow, 'plan', who('U1', 'C5'))).toMatchObject({ allowed: false });
    expect(authorizeChat(narrow, 'plan', who('U5', 'C1'))).toMatchObject({ allowed: false });
    expect(authorizeChat(narrow, 'help', who('U9', 'C9'))).toEqual({ allowed: true });
  });

  it('with a second approver, refuses the requester on Apply but not on Cancel', () => {
    const two = auth({ requireSecondApprover: true });
    const requester = { teamId: 'T1', userId: 'U1' };
    expect(authorizeChat(two, 'apply', who('U1'), requester)).toMatchObject({
      allowed: false,
      reason: expect.stringMatching(/second approver/),
    });
    expect(authorizeChat(two, 'cancel', who('U1'), requester)).toEqual({ allowed: true });
    expect(authorizeChat(two, 'apply', who('U2', 'C1', 'T2'), requester)).toEqual({ allowed: true });
  });
});
