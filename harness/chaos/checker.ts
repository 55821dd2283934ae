/**
 * The chaos suite's checker: a pure function from the load generator's log (every publish with its
 * ack, every delivery, every subscriber's connection and subscription intervals) to lost /
 * duplicated / out-of-order counts. No I/O, so it is unit-tested on synthetic logs.
 *
 * Definitions (also in bench/chaos.ts and the README):
 * - a message is EXPECTED at a subscriber socket when its publisher got the ack, the subscriber's
 *   subscription to the channel was acked before the message was sent and was never lost after that,
 *   and the subscriber socket stayed connected from before the send until the end of the run (after
 *   the drain wait). Only subscriptions and connections still open at `endAt` can make a message expected.
 * - LOST: expected, never received.
 * - DUPLICATED: each extra copy of a message received by a subscriber (n copies count n − 1).
 * - OUT OF ORDER: a first copy received after a higher sequence number from the same publisher on the
 *   same channel at the same subscriber (repeat copies count as duplicates only).
 * - UNEXPECTED: a first copy received that was not expected (its publish was never acked, or the
 *   subscriber was not continuously subscribed since before the send). Reported, never an error.
 * - LATE: deliveries after `endAt` (the generator keeps listening a while after the drain wait) do
 *   not count as received; a lost message that arrived then is also counted in `lostArrivedLate`, to
 *   tell a message that was dropped from one that was held up for longer than the drain wait.
 */

/** The name of channel `index` in the chaos suite. */
export const chaosChannel = (index: number): string => `chaos/${index}`;

/** A half-open interval of epoch milliseconds; `end` null while still open. */
export interface Interval {
  start: number;
  end: number | null;
}

/** One publisher's messages, column-wise; message i has sequence number i + 1. */
export interface PublisherLog {
  id: string;
  /** Channel index of each message. */
  channel: number[];
  /** Send time of each message (epoch ms, fractional). */
  sentAt: number[];
  /** Ack time of each message; -1 when the publish failed or was never acknowledged. */
  ackedAt: number[];
}

/** One subscriber socket's view, column-wise deliveries in arrival order. */
export interface SubscriberLog {
  id: string;
  /** Connection intervals of the socket, in order. */
  connected: Interval[];
  /** Per channel index: intervals during which the subscription was established (subscribe acked). */
  subscribed: Interval[][];
  delivery: {
    channel: number[];
    /** Publisher index (into ChaosLog.publishers). */
    publisher: number[];
    seq: number[];
    at: number[];
  };
}

/** Everything the generator recorded in one run. */
export interface ChaosLog {
  channels: number;
  publishers: PublisherLog[];
  subscribers: SubscriberLog[];
  /** When publishing started and stopped, and when the drain wait ended (epoch ms); deliveries may follow `endAt`. */
  loadStartedAt: number;
  loadStoppedAt: number;
  endAt: number;
  /** Messages the pacer was due to send but did not (publisher socket not open, or too far behind). */
  skipped: number;
}

/** Send-time window of a set of messages (epoch ms); null when the set is empty. */
export interface Window {
  first: number;
  last: number;
}

export interface CheckResult {
  /** Publishes acked by the worker. */
  published: number;
  /** Publishes that failed or were never acked. */
  unacked: number;
  /** (message, subscriber) pairs expected. */
  expected: number;
  /** First copies received, expected or not. */
  received: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  unexpected: number;
  /** Lost messages that did arrive, but only after `endAt`. */
  lostArrivedLate: number;
  /** Send times of the first and last lost message. */
  lostWindow: Window | null;
  /** Lost counts keyed `publisher→subscriber`, e.g. `A→B`. */
  lostByPath: Record<string, number>;
  /** Lost counts by channel index. */
  lostByChannel: Record<number, number>;
}

/** Most publishers a log may hold (message keys pack the publisher index into 6 bits). */
const MAX_PUBLISHERS = 64;

/** The start of the interval still open at `endAt`, or null when none is. */
function openSince(intervals: readonly Interval[], endAt: number): number | null {
  for (let i = intervals.length - 1; i >= 0; i--) {
    const iv = intervals[i]!;
    if (iv.end === null || iv.end > endAt) return iv.start;
  }
  return null;
}

/** Checks one run's log against the definitions above. */
export function checkChaosLog(log: ChaosLog): CheckResult {
  if (log.publishers.length > MAX_PUBLISHERS) throw new RangeError(`at most ${MAX_PUBLISHERS} publishers`);
  const key = (publisher: number, seq: number): number => seq * MAX_PUBLISHERS + publisher;
  const result: CheckResult = {
    published: 0,
    unacked: 0,
    expected: 0,
    received: 0,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    unexpected: 0,
    lostArrivedLate: 0,
    lostWindow: null,
    lostByPath: {},
    lostByChannel: {},
  };
  for (const pub of log.publishers) {
    for (const acked of pub.ackedAt) {
      if (acked >= 0) result.published += 1;
      else result.unacked += 1;
    }
  }

  for (const sub of log.subscribers) {
    // Copies received per message, and out-of-order among first copies, in arrival order.
    const copies = new Map<number, number>();
    const late = new Set<number>();
    const highest = new Map<number, number>(); // publisher * channels + channel → highest seq seen
    const d = sub.delivery;
    for (let i = 0; i < d.seq.length; i++) {
      const p = d.publisher[i]!;
      const s = d.seq[i]!;
      const k = key(p, s);
      if (d.at[i]! > log.endAt) {
        late.add(k);
        continue;
      }
      const n = copies.get(k) ?? 0;
      copies.set(k, n + 1);
      if (n > 0) {
        result.duplicated += 1;
        continue;
      }
      result.received += 1;
      const stream = p * log.channels + d.channel[i]!;
      const top = highest.get(stream) ?? 0;
      if (s < top) result.outOfOrder += 1;
      else highest.set(stream, s);
    }

    // A message is expected here only if the socket's final connection and the channel's final
    // subscription were both in place before it was sent.
    const connectedSince = openSince(sub.connected, log.endAt);
    const since = sub.subscribed.map((ivs) => (connectedSince === null ? null : openSince(ivs, log.endAt)));
    let expectedReceived = 0;
    log.publishers.forEach((pub, p) => {
      for (let i = 0; i < pub.sentAt.length; i++) {
        if (pub.ackedAt[i]! < 0) continue;
        const t = pub.sentAt[i]!;
        const channel = pub.channel[i]!;
        const subscribedAt = since[channel];
        if (subscribedAt === null || subscribedAt === undefined || subscribedAt >= t || connectedSince! >= t) continue;
        result.expected += 1;
        if (copies.has(key(p, i + 1))) {
          expectedReceived += 1;
          continue;
        }
        result.lost += 1;
        if (late.has(key(p, i + 1))) result.lostArrivedLate += 1;
        const path = `${pub.id}→${sub.id}`;
        result.lostByPath[path] = (result.lostByPath[path] ?? 0) + 1;
        result.lostByChannel[channel] = (result.lostByChannel[channel] ?? 0) + 1;
        const w = result.lostWindow;
        result.lostWindow = w === null ? { first: t, last: t } : { first: Math.min(w.first, t), last: Math.max(w.last, t) };
      }
    });
    result.unexpected += copies.size - expectedReceived;
  }
  return result;
}
