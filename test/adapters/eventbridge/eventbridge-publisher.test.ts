import { EVENTBRIDGE } from '../../../lib/adapters/aws/aws-json-client';
import {
  chunkEntries,
  EventBridgePublisher,
  entrySize,
  MAX_BYTES_PER_CALL,
  type PutEventsRequestEntry,
} from '../../../lib/adapters/eventbridge/eventbridge-publisher';
import type { OutgoingEvent } from '../../../lib/domain/audit-events';
import { DETAIL_TYPES } from '../../../lib/domain/events';
import { type FakeAws, startFakeAws } from '../../helpers/fake-aws';

const sleeps: number[] = [];
const clock = {
  now: () => new Date('2026-11-25T10:00:00Z'),
  sleep: async (ms: number) => void sleeps.push(ms),
};

const events = (n: number, pad = 0): OutgoingEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    detailType: DETAIL_TYPES.zoneApplied,
    detail: {
      schemaVersion: 2,
      auditId: `k${i}`,
      service: `lb-${i}`,
      zone: 'gra',
      taskId: i,
      status: 'done',
      requestIds: ['x'.repeat(pad)],
      farms: [],
      appliedAt: '2026-11-25T10:00:00Z',
    },
    dedupeKey: `k${i}`,
  }));

type Entries = { Entries: PutEventsRequestEntry[] };

describe('EventBridgePublisher (PutEvents over HTTP)', () => {
  let aws: FakeAws;
  beforeAll(async () => {
    aws = await startFakeAws({ service: 'events' });
  });
  afterAll(() => aws.close());
  beforeEach(() => {
    aws.reset();
    sleeps.length = 0;
  });
  const sent = () => aws.calls.map((c) => (c.input as unknown as Entries).Entries);
  const publisher = () =>
    new EventBridgePublisher({
      // One attempt per call here: what is tested is the publisher's own resending.
      client: aws.client(EVENTBRIDGE, { maxAttempts: 1 }),
      busName: 'bus',
      clock,
      random: () => 1,
    });

  it('sends at most 10 entries per PutEvents call', async () => {
    aws.on('AWSEvents.PutEvents', (input) => ({
      body: {
        FailedEntryCount: 0,
        Entries: (input as unknown as Entries).Entries.map(() => ({ EventId: 'id' })),
      },
    }));
    await expect(publisher().publish(events(23))).resolves.toEqual({ failed: [], why: new Map() });
    expect(sent().map((entries) => entries.length)).toEqual([10, 10, 3]);
    expect(sent()[0]![0]).toEqual({
      EventBusName: 'bus',
      Source: 'stickler',
      DetailType: 'Zone Configuration Applied',
      Detail: JSON.stringify(events(1)[0]!.detail),
      Time: Date.parse('2026-11-25T10:00:00Z') / 1000,
    });
  });

  it('resends only the entries that failed, with backoff, and reports what never went through', async () => {
    aws.on('AWSEvents.PutEvents', (input, call) => ({
      body: {
        FailedEntryCount: 1,
        Entries: (input as unknown as Entries).Entries.map((e) =>
          JSON.parse(e.Detail!).service === 'lb-1'
            ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }
            : { EventId: `id-${call}` },
        ),
      },
    }));
    const { failed } = await publisher().publish(events(3));
    expect(sent().map((entries) => entries.map((e) => JSON.parse(e.Detail!).service))).toEqual([
      ['lb-0', 'lb-1', 'lb-2'],
      ['lb-1'],
      ['lb-1'],
      ['lb-1'],
    ]);
    expect(failed.map((e) => e.dedupeKey)).toEqual(['k1']);
    expect(sleeps).toEqual([100, 200, 400]);
  });

  it('treats a failed call as every entry in it failing', async () => {
    aws.on('AWSEvents.PutEvents', (_input, call) =>
      call === 1
        ? { status: 500, body: { __type: 'InternalException', message: 'try again' } }
        : { body: { FailedEntryCount: 0, Entries: [{ EventId: 'a' }, { EventId: 'b' }] } },
    );
    await expect(publisher().publish(events(2))).resolves.toEqual({ failed: [], why: new Map() });
    expect(sent().map((entries) => entries.length)).toEqual([2, 2]);
  });

  it('says why each entry failed, and whether the bus may have it all the same (no answer) or not (an answer that says no)', async () => {
    const [a, b] = events(2);
    aws.on('AWSEvents.PutEvents', (input) => ({
      body: {
        FailedEntryCount: 1,
        Entries: (input as unknown as Entries).Entries.map((e) =>
          JSON.parse(e.Detail!).service === 'lb-1'
            ? { ErrorCode: 'InternalFailure', ErrorMessage: 'x' }
            : { EventId: 'a' },
        ),
      },
    }));
    const perEntry = await publisher().publish([a!, b!]);
    expect(perEntry.failed).toEqual([b]);
    expect(perEntry.why.get(b!)).toEqual({ code: 'InternalFailure', maybePublished: false });
    aws.on('AWSEvents.PutEvents', () => ({
      status: 400,
      body: { __type: 'AccessDeniedException', message: 'no' },
    }));
    expect((await publisher().publish([a!])).why.get(a!)).toEqual({
      code: 'AccessDeniedException',
      maybePublished: false,
    });
    aws.on('AWSEvents.PutEvents', () => ({ status: 503, body: { __type: 'ServiceUnavailable' } }));
    expect((await publisher().publish([a!])).why.get(a!)).toEqual({
      code: 'ServiceUnavailable',
      maybePublished: true,
    });
  });

  it('reports an entry too large for PutEvents as failed, and still sends the others', async () => {
    aws.on('AWSEvents.PutEvents', (input) => ({
      body: {
        FailedEntryCount: 0,
        Entries: (input as unknown as Entries).Entries.map(() => ({ EventId: 'id' })),
      },
    }));
    const [huge] = events(1, MAX_BYTES_PER_CALL);
    const small = events(2).slice(1);
    const { failed } = await publisher().publish([huge!, ...small]);
    expect(failed).toEqual([huge]);
    expect(
      sent()
        .flat()
        .map((e) => JSON.parse(e.Detail!).service),
    ).toEqual(['lb-1']);
  });
});

describe('chunkEntries', () => {
  it('also splits on the 256 KiB request size', () => {
    const big = { Source: 'stickler', DetailType: 'x', Detail: 'y'.repeat(100 * 1024) };
    const chunks = chunkEntries([big, big, big, big]);
    expect(chunks.map((c) => c.length)).toEqual([2, 2]);
    for (const c of chunks)
      expect(c.reduce((n, e) => n + entrySize(e), 0)).toBeLessThanOrEqual(MAX_BYTES_PER_CALL);
  });

  it('refuses an entry too large to ever send', () => {
    expect(() =>
      chunkEntries([{ Source: 's', DetailType: 'd', Detail: 'z'.repeat(MAX_BYTES_PER_CALL) }]),
    ).toThrow(/over the PutEvents limit/);
  });
});
