import { DynamoDbChatProposals } from '../../../lib/adapters/dynamodb/dynamodb-chat-proposals';
import { startDynalite } from '../../../lib/local/dynalite';
import type { ChatProposal } from '../../../lib/ports/chat-proposals';

describe('DynamoDbChatProposals on dynalite', () => {
  let db: Awaited<ReturnType<typeof startDynalite>>;
  let store: DynamoDbChatProposals;
  beforeAll(async () => {
    db = await startDynalite('chat');
    store = new DynamoDbChatProposals({ client: db.client, tableName: 'chat' });
  });
  afterAll(() => db.close());
  const now = Date.parse('2026-11-25T10:00:00Z');
  let n = 0;
  const proposal = (): ChatProposal => ({
    id: (++n).toString(16).padStart(32, 'a'),
    requester: { teamId: 'T1', userId: 'U1' },
    channelId: 'C1',
    service: 'lb-a',
    farmType: 'http',
    farmId: 1,
    stickiness: 'cookie',
    before: 'none',
    zone: 'gra',
    displayName: null,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + 15 * 60_000).toISOString(),
  });

  it('keeps a proposal and lets exactly one of two simultaneous clicks claim it', async () => {
    const p = proposal();
    await store.save(p);
    expect(await store.get(p.id)).toEqual(p);
    const claims = await Promise.all([
      store.claim(p.id, 'applied', 'U1', new Date(now)),
      store.claim(p.id, 'applied', 'U2', new Date(now)),
      store.claim(p.id, 'cancelled', 'U3', new Date(now)),
    ]);
    expect(claims.filter((c) => c.kind === 'claimed')).toHaveLength(1);
    expect(claims.filter((c) => c.kind === 'spent')).toHaveLength(2);
    expect(await store.claim(p.id, 'applied', 'U4', new Date(now))).toMatchObject({ kind: 'spent' });
  });

  it('says expired at or after its time, unknown for an id never stored', async () => {
    const p = proposal();
    await store.save(p);
    expect(await store.claim(p.id, 'applied', 'U1', new Date(Date.parse(p.expiresAt)))).toEqual({
      kind: 'expired',
    });
    expect(await store.claim('f'.repeat(32), 'applied', 'U1', new Date(now))).toEqual({ kind: 'unknown' });
  });

  it('opens an applied proposal again (publish failed), never a cancelled one', async () => {
    const p = proposal();
    await store.save(p);
    await store.claim(p.id, 'applied', 'U1', new Date(now));
    await store.release(p.id);
    expect((await store.claim(p.id, 'cancelled', 'U2', new Date(now))).kind).toBe('claimed');
    await store.release(p.id);
    expect(await store.claim(p.id, 'applied', 'U3', new Date(now))).toEqual({
      kind: 'spent',
      how: 'cancelled',
      by: 'U2',
    });
  });

  it('never overwrites a proposal with the same id', async () => {
    const p = proposal();
    await store.save(p);
    await expect(store.save({ ...p, stickiness: 'none' })).rejects.toThrow(/ConditionalCheckFailed/);
  });

  it('keeps a reply address until its time, under a key of its own', async () => {
    await store.saveReplyTarget(
      'slack-1',
      'https://hooks.slack.com/actions/x',
      new Date(Date.now() + 60_000),
    );
    await store.saveReplyTarget('slack-2', 'https://hooks.slack.com/actions/y', new Date(Date.now() - 1));
    expect(await store.replyTarget('slack-1')).toBe('https://hooks.slack.com/actions/x');
    expect(await store.replyTarget('slack-2')).toBeUndefined();
    expect(await store.replyTarget('slack-3')).toBeUndefined();
    expect(await store.get('slack-1')).toBeUndefined(); // proposal:… and reply:… never meet
  });
});
