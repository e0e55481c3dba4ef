/**
 * What every IdempotencyStore must do, run against the DynamoDB adapter (on dynalite) and the
 * in-memory fake the use-case tests rely on, so that the fake cannot drift from the adapter.
 */

import { auditDetail, auditEvent } from '../../lib/app/audit';
import type { OutgoingEvent } from '../../lib/domain/audit-events';
import { DETAIL_TYPES } from '../../lib/domain/events';
import type { IdempotencyStore } from '../../lib/ports/idempotency-store';
import { aChangeRequest } from '../helpers/factories';

export const idempotencyStoreContract = (make: () => IdempotencyStore | Promise<IdempotencyStore>) => {
  let store: IdempotencyStore;
  let n = 0;
  /** A key of its own for each test, so that tests pass alone and in any order. */
  const key = (name: string) => `${name}-${Date.now().toString(36)}-${++n}`;
  const t0 = new Date('2026-11-25T10:00:00Z');
  const later = (ms: number) => new Date(t0.getTime() + ms);
  const facts = (hash = 'h1', sentAt = t0) => ({ contentHash: hash, sentAt });
  beforeAll(async () => {
    store = await make();
  });
  const zoneEvent = (id: string): OutgoingEvent => ({
    detailType: DETAIL_TYPES.zoneApplied,
    detail: {
      schemaVersion: 2,
      auditId: `zone:s:gra:${id}`,
      service: 's',
      zone: 'gra',
      taskId: 1,
      status: 'done',
      requestIds: [id],
      farms: [],
      appliedAt: t0.toISOString(),
    },
    dedupeKey: `zone:s:gra:${id}`,
  });

  it('lets one caller claim a key with its acceptance time, and tells the next one it is in progress', async () => {
    const k = key('a');
    await expect(store.claim(k, t0, 60_000, facts())).resolves.toEqual({
      state: 'claimed',
      acceptedAt: t0,
      deadLettered: false,
    });
    await expect(store.claim(k, later(1_000), 60_000, facts())).resolves.toEqual({ state: 'in-progress' });
  });

  it('gives an expired claim to the next caller, with the first acceptance time', async () => {
    const k = key('b');
    await store.claim(k, t0, 1_000, facts());
    await expect(store.claim(k, later(1_001), 1_000, facts('h1', later(900)))).resolves.toEqual({
      state: 'claimed',
      acceptedAt: t0,
      deadLettered: false,
    });
  });

  it('keeps the acceptance time for life: a hand-back, a deferral, a dead-letter and a redrive never move it', async () => {
    const k = key('life');
    await store.claim(k, t0, 60_000, facts());
    await store.release(k);
    await expect(store.claim(k, later(5_000), 60_000, facts('h1', later(5_000)))).resolves.toMatchObject({
      acceptedAt: t0,
    });
    const until = later(3_600_000).toISOString();
    await store.defer(k, until, later(6_000), { request: aChangeRequest({ requestId: k }), origin: null });
    await expect(
      store.claim(k, later(3_600_000), 60_000, facts('h1', later(3_600_000))),
    ).resolves.toMatchObject({
      acceptedAt: t0,
    });
    await store.deadLetter(k, later(3_700_000));
    await expect(store.claim(k, later(86_400_000), 60_000, facts('h1', later(86_400_000)))).resolves.toEqual({
      state: 'claimed',
      acceptedAt: t0,
      deadLettered: true,
      deferredUntil: until,
    });
  });

  it('tells each claim after a deferral the time the key was deferred to, hand-backs or not', async () => {
    const k = key('deferred-to');
    await expect(store.claim(k, t0, 60_000, facts())).resolves.not.toHaveProperty('deferredUntil');
    const until = later(7_200_000).toISOString();
    await store.defer(k, until, later(1_000), { request: aChangeRequest({ requestId: k }), origin: null });
    await expect(store.claim(k, later(7_200_000), 60_000, facts())).resolves.toMatchObject({
      state: 'claimed',
      deferredUntil: until,
    });
    await store.release(k);
    await expect(store.claim(k, later(7_300_000), 60_000, facts())).resolves.toMatchObject({
      state: 'claimed',
      deferredUntil: until,
    });
  });

  it('refuses other content under a key already used, naming the first, and leaves the first as it was', async () => {
    const k = key('reuse');
    await store.claim(k, t0, 60_000, facts('first'));
    await expect(store.claim(k, later(1), 60_000, facts('second'))).resolves.toEqual({
      state: 'reused',
      contentHash: 'first',
      acceptedAt: t0,
    });
    await store.complete(k, t0);
    await expect(store.claim(k, later(2), 60_000, facts('second'))).resolves.toMatchObject({
      state: 'reused',
    });
    await expect(store.claim(k, later(3), 60_000, facts('first'))).resolves.toEqual({ state: 'completed' });
  });

  it('returns the decided events until completed, then completed for good', async () => {
    const k = key('c');
    const events = [zoneEvent(k)];
    await store.claim(k, t0, 60_000, facts());
    await store.decide(k, { events }, t0);
    await expect(store.claim(k, later(10), 60_000, facts())).resolves.toEqual({ state: 'decided', events });
    await store.complete(k, t0);
    await expect(store.claim(k, later(999_999_999), 60_000, facts())).resolves.toEqual({
      state: 'completed',
    });
  });

  it('holds a deferred key until its window opens, keeping the request, then lets the scheduled delivery claim it', async () => {
    const k = key('g');
    const until = later(60_000).toISOString();
    const request = aChangeRequest({ requestId: k });
    await store.claim(k, t0, 60_000, facts());
    await store.defer(k, until, t0, { request, origin: null, ticket: `jira:OPS-${n}` });
    await expect(store.deferred(k)).resolves.toEqual({ request, origin: null, until });
    await expect(store.ticketDeferrals(`jira:OPS-${n}`)).resolves.toEqual([k]);
    await expect(store.claim(k, later(30_000), 60_000, facts())).resolves.toEqual({
      state: 'deferred',
      until,
    });
    await expect(store.claim(k, later(60_000), 60_000, facts())).resolves.toMatchObject({ state: 'claimed' });
    await expect(store.deferred(k)).resolves.toBeUndefined();
  });

  it("lists a group's members, each once whatever the deliveries and the claim's answer, and nothing of other groups", async () => {
    const a = key('member-a');
    const b = key('member-b');
    const other = key('member-other');
    const ticket = `ticket:OPS-${key('t')}`;
    const run = `run:cli-${key('r')}`;
    await expect(store.members(ticket)).resolves.toEqual([]);
    await store.claim(a, t0, 60_000, { ...facts(), groups: [ticket, run] });
    await store.claim(a, later(1), 60_000, { ...facts(), groups: [ticket, run] }); // in progress
    await store.claim(b, t0, 60_000, { ...facts(), groups: [ticket] });
    await store.claim(other, t0, 60_000, { ...facts(), groups: [`${ticket}0`] });
    await store.claim(key('none'), t0, 60_000, facts());
    await expect(store.members(ticket)).resolves.toEqual([a, b].sort());
    await expect(store.members(run)).resolves.toEqual([a]);
    await expect(store.members(`${ticket}0`)).resolves.toEqual([other]);
  });

  it('ends a deferred key with its events only while it is still deferred', async () => {
    const k = key('close');
    const until = later(60_000).toISOString();
    await store.claim(k, t0, 60_000, facts());
    await store.defer(k, until, t0, { request: aChangeRequest({ requestId: k }), origin: null });
    const events = [zoneEvent(k)];
    await expect(store.closeDeferred(k, events, later(1))).resolves.toBe(true);
    await expect(store.closeDeferred(k, events, later(2))).resolves.toBe(false);
    // Its schedule firing anyway only resumes publishing those events.
    await expect(store.claim(k, later(60_000), 60_000, facts())).resolves.toEqual({
      state: 'decided',
      events,
    });
    const fired = key('fired');
    await store.claim(fired, t0, 60_000, facts());
    await store.defer(fired, until, t0, { request: aChangeRequest({ requestId: fired }), origin: null });
    await store.claim(fired, later(60_000), 60_000, facts());
    await expect(store.closeDeferred(fired, events, later(60_001))).resolves.toBe(false);
  });

  it('hands back only a claim in progress: a decided record stays decided', async () => {
    const k = key('d');
    await store.claim(k, t0, 60_000, facts());
    await store.release(k);
    await expect(store.claim(k, t0, 60_000, facts())).resolves.toMatchObject({ state: 'claimed' });
    await store.decide(k, { events: [] }, t0);
    await store.release(k);
    await expect(store.claim(k, t0, 60_000, facts())).resolves.toEqual({ state: 'decided', events: [] });
  });

  it('keeps the terminal outcome of a decided request for good, and says where each request stands', async () => {
    const [done, waiting, fresh] = [key('st-done'), key('st-wait'), key('st-fresh')];
    const applied = auditEvent(
      auditDetail(
        { requestId: done, request: aChangeRequest({ requestId: done, ticket: 'OPS-7' }), now: t0 },
        {
          outcome: 'applied',
          ref: { service: 'lb-a', type: 'http', farmId: 1 },
          before: null,
          after: 'cookie',
          refresh: { service: 'lb-a', zone: 'gra', taskId: 42, status: 'done', changes: 1 },
        },
      ),
    );
    await store.claim(done, t0, 60_000, facts());
    await store.decide(done, { events: [applied, zoneEvent(done)] }, t0);
    await store.decide(done, { events: [zoneEvent(done)] }, t0); // leftovers: the terminal stays
    await store.complete(done, t0);
    await store.claim(waiting, t0, 60_000, facts());
    await store.defer(waiting, later(60_000).toISOString(), t0, {
      request: aChangeRequest({ requestId: waiting }),
      origin: null,
    });
    await store.claim(fresh, t0, 60_000, facts());
    const status = await store.status([done, waiting, fresh, key('never')]);
    expect(Object.fromEntries(status)).toEqual({
      [done]: {
        state: 'completed',
        terminal: {
          outcome: 'applied',
          code: null,
          message: null,
          service: 'lb-a',
          farmType: 'http',
          farmId: 1,
          zone: 'gra',
          before: 'none',
          after: 'cookie',
          taskId: 42,
          ticket: 'OPS-7',
          decidedAt: t0.toISOString(),
        },
      },
      [waiting]: { state: 'deferred', deferredUntil: later(60_000).toISOString() },
      [fresh]: { state: 'in-progress' },
    });
  });

  it('claims a record without a content hash (a record that is not a readable request)', async () => {
    const k = key('nohash');
    await expect(store.claim(k, t0, 60_000, { sentAt: t0 })).resolves.toMatchObject({ state: 'claimed' });
  });
};
