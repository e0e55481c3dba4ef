import { makeRefreshDoor, newRefreshId } from '../../lib/app/refresh-door';
import { describeOutcome } from '../../lib/cli/commands/refresh-pipeline';
import type { TerminalOutcome } from '../../lib/domain/audit-events';
import { InvalidInputError } from '../../lib/domain/errors';
import { FakeClock, InMemoryIdempotencyStore, RecordingPublisher } from '../helpers/fakes';

const setup = () => {
  const clock = new FakeClock();
  const records = new InMemoryIdempotencyStore();
  const publisher = new RecordingPublisher();
  const refresh = makeRefreshDoor({ publisher, records, clock });
  const asker = { actor: { id: 'arn:aws:iam::1:user/ops', name: 'ops' }, reason: 'finish the zone' };
  const ask = { service: 'lb-a', zone: 'gra', ifPending: 2, lookedAt: clock.now().toISOString() };
  const follow = { timeoutMs: 1_000, pollMs: 100 };
  return { clock, records, publisher, refresh, asker, ask, follow };
};

describe('the refresh door (through in-memory ports)', () => {
  it('publishes one Zone Refresh Requested as the CLI, with the approved count, and follows it to its outcome', async () => {
    const h = setup();
    const id = newRefreshId(h.clock.now());
    expect(id).toMatch(/^refresh-[0-9a-z]+-[0-9a-f]{8}$/);
    // The worker ends it while the door follows.
    const sleep = h.clock.sleep;
    h.clock.sleep = async (ms) => {
      await h.records.claim(`~refresh:${id}`, h.clock.now(), 1_000, { sentAt: h.clock.now() });
      await h.records.decide(`~refresh:${id}`, {
        events: [
          {
            detailType: 'Zone Refresh Applied',
            dedupeKey: 'a',
            detail: {
              outcome: 'applied',
              code: 'applied',
              service: 'lb-a',
              zone: 'gra',
              decidedAt: h.clock.now().toISOString(),
              refresh: { zone: 'gra', taskId: 7, status: 'done' },
            } as never,
          },
        ],
      });
      await h.records.complete(`~refresh:${id}`);
      await sleep(ms);
    };
    const out = await h.refresh(id, h.ask, h.asker, h.follow);
    expect(out).toMatchObject({ refreshId: id, outcome: 'applied', terminal: { taskId: 7, zone: 'gra' } });
    expect(h.publisher.published).toEqual([
      expect.objectContaining({
        detailType: 'Zone Refresh Requested',
        source: 'stickler.cli',
        dedupeKey: id,
        detail: expect.objectContaining({
          refreshId: id,
          service: 'lb-a',
          zone: 'gra',
          ifPending: 2,
          actor: { kind: 'cli', id: 'arn:aws:iam::1:user/ops', name: 'ops' },
          reason: 'finish the zone',
        }),
      }),
    ]);
  });

  it("says not-published when the bus refuses it, and running (with the bus's non-answer) when no outcome comes", async () => {
    const h = setup();
    h.publisher.refuse = () => true;
    expect(await h.refresh('refresh-1', h.ask, h.asker, h.follow)).toEqual({
      refreshId: 'refresh-1',
      outcome: 'not-published',
      detail: 'AccessDenied',
    });
    h.publisher.maybe = true;
    expect(await h.refresh('refresh-2', h.ask, h.asker, h.follow)).toEqual({
      refreshId: 'refresh-2',
      outcome: 'running',
      detail: 'TimeoutError',
    });
    h.publisher.refuse = () => false;
    expect(await h.refresh('refresh-3', h.ask, h.asker, h.follow)).toEqual({
      refreshId: 'refresh-3',
      outcome: 'running',
    });
  });

  it('refuses what the worker would refuse before publishing: a zone that is not a zone name, a bad count', async () => {
    const h = setup();
    await expect(h.refresh('refresh-1', { ...h.ask, zone: '../x' }, h.asker, h.follow)).rejects.toThrow(
      InvalidInputError,
    );
    await expect(h.refresh('refresh-1', { ...h.ask, ifPending: -1 }, h.asker, h.follow)).rejects.toThrow(
      InvalidInputError,
    );
    expect(h.publisher.published).toEqual([]);
  });
});

describe('refresh --pipeline: what it says of each outcome', () => {
  const terminal = (over: Partial<TerminalOutcome>): TerminalOutcome => ({
    outcome: 'failed',
    code: 'refresh-failed',
    message: 'zone gra of lb-a NOT applied: task 3 ended error',
    service: 'lb-a',
    farmType: null,
    farmId: null,
    zone: 'gra',
    before: null,
    after: null,
    taskId: 3,
    ticket: null,
    decidedAt: '2026-11-25T10:00:00.000Z',
    ...over,
  });
  it.each([
    [
      { refreshId: 'r-1', outcome: 'applied', terminal: terminal({ outcome: 'applied' }) },
      /applied through the pipeline \(refresh r-1, task 3\)/,
    ],
    [{ refreshId: 'r-1', outcome: 'unchanged' }, /no unapplied change any more.*nothing applied/],
    [
      { refreshId: 'r-1', outcome: 'failed', terminal: terminal({}) },
      /NOT applied: failed \(refresh-failed\): .*task 3 ended error/,
    ],
    [
      {
        refreshId: 'r-1',
        outcome: 'refused',
        terminal: terminal({ outcome: 'refused', code: 'changed-since' }),
      },
      /NOT applied: refused \(changed-since\)/,
    ],
    [
      { refreshId: 'r-1', outcome: 'not-published', detail: 'AccessDeniedException' },
      /Not requested: .*AccessDeniedException.*nothing was asked/,
    ],
    [
      { refreshId: 'r-1', outcome: 'running', detail: 'in-progress' },
      /no outcome yet \(in-progress\): 'stickler status r-1 --pipeline'/,
    ],
  ] as const)('%j', (out, said) => {
    expect(describeOutcome('lb-a', 'gra', out as never)).toMatch(said);
  });
});
