import { auditDetail, auditEvent } from '../../lib/app/audit';
import { CLI_SOURCE, cliRequestId, makePipelineDoor, makePlanUndo } from '../../lib/app/pipeline-door';
import { cliRunGroup, complianceRequestId, groupsOf } from '../../lib/app/request-groups';
import type { OutgoingEvent } from '../../lib/domain/audit-events';
import { InvalidInputError, UnprocessableError } from '../../lib/domain/errors';
import type { ChangeRequestedDetail } from '../../lib/domain/events';
import type { FarmRef } from '../../lib/domain/farm';
import { type StickinessWord, toWire } from '../../lib/domain/stickiness';
import { aChangeRequest } from '../helpers/factories';
import {
  FakeClock,
  InMemoryFarmLedger,
  InMemoryIdempotencyStore,
  RecordingPublisher,
} from '../helpers/fakes';

const http = (farmId: number, service = 'lb-a'): FarmRef => ({ service, type: 'http', farmId });
const tcp = (farmId: number): FarmRef => ({ service: 'lb-a', type: 'tcp', farmId });
const asker = {
  actor: { id: 'arn:aws:iam::123456789012:user/alice' },
  reason: 'maintenance',
  ticket: 'OPS-7',
};
const follow = { timeoutMs: 30_000, pollMs: 1_000 };

describe('the pipeline door (the CLI through the pipeline)', () => {
  const setup = () => {
    const clock = new FakeClock();
    const records = new InMemoryIdempotencyStore();
    const ledger = new InMemoryFarmLedger();
    const publisher = new RecordingPublisher();
    const door = makePipelineDoor({ publisher, records, ledger, clock });
    /** What the worker would do: claim the request and record its outcome. */
    const decide = async (
      requestId: string,
      outcome: 'applied' | 'refused' | 'unchanged' | 'cancelled',
      facts: { ref?: FarmRef; before?: StickinessWord; after?: StickinessWord; code?: string } = {},
    ) => {
      const request = publisher.published.find((e) => e.dedupeKey === requestId)?.detail as
        | ChangeRequestedDetail
        | undefined;
      await records.claim(requestId, clock.now(), 60_000, {
        sentAt: clock.now(),
        ...(request ? { groups: groupsOf(request, CLI_SOURCE) } : {}),
      });
      await records.decide(
        requestId,
        {
          events: [
            auditEvent(
              auditDetail(
                { requestId, ...(request ? { request } : {}), now: clock.now() },
                {
                  outcome,
                  ref: facts.ref ?? http(1),
                  ...(facts.before ? { before: toWire(facts.before) } : {}),
                  ...(facts.after ? { after: toWire(facts.after) } : {}),
                  ...(facts.code ? { code: facts.code, message: facts.code } : {}),
                },
              ),
            ),
          ],
        },
        clock.now(),
      );
      await records.complete(requestId);
    };
    /** Runs `work` at the door's first look-again (after its first look at the records). */
    const atFirstWait = (work: () => Promise<void>) => {
      const sleep = clock.sleep;
      let done = false;
      clock.sleep = async (ms) => {
        if (!done) {
          done = true;
          await work();
        }
        return sleep(ms);
      };
    };
    return { clock, records, ledger, publisher, door, decide, atFirstWait };
  };

  it('publishes one request per change from stickler.cli with the operator as actor, and follows each to its outcome', async () => {
    const h = setup();
    const ids = [cliRequestId('run1', http(1)), cliRequestId('run1', http(2))];
    h.atFirstWait(async () => {
      await h.decide(ids[0]!, 'applied', { ref: http(1), before: 'none', after: 'cookie' });
      await h.decide(ids[1]!, 'refused', { ref: http(2), code: 'superseded' });
    });
    const progress: string[] = [];
    const askedAt = h.clock.now().toISOString();
    const result = await h.door.request(
      'run1',
      [
        { farm: http(1), stickiness: 'cookie' },
        { farm: http(2), stickiness: 'sourceIp' },
      ],
      asker,
      { ...follow, onProgress: (d, t) => progress.push(`${d}/${t}`) },
    );
    expect(h.publisher.published.map((e) => [e.source, e.detailType, e.dedupeKey])).toEqual([
      [CLI_SOURCE, 'Stickiness Change Requested', ids[0]],
      [CLI_SOURCE, 'Stickiness Change Requested', ids[1]],
    ]);
    expect(h.publisher.published[0]!.detail).toMatchObject({
      service: 'lb-a',
      farmType: 'http',
      farmId: 1,
      stickiness: 'cookie',
      actor: { kind: 'cli', id: asker.actor.id },
      ticket: 'OPS-7',
      reason: 'maintenance',
      requestedAt: askedAt,
    });
    expect(result.requested.map((r) => r.requestId)).toEqual(ids);
    expect(result.notPublished).toEqual([]);
    expect(result.outcomes.get(ids[0]!)).toMatchObject({ kind: 'ended', terminal: { outcome: 'applied' } });
    expect(result.outcomes.get(ids[1]!)).toMatchObject({
      kind: 'ended',
      terminal: { outcome: 'refused', code: 'superseded' },
    });
    expect(progress).toEqual(['0/2', '2/2']);
  });

  it('gives the same farm of the same run the same request id (a retried publish is deduplicated), another run another', () => {
    expect(cliRequestId('run1', http(1))).toBe(cliRequestId('run1', http(1)));
    expect(cliRequestId('run1', http(1))).not.toBe(cliRequestId('run2', http(1)));
    expect(cliRequestId('run1', http(1))).not.toBe(cliRequestId('run1', http(1, 'lb-b')));
    expect(cliRequestId('run1', http(1))).toMatch(/^cli-run1-[0-9a-f]{12}$/);
  });

  it('publishes nothing when one change is invalid or impossible, naming every problem', async () => {
    const h = setup();
    await expect(
      h.door.request(
        'run1',
        [
          { farm: http(1), stickiness: 'cookie' },
          { farm: tcp(2), stickiness: 'cookie' },
        ],
        asker,
        follow,
      ),
    ).rejects.toThrow(UnprocessableError);
    await expect(
      h.door.request(
        'run1',
        [{ farm: http(1), stickiness: 'cookie' }],
        { ...asker, ticket: 'bad key!' },
        follow,
      ),
    ).rejects.toThrow(InvalidInputError);
    const bad = await h.door
      .request(
        'run1',
        [{ farm: { service: 'lb a', type: 'http', farmId: 1 }, stickiness: 'cookie' }],
        asker,
        follow,
      )
      .catch((e: InvalidInputError) => e);
    expect(bad).toBeInstanceOf(InvalidInputError);
    expect((bad as InvalidInputError).issues.map((i) => i.path)).toEqual(['service']);
    await expect(
      h.door.request('../x', [{ farm: http(1), stickiness: 'cookie' }], asker, follow),
    ).rejects.toThrow(InvalidInputError);
    expect(h.publisher.published).toEqual([]);
  });

  it('reports the changes the bus did not take as not requested, and follows only the others', async () => {
    const h = setup();
    const refused = cliRequestId('run1', http(2));
    h.publisher.refuse = (e: OutgoingEvent) => e.dedupeKey === refused;
    h.atFirstWait(() => h.decide(cliRequestId('run1', http(1)), 'unchanged', { ref: http(1) }));
    const result = await h.door.request(
      'run1',
      [
        { farm: http(1), stickiness: 'cookie' },
        { farm: http(2), stickiness: 'cookie' },
      ],
      asker,
      follow,
    );
    expect(result.notPublished.map((r) => r.requestId)).toEqual([refused]);
    expect(result.requested.map((r) => r.farm.farmId)).toEqual([1]);
    expect([...result.outcomes.keys()]).toEqual([cliRequestId('run1', http(1))]);
  });

  it("follows a request the bus gave no answer to (it may have it), and names the bus's refusal of the others", async () => {
    const h = setup();
    h.publisher.refuse = () => true;
    h.publisher.maybe = true;
    const id = cliRequestId('run1', http(1));
    h.atFirstWait(() => h.decide(id, 'applied', { ref: http(1), before: 'none', after: 'cookie' }));
    const uncertain = await h.door.request('run1', [{ farm: http(1), stickiness: 'cookie' }], asker, follow);
    expect(uncertain.requested).toEqual([
      expect.objectContaining({ requestId: id, publishUncertain: 'TimeoutError' }),
    ]);
    expect(uncertain.outcomes.get(id)).toMatchObject({ kind: 'ended', terminal: { outcome: 'applied' } });
    h.publisher.maybe = false;
    const refused = await h.door.request('run2', [{ farm: http(2), stickiness: 'cookie' }], asker, follow);
    expect(refused.requested).toEqual([]);
    expect(refused.notPublished).toEqual([expect.objectContaining({ refusedBy: 'AccessDenied' })]);
  });

  it('publishes nothing when the records cannot be read, and keeps the ids when they fail after publishing', async () => {
    const h = setup();
    h.records.failures.fail('status');
    await expect(
      h.door.request('run1', [{ farm: http(1), stickiness: 'cookie' }], asker, follow),
    ).rejects.toThrow(/status is unavailable/);
    expect(h.publisher.published).toEqual([]);
    h.records.failures.heal('status');
    const status = h.records.status.bind(h.records);
    let calls = 0;
    h.records.status = async (keys) => {
      if (++calls > 1) throw new Error('table gone');
      return status(keys);
    };
    const result = await h.door.request('run2', [{ farm: http(1), stickiness: 'cookie' }], asker, follow);
    expect(h.publisher.published).toHaveLength(1);
    expect(result.followError).toBe('table gone');
    expect([...result.outcomes]).toEqual([[cliRequestId('run2', http(1)), { kind: 'running' }]]);
  });

  it('says a request the worker has not finished when the wait runs out is still running, never guessing', async () => {
    const h = setup();
    const start = h.clock.t;
    const result = await h.door.request('run1', [{ farm: http(1), stickiness: 'cookie' }], asker, follow);
    expect([...result.outcomes.values()]).toEqual([{ kind: 'running' }]);
    expect(h.clock.t - start).toBeLessThanOrEqual(follow.timeoutMs);
  });

  describe('cancel', () => {
    const deferred = async (h: ReturnType<typeof setup>, id: string) => {
      await h.records.claim(id, h.clock.now(), 60_000, { sentAt: h.clock.now() });
      await h.records.defer(id, '2026-11-25T22:00:00.000Z', h.clock.now(), {
        request: {
          requestId: id,
          service: 'lb-a',
          farmType: 'http',
          farmId: 1,
          stickiness: 'cookie',
          actor: { kind: 'cli', id: 'x' },
          requestedAt: h.clock.now().toISOString(),
        },
        origin: null,
      });
    };

    it('publishes a cancel from stickler.cli and reports the request cancelled once the worker ended it', async () => {
      const h = setup();
      await deferred(h, 'req-1');
      h.atFirstWait(async () => {
        const cancel = h.publisher.published[0]!;
        await h.records.closeDeferred('req-1', [
          auditEvent(
            auditDetail(
              { requestId: 'req-1', now: h.clock.now() },
              {
                outcome: 'cancelled',
                ref: http(1),
                code: 'cancelled',
                message: `cancelled by x before its change window opened (cancel ${cancel.dedupeKey}); nothing was written`,
              },
            ),
          ),
        ]);
        await h.records.complete('req-1');
        await h.records.claim(`~cancel:${cancel.dedupeKey}`, h.clock.now(), 60_000, {
          sentAt: h.clock.now(),
        });
        await h.records.complete(`~cancel:${cancel.dedupeKey}`);
      });
      const out = await h.door.cancel('req-1', asker, follow);
      expect(out.outcome).toBe('cancelled');
      expect(h.publisher.published).toHaveLength(1);
      expect(h.publisher.published[0]).toMatchObject({
        source: CLI_SOURCE,
        detailType: 'Stickiness Change Cancel Requested',
        detail: { requestId: 'req-1', actor: { kind: 'cli', id: asker.actor.id }, reason: 'maintenance' },
      });
    });

    it('reports a cancel the worker carried out without ending the request (it had already ended) as not cancelled, with why', async () => {
      const h = setup();
      h.atFirstWait(async () => {
        await h.decide('req-2', 'applied', { ref: http(1), before: 'none', after: 'cookie' });
        const cancel = h.publisher.published[0]!;
        await h.records.claim(`~cancel:${cancel.dedupeKey}`, h.clock.now(), 60_000, {
          sentAt: h.clock.now(),
        });
        await h.records.complete(`~cancel:${cancel.dedupeKey}`);
      });
      const out = await h.door.cancel('req-2', asker, follow);
      expect(out).toMatchObject({ outcome: 'not-cancelled', detail: 'it had already ended: applied' });
    });

    it('refuses a request id that is not one before publishing, and says when the bus did not take the cancel', async () => {
      const h = setup();
      await expect(h.door.cancel('bad id!', asker, follow)).rejects.toThrow(InvalidInputError);
      expect(h.publisher.published).toEqual([]);
      h.publisher.refuse = () => true;
      expect((await h.door.cancel('req-3', asker, follow)).outcome).toBe('not-published');
    });

    it('says not cancelled when another cancel ended the request first (two operators at once)', async () => {
      const h = setup();
      await deferred(h, 'req-6');
      h.atFirstWait(async () => {
        const cancel = h.publisher.published[0]!;
        await h.records.closeDeferred('req-6', [
          auditEvent(
            auditDetail(
              { requestId: 'req-6', now: h.clock.now() },
              {
                outcome: 'cancelled',
                ref: http(1),
                code: 'cancelled',
                message: 'cancelled by y (cancel cancel-other); nothing was written',
              },
            ),
          ),
        ]);
        await h.records.complete('req-6');
        await h.records.claim(`~cancel:${cancel.dedupeKey}`, h.clock.now(), 60_000, {
          sentAt: h.clock.now(),
        });
        await h.records.complete(`~cancel:${cancel.dedupeKey}`);
      });
      expect(await h.door.cancel('req-6', asker, follow)).toMatchObject({
        outcome: 'not-cancelled',
        detail: 'another cancel ended it first',
      });
    });

    it("follows a cancel the bus gave no answer to (it may have it), and says the bus's refusal otherwise", async () => {
      const h = setup();
      h.publisher.refuse = () => true;
      h.publisher.maybe = true;
      expect((await h.door.cancel('req-7', asker, follow)).outcome).toBe('running');
      h.publisher.maybe = false;
      expect(await h.door.cancel('req-7', asker, follow)).toMatchObject({
        outcome: 'not-published',
        detail: 'AccessDenied',
      });
    });

    it('publishes no cancel for a request that has already ended, saying how it ended', async () => {
      const h = setup();
      await h.decide('req-5', 'applied', { ref: http(1), before: 'none', after: 'cookie' });
      const out = await h.door.cancel('req-5', asker, follow);
      expect(out).toMatchObject({ outcome: 'not-cancelled', detail: 'it had already ended: applied' });
      expect(h.publisher.published).toEqual([]);
    });

    it('says still running when the worker has not carried the cancel out in time', async () => {
      const h = setup();
      await deferred(h, 'req-4');
      expect((await h.door.cancel('req-4', asker, follow)).outcome).toBe('running');
    });
  });

  describe('planUndo', () => {
    it('reverses an applied request to its before, and refuses what changed nothing, is unknown or still open', async () => {
      const h = setup();
      await h.decide('applied-1', 'applied', { ref: http(1), before: 'none', after: 'cookie' });
      await h.decide('refused-1', 'refused', { ref: http(2), code: 'farm-not-found' });
      await h.records.claim('open-1', h.clock.now(), 60_000, { sentAt: h.clock.now() });
      await h.ledger.write(
        'lb-a/http/1',
        { live: { requestId: 'applied-1', acceptedAt: h.clock.now().toISOString() } },
        0,
      );
      const plan = await h.door.planUndo(['applied-1', 'refused-1', 'open-1', 'unknown-1'], false);
      expect(plan.reverse).toEqual([{ requestId: 'applied-1', farm: http(1), from: 'cookie', to: 'none' }]);
      expect(Object.fromEntries(plan.refused.map((r) => [r.requestId, r.reason]))).toEqual({
        'refused-1': 'it changed nothing to undo (refused farm-not-found)',
        'open-1': 'it has no outcome yet (in-progress)',
        'unknown-1': 'the worker has no record of it (unknown, or older than its records are kept)',
      });
    });

    it('refuses a farm another request has changed since, naming it, unless forced', async () => {
      const h = setup();
      await h.decide('old', 'applied', { ref: http(1), before: 'none', after: 'cookie' });
      await h.decide('newer', 'applied', { ref: http(1), before: 'cookie', after: 'sourceIp' });
      await h.ledger.write(
        'lb-a/http/1',
        { live: { requestId: 'newer', acceptedAt: h.clock.now().toISOString() } },
        0,
      );
      const plan = await h.door.planUndo(['old'], false);
      expect(plan.reverse).toEqual([]);
      expect(plan.refused).toEqual([
        {
          requestId: 'old',
          newer: 'newer',
          reason: 'lb-a http/1 has been changed since by request newer',
        },
      ]);
      const forced = await h.door.planUndo(['old'], true);
      expect(forced.reverse).toEqual([
        { requestId: 'old', farm: http(1), from: 'cookie', to: 'none', newer: 'newer' },
      ]);
    });

    it('does not count a newer request that changed nothing, but one still under way', async () => {
      const h = setup();
      await h.decide('old', 'applied', { ref: http(1), before: 'none', after: 'cookie' });
      await h.decide('same', 'unchanged', { ref: http(1), before: 'cookie', after: 'cookie' });
      await h.ledger.write(
        'lb-a/http/1',
        { live: { requestId: 'same', acceptedAt: h.clock.now().toISOString() } },
        0,
      );
      expect((await h.door.planUndo(['old'], false)).reverse).toEqual([
        { requestId: 'old', farm: http(1), from: 'cookie', to: 'none' },
      ]);
      await h.records.claim('busy', h.clock.now(), 60_000, { sentAt: h.clock.now() });
      await h.ledger.write(
        'lb-a/http/1',
        { live: { requestId: 'busy', acceptedAt: h.clock.now().toISOString() } },
        1,
      );
      expect((await h.door.planUndo(['old'], false)).refused[0]!.reason).toBe(
        'lb-a http/1 has been changed since by request busy (still under way)',
      );
    });

    it('reads the farm when it can: a change made outside stickler is refused unless forced, and forced, the from is what it stores', async () => {
      const h = setup();
      await h.decide('old', 'applied', { ref: http(1), before: 'none', after: 'cookie' });
      const planUndo = makePlanUndo({
        records: h.records,
        ledger: h.ledger,
        readFarm: async () => 'sourceIp',
      });
      expect((await planUndo(['old'], false)).refused[0]!.reason).toBe(
        'lb-a http/1 now stores sourceIp, not the cookie this request set: it has been changed since, outside this request',
      );
      expect((await planUndo(['old'], true)).reverse).toEqual([
        { requestId: 'old', farm: http(1), from: 'sourceIp', to: 'none' },
      ]);
      const back = makePlanUndo({ records: h.records, ledger: h.ledger, readFarm: async () => 'none' });
      expect((await back(['old'], true)).refused[0]!.reason).toBe(
        'lb-a http/1 already stores none: nothing to undo',
      );
    });

    it('says which request waiting for its window on the farm the undo supersedes', async () => {
      const h = setup();
      await h.decide('old', 'applied', { ref: http(1), before: 'none', after: 'cookie' });
      await h.ledger.write(
        'lb-a/http/1',
        {
          live: { requestId: 'old', acceptedAt: h.clock.now().toISOString() },
          deferred: {
            requestId: 'later',
            acceptedAt: h.clock.now().toISOString(),
            until: '2026-11-26T00:00:00.000Z',
          },
        },
        0,
      );
      expect((await h.door.planUndo(['old'], false)).reverse[0]!.supersedes).toEqual({
        requestId: 'later',
        until: '2026-11-26T00:00:00.000Z',
      });
    });

    it('says a request still waiting for its window will be carried out then unless cancelled, and how', async () => {
      const h = setup();
      const until = '2026-11-26T04:00:00.000Z';
      await h.records.claim('waits', h.clock.now(), 60_000, { sentAt: h.clock.now() });
      await h.records.defer('waits', until, h.clock.now(), {
        request: aChangeRequest({ requestId: 'waits' }),
        origin: null,
      });
      const plan = await h.door.planUndo(['waits'], false);
      expect(plan.refused[0]!.reason).toBe(
        `it has not been carried out yet: it waits for its change window until ${until} and will be carried out then, unless cancelled (stickler cancel waits --pipeline)`,
      );
    });

    it('says a waiting request of the undo that the undo itself supersedes will not be carried out', async () => {
      const h = setup();
      await h.decide('a', 'applied', { ref: http(1), before: 'none', after: 'cookie' });
      await h.records.claim('w', h.clock.now(), 60_000, { sentAt: h.clock.now() });
      await h.records.defer('w', '2026-11-26T04:00:00.000Z', h.clock.now(), {
        request: aChangeRequest({ requestId: 'w' }),
        origin: null,
      });
      await h.ledger.write(
        'lb-a/http/1',
        {
          live: { requestId: 'a', acceptedAt: h.clock.now().toISOString() },
          deferred: {
            requestId: 'w',
            acceptedAt: h.clock.now().toISOString(),
            until: '2026-11-26T04:00:00.000Z',
          },
        },
        0,
      );
      const plan = await h.door.planUndo(['a', 'w'], false);
      expect(plan.reverse[0]!.supersedes?.requestId).toBe('w');
      expect(plan.refused.find((r) => r.requestId === 'w')!.reason).toMatch(
        /this undo \(its change of lb-a http\/1, newer\) supersedes it: it will not be carried out/,
      );
    });

    it('undoes several requests of one farm as one change, back to before the first of them', async () => {
      const h = setup();
      await h.decide('a', 'applied', { ref: http(1), before: 'none', after: 'cookie' });
      h.clock.advance(1_000);
      await h.decide('b', 'applied', { ref: http(1), before: 'cookie', after: 'sourceIp' });
      await h.ledger.write(
        'lb-a/http/1',
        { live: { requestId: 'b', acceptedAt: h.clock.now().toISOString() } },
        0,
      );
      // Named in any order, they are taken in the order they were decided.
      const plan = await h.door.planUndo(['b', 'a'], false, async () => 'sourceIp');
      expect(plan.refused).toEqual([]);
      expect(plan.reverse).toEqual([
        { requestId: 'b', alsoUndoes: ['a'], farm: http(1), from: 'sourceIp', to: 'none' },
      ]);
    });

    it('refuses to undo two requests of one farm that another request came between, unless forced', async () => {
      const h = setup();
      await h.decide('a', 'applied', { ref: http(1), before: 'none', after: 'cookie' });
      h.clock.advance(1_000);
      await h.decide('b', 'applied', { ref: http(1), before: 'sourceIp', after: 'cookie' });
      const plan = await h.door.planUndo(['a', 'b'], false);
      expect(plan.reverse).toEqual([]);
      expect(plan.refused.map((r) => r.requestId)).toEqual(['a', 'b']);
      expect(plan.refused[0]!.reason).toMatch(
        /changed between a \(which set cookie\) and b \(which found sourceIp\), by a request not in this undo/,
      );
      expect(plan.refused[0]!.newer).toBe('between');
      const forced = await h.door.planUndo(['a', 'b'], true);
      expect(forced.reverse).toEqual([
        { requestId: 'b', alsoUndoes: ['a'], farm: http(1), from: 'cookie', to: 'none' },
      ]);
    });

    it('refuses a chain of one farm as a whole when its last request has been changed since', async () => {
      const h = setup();
      await h.decide('a', 'applied', { ref: http(1), before: 'none', after: 'cookie' });
      h.clock.advance(1_000);
      await h.decide('b', 'applied', { ref: http(1), before: 'cookie', after: 'sourceIp' });
      const plan = await h.door.planUndo(['a', 'b'], false, async () => 'none');
      expect(plan.reverse).toEqual([]);
      expect(plan.refused.map((r) => [r.requestId, r.newer])).toEqual([
        ['a', 'outside'],
        ['b', 'outside'],
      ]);
      expect(plan.refused[0]!.reason).toMatch(/not the sourceIp request b set/);
    });
  });

  describe('finding the requests of a ticket or a run', () => {
    it("finds a CLI run's requests and a ticket's, whatever the order they are asked in", async () => {
      const h = setup();
      const result = await h.door.request(
        'run-7',
        [
          { farm: http(1), stickiness: 'cookie' },
          { farm: http(2), stickiness: 'cookie' },
        ],
        asker,
        { ...follow, timeoutMs: 0 },
      );
      const ids = result.requested.map((r) => r.requestId).sort();
      for (const id of ids) await h.decide(id, 'applied', { before: 'none', after: 'cookie' });
      await expect(h.door.findRequests({ run: 'run-7', actorId: asker.actor.id })).resolves.toEqual(ids);
      await expect(h.door.findRequests({ run: 'run-8', actorId: asker.actor.id })).resolves.toEqual([]);
      // Another operator's run of the same name is theirs, not this one.
      await expect(
        h.door.findRequests({ run: 'run-7', actorId: 'arn:aws:iam::123456789012:user/bob' }),
      ).resolves.toEqual([]);
      await expect(h.door.findRequests({ ticket: 'OPS-7' })).resolves.toEqual(ids);
      await expect(h.door.findRequests({ ticket: 'OPS-8' })).resolves.toEqual([]);
    });

    it("finds a compliance run's requests by the run id it printed", async () => {
      const h = setup();
      const id = complianceRequestId('2026-12-07T10:00:00Z-abc', 'lb-a/http/1');
      await h.records.claim(id, h.clock.now(), 60_000, {
        sentAt: h.clock.now(),
        groups: groupsOf({ requestId: id }, 'stickler.compliance'),
      });
      await expect(
        h.door.findRequests({ run: '2026-12-07T10:00:00Z-abc', actorId: 'anyone' }),
      ).resolves.toEqual([id]);
    });

    it("keeps only the members their records bear out: a ticket's request carries that ticket, a run's id is of that run", async () => {
      const h = setup();
      const result = await h.door.request('run-x', [{ farm: http(1), stickiness: 'cookie' }], asker, {
        ...follow,
        timeoutMs: 0,
      });
      const ofOps7 = result.requested[0]!.requestId;
      await h.decide(ofOps7, 'applied', { before: 'none', after: 'cookie' });
      await h.decide('no-ticket', 'applied', { before: 'none', after: 'cookie' });
      // Members written for content that then lost its id to other content (id reused).
      h.records.groups.set('ticket:OPS-9', new Set([ofOps7, 'no-ticket', 'not-decided-yet']));
      h.records.groups.set(
        cliRunGroup('ops', 'run-9'),
        new Set(['cli-run-1-0123456789ab', 'cli-run-9-0123456789ab']),
      );
      await expect(h.door.findRequests({ ticket: 'OPS-9' })).resolves.toEqual(['not-decided-yet']);
      await expect(h.door.findRequests({ run: 'run-9', actorId: 'ops' })).resolves.toEqual([
        'cli-run-9-0123456789ab',
      ]);
    });
  });
});
