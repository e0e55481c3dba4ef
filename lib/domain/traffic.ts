/**
 * Load-balancer traffic as stickler reasons about it: the rate now, the typical rate of each
 * 5-minute slot of the day (the median of the same slot over past days), and the quietest slot
 * inside a window. Pure: samples and times come in, nothing is read here.
 */

/** The length of a slot of the day. */
export const SLOT_MS = 5 * 60_000;
export const DAY_MS = 24 * 60 * 60_000;
export const SLOTS_PER_DAY = DAY_MS / SLOT_MS;
/** How many past days the profile is built from. */
export const PROFILE_DAYS = 7;

/** The rates of a load balancer (a whole OVH service, every zone and farm together). */
export interface TrafficRate {
  requestsPerSecond: number;
  connectionsPerSecond: number;
}

/**
 * One point of a rate series: `at` (epoch ms) ends the interval the rate was measured over
 * (Prometheus' `rate(x[5m])` at time t describes the 5 minutes before t).
 */
export interface RateSample {
  at: number;
  value: number;
}

/** A service's traffic as read: the rates now and the history the profile is built from. */
export type TrafficReading =
  | {
      known: true;
      service: string;
      /** When the rates were measured (ISO 8601 UTC). */
      measuredAt: string;
      now: TrafficRate;
      /** Requests per second, one sample per slot over the past days (may be empty). */
      history: RateSample[];
      /** Why the history could not be read, when it could not (the rates now still stand). */
      historyUnknown?: string;
    }
  | {
      known: false;
      service: string;
      /** Why, in words a reader can act on; never a token or a URL's secret. */
      reason: string;
    };

/**
 * The typical rate per slot of the day (UTC): entry i is the median of the samples whose interval
 * falls in slot i (00:00 + i × 5 min), over every day; undefined where no sample fell.
 *
 * @example dailyProfile([{ at: Date.parse('2026-12-01T00:05:00Z'), value: 3 }])[0] === 3
 */
export const dailyProfile = (samples: readonly RateSample[]): (number | undefined)[] => {
  const bySlot: number[][] = Array.from({ length: SLOTS_PER_DAY }, () => []);
  for (const sample of samples) {
    if (!Number.isFinite(sample.value) || sample.value < 0 || !Number.isFinite(sample.at)) continue;
    // The middle of the measured interval names its slot, so a sample on a slot's edge counts
    // for the slot it measured, not the one it opens.
    bySlot[slotOfDay(sample.at - SLOT_MS / 2)]!.push(sample.value);
  }
  return bySlot.map(median);
};

/** The slot of the day (0 … 287, UTC) that holds the instant `at` (epoch ms). */
export const slotOfDay = (at: number): number => Math.floor((((at % DAY_MS) + DAY_MS) % DAY_MS) / SLOT_MS);

const median = (values: number[]): number | undefined => {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

export interface TimeWindow {
  /** Epoch ms, inclusive. */
  start: number;
  /** Epoch ms, exclusive. */
  end: number;
}

/** The moment chosen in a window, and the rate its slot typically has. */
export interface QuietSlot {
  /** Epoch ms: the start of the slot, or the window's start when the window opens inside it. */
  at: number;
  /** Epoch ms: where that slot ends (or the window, if sooner). */
  until: number;
  /** The slot's typical requests per second (the profile's median). */
  typicalRate: number;
}

/** The longest window searched: a week holds every slot of the day seven times already. */
export const MAX_WINDOW_MS = 7 * DAY_MS;

/**
 * The quietest slot inside `window` by the profile: the moment in the window whose slot has the
 * lowest typical rate, the earliest of equals. Candidates are the window's start and each slot
 * boundary before its end; slots the profile knows nothing of are skipped. Undefined when the
 * window is empty or the profile knows none of its slots.
 */
export const quietestSlot = (
  profile: readonly (number | undefined)[],
  window: TimeWindow,
): QuietSlot | undefined => {
  const end = Math.min(window.end, window.start + MAX_WINDOW_MS);
  let best: QuietSlot | undefined;
  for (let at = window.start; at < end; at = (Math.floor(at / SLOT_MS) + 1) * SLOT_MS) {
    const rate = profile[slotOfDay(at)];
    if (rate === undefined) continue;
    if (best === undefined || rate < best.typicalRate)
      best = { at, until: Math.min(end, (Math.floor(at / SLOT_MS) + 1) * SLOT_MS), typicalRate: rate };
  }
  return best;
};

/** A service's traffic with its quietest slot in a window, as the CLI and the audit show it. */
export type ServiceTraffic =
  | {
      known: true;
      service: string;
      measuredAt: string;
      now: TrafficRate;
      /** Undefined when the history is empty or covers no slot of the window (then quietestUnknown says why). */
      quietest: QuietSlot | undefined;
      quietestUnknown?: string;
    }
  | { known: false; service: string; reason: string };

/** From a reading to what is shown: the rates now, and the quietest slot of the window. */
export const summarizeTraffic = (reading: TrafficReading, window: TimeWindow): ServiceTraffic => {
  if (!reading.known) return reading;
  const quietest = quietestSlot(dailyProfile(reading.history), window);
  return {
    known: true,
    service: reading.service,
    measuredAt: reading.measuredAt,
    now: reading.now,
    quietest,
    ...(quietest
      ? {}
      : {
          quietestUnknown:
            reading.historyUnknown ?? 'the last 7 days of metrics hold no point in a slot of this window',
        }),
  };
};

/** A rate as people read it: whole numbers from 100 on, one decimal below (none when it is whole). */
export const formatRate = (perSecond: number): string =>
  perSecond >= 100 ? Math.round(perSecond).toLocaleString('en-US') : String(Number(perSecond.toFixed(1)));

/** An instant to the minute, in UTC: `2026-12-08 04:00 UTC`. */
export const formatUtcMinute = (at: number): string =>
  `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/**
 * The traffic an applied zone's refresh cut, in a sentence for a ticket or a chat (the audit
 * event's `traffic`): the whole load balancer over the 5 minutes before, or unknown and why.
 *
 * @example trafficAtApplyText({ known: true, measuredAt: '…', requestsPerSecond: 1780, connectionsPerSecond: 445 })
 *   // 'Traffic as the zone was applied: 1,780 req/s, 445 conn/s (the whole load balancer, over the 5 minutes before …).'
 */
export const trafficAtApplyText = (
  traffic:
    | { known: true; measuredAt: string; requestsPerSecond: number; connectionsPerSecond: number }
    | { known: false; reason: string },
): string =>
  traffic.known
    ? `Traffic as the zone was applied: ${formatRate(traffic.requestsPerSecond)} req/s, ${formatRate(traffic.connectionsPerSecond)} conn/s (the whole load balancer, over the 5 minutes before ${traffic.measuredAt}).`
    : `Traffic as the zone was applied: unknown (${traffic.reason}).`;

/**
 * A request deferred to the quietest slot of its window (the `Deferred` event's `quietest`), in a
 * sentence: when, and the rate that slot typically has.
 */
export const quietestSlotText = (quietest: {
  at: string;
  typicalRequestsPerSecond: number;
  joined?: 'zone' | 'batch' | undefined;
}): string =>
  `${
    quietest.joined === 'zone'
      ? "deferred to the slot already chosen for its zone by another request (so that the zone's sessions are cut once), inside its window"
      : quietest.joined === 'batch'
        ? 'deferred, with the other requests of its zone, to the quietest 5 minutes their windows share (one refresh for them all)'
        : 'deferred to the quietest 5 minutes of its window by the last 7 days of traffic'
  }: ${formatUtcMinute(Date.parse(quietest.at))} (≈ ${formatRate(quietest.typicalRequestsPerSecond)} req/s typical for the whole load balancer); it is applied then`;

/** An ISO 8601 instant with its date, time and offset (a time without one would be read as local). */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;
/** An ISO 8601 duration in days, hours and minutes (P1D, PT4H, P1DT2H30M). */
const DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$/i;

/**
 * An ISO 8601 duration in days, hours and minutes, in milliseconds; undefined when the text is not
 * one (`P`, `PT`, weeks, seconds and fractions are not).
 *
 * @example parseDurationMs('PT6H') === 21_600_000
 */
export const parseDurationMs = (text: string): number | undefined => {
  const duration = DURATION.exec(text);
  if (!duration || text.length <= 1 || /T$/i.test(text)) return undefined;
  const [, days, hours, minutes] = duration;
  return Number(days ?? 0) * DAY_MS + Number(hours ?? 0) * 3_600_000 + Number(minutes ?? 0) * 60_000;
};

/**
 * A window as `--window` takes it: `START/END` or `START/DURATION` (ISO 8601, each instant with its
 * offset, e.g. `2026-12-08T00:00Z/2026-12-08T06:00Z` or `2026-12-08T00:00Z/PT6H`); without one,
 * the next 24 hours. It must end after `now`, and last at most 7 days.
 */
export const parseTimeWindow = (
  text: string | undefined,
  now: number,
): { ok: true; window: TimeWindow } | { ok: false; message: string } => {
  if (text === undefined) return { ok: true, window: { start: now, end: now + DAY_MS } };
  const fail = (why: string) => ({
    ok: false as const,
    message: `--window must be START/END or START/DURATION in ISO 8601 with an offset (2026-12-08T00:00Z/PT6H): ${why}`,
  });
  const parts = text.trim().split('/');
  if (parts.length !== 2) return fail('one / between start and end');
  const [first, second] = parts as [string, string];
  if (!INSTANT.test(first) || Number.isNaN(Date.parse(first)))
    return fail('the start is not a date and time with its offset');
  const start = Date.parse(first);
  let end: number;
  const duration = parseDurationMs(second);
  if (duration !== undefined) {
    end = start + duration;
  } else if (INSTANT.test(second) && !Number.isNaN(Date.parse(second))) {
    end = Date.parse(second);
  } else if (/^P/i.test(second))
    return fail(
      `the end ${JSON.stringify(second.slice(0, 20))} is not a duration read here: days, hours and minutes (P1D, PT6H, P1DT30M), not weeks or seconds`,
    );
  else return fail('the end is neither a date and time with its offset nor a duration');
  if (end <= start) return fail('it ends before it starts');
  if (end - start > MAX_WINDOW_MS) return fail('it lasts more than 7 days');
  if (end <= now) return fail('it has already ended');
  return { ok: true, window: { start, end } };
};
