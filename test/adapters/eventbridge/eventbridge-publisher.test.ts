import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import {
  chunkEntries,
  EventBridgePublisher,
  entrySize,
  MAX_BYTES_PER_CALL,
} from '../../../lib/adapters/eventbridge/eventbridge-publisher';
import { DETAIL_TYPES, type OutgoingEvent } from '../../../lib/domain/events';

const eventBridge = mockClient(EventBridgeClient);
const sleeps: number[] = [];
const clock = {
  now: () => new Date('2026-11-25T10:00:00Z'),
  sleep: async (ms: number) => void sleeps.push(ms),
};

const events = (n: number, pad = 0): OutgoingEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    detailType: DETAIL_TYPES.zoneApplied,
    detail: {
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

describe('EventBridgePublisher', () => {
  beforeEach(() => {
    eventBridge.reset();
    sleeps.length = 0;
  });
  const publisher = () =>
    new EventBridgePublisher({
      client: new EventBridgeClient({ region: 'eu-west-3' }),
      busName: 'bus',
      clock,
      random: () => 1,
    });

  it('sends at most 10 entries per PutEvents call', async () => {
    eventBridge.on(PutEventsCommand).callsFake((input: { Entries: PutEventsRequestEntry[] }) => ({
      FailedEntryCount: 0,
      Entries: input.Entries.map(() => ({ EventId: 'id' })),
    }));
    await expect(publisher().publish(events(23))).resolves.toEqual({ failed: [] });
    const sizes = eventBridge.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries?.length);
    expect(sizes).toEqual([10, 10, 3]);
  });

  it('resends only the entries that failed, with backoff, and reports what never went through', async () => {
    let call = 0;
    eventBridge.on(PutEventsCommand).callsFake((input: { Entries: PutEventsRequestEntry[] }) => {
      call++;
      return {
        FailedEntryCount: 1,
        Entries: input.Entries.map((e) =>
          JSON.parse(e.Detail!).service === 'lb-1'
            ? { ErrorCode: 'ThrottlingException' }
            : { EventId: `id-${call}` },
        ),
      };
    });
    const { failed } = await publisher().publish(events(3));
    const sent = eventBridge
      .commandCalls(PutEventsCommand)
      .map((c) => c.args[0].input.Entries!.map((e) => JSON.parse(e.Detail!).service));
    expect(sent).toEqual([['lb-0', 'lb-1', 'lb-2'], ['lb-1'], ['lb-1'], ['lb-1']]);
    expect(failed.map((e) => e.dedupeKey)).toEqual(['k1']);
    expect(sleeps).toEqual([100, 200, 400]);
  });

  it('treats a failed call as every entry in it failing', async () => {
    eventBridge
      .on(PutEventsCommand)
      .rejectsOnce(new Error('socket hang up'))
      .resolves({ FailedEntryCount: 0, Entries: [{}, {}] });
    await expect(publisher().publish(events(2))).resolves.toEqual({ failed: [] });
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(2);
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
