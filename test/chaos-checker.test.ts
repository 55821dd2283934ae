/** The chaos suite's checker on synthetic logs: expected windows, lost, duplicated, out of order, unexpected. */
import { describe, expect, it } from 'vitest';
import { checkChaosLog, type ChaosLog, type Interval, type PublisherLog, type SubscriberLog } from '../harness/chaos/checker.js';

const END = 10_000;

/** A publisher whose message i (seq i + 1) goes to channel `channels[i]` at `sentAt[i]`; acked unless listed. */
function publisher(id: string, channels: number[], sentAt: number[], unacked: number[] = []): PublisherLog {
  return { id, channel: channels, sentAt, ackedAt: sentAt.map((t, i) => (unacked.includes(i + 1) ? -1 : t + 1)) };
}

/** A subscriber connected and subscribed to every channel from `since` until the end, unless overridden. */
function subscriber(
  id: string,
  deliveries: [channel: number, publisher: number, seq: number][],
  options: { channels?: number; since?: number; connected?: Interval[]; subscribed?: Interval[][] } = {},
): SubscriberLog {
  const since = options.since ?? 0;
  const channels = options.channels ?? 2;
  return {
    id,
    connected: options.connected ?? [{ start: since, end: null }],
    subscribed: options.subscribed ?? Array.from({ length: channels }, () => [{ start: since, end: null }]),
    delivery: {
      channel: deliveries.map((d) => d[0]),
      publisher: deliveries.map((d) => d[1]),
      seq: deliveries.map((d) => d[2]),
      at: deliveries.map((_, i) => 5000 + i),
    },
  };
}

function log(publishers: PublisherLog[], subscribers: SubscriberLog[], channels = 2): ChaosLog {
  return { channels, publishers, subscribers, loadStartedAt: 100, loadStoppedAt: 9000, endAt: END, skipped: 0 };
}

// Publisher A: 4 messages alternating over channels 0 and 1, sent at 100, 200, 300, 400.
const A = publisher('A', [0, 1, 0, 1], [100, 200, 300, 400]);
const all: [number, number, number][] = [
  [0, 0, 1],
  [1, 0, 2],
  [0, 0, 3],
  [1, 0, 4],
];

describe('checkChaosLog', () => {
  it('counts nothing wrong when every subscriber gets every message once, in order', () => {
    const r = checkChaosLog(log([A], [subscriber('A', all), subscriber('B', all)]));
    expect(r).toMatchObject({ published: 4, unacked: 0, expected: 8, received: 8, lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0, lostWindow: null });
    expect(r.lostByPath).toEqual({});
    expect(r.lostByChannel).toEqual({});
  });

  it('counts a missing message as lost, with its send time as the window and its path', () => {
    const r = checkChaosLog(log([A], [subscriber('A', all), subscriber('B', [all[0]!, all[3]!])]));
    expect(r).toMatchObject({ expected: 8, received: 6, lost: 2, duplicated: 0, outOfOrder: 0, unexpected: 0 });
    expect(r.lostWindow).toEqual({ first: 200, last: 300 });
    expect(r.lostByPath).toEqual({ 'A→B': 2 });
    expect(r.lostByChannel).toEqual({ 0: 1, 1: 1 });
  });

  it('counts extra copies as duplicates, not as lost or out of order', () => {
    const r = checkChaosLog(log([A], [subscriber('B', [all[0]!, all[1]!, all[0]!, all[2]!, all[3]!, all[3]!, all[3]!])]));
    expect(r).toMatchObject({ expected: 4, received: 4, lost: 0, duplicated: 3, outOfOrder: 0, unexpected: 0 });
  });

  it('counts a lower sequence after a higher one on the same channel as out of order, per channel and per publisher', () => {
    // Channel 0: seq 3 before seq 1 → one out of order. Channel 1 in order (2, 4), interleaved after 3.
    const r = checkChaosLog(log([A], [subscriber('B', [all[2]!, all[1]!, all[0]!, all[3]!])]));
    expect(r).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 1 });
    // Interleaving channels, or publishers, is not a reordering.
    const B = publisher('B', [0, 0], [150, 250]);
    const r2 = checkChaosLog(log([A, B], [subscriber('S', [[0, 1, 1], [0, 0, 3], [1, 0, 2], [0, 1, 2], [0, 0, 1], [1, 0, 4]])]));
    expect(r2).toMatchObject({ expected: 6, lost: 0, duplicated: 0, outOfOrder: 1 });
  });

  it('does not count a repeated old copy as out of order again', () => {
    const r = checkChaosLog(log([A], [subscriber('B', [all[0]!, all[2]!, all[0]!, all[1]!, all[3]!])]));
    expect(r).toMatchObject({ duplicated: 1, outOfOrder: 0, lost: 0 });
  });

  it('expects nothing of an unacked publish, and counts its delivery as unexpected', () => {
    const P = publisher('A', [0, 1, 0, 1], [100, 200, 300, 400], [2, 3]);
    const r = checkChaosLog(log([P], [subscriber('B', [all[0]!, all[1]!, all[3]!])]));
    expect(r).toMatchObject({ published: 2, unacked: 2, expected: 2, received: 3, lost: 0, unexpected: 1 });
  });

  it('expects a message only if the subscription was acked strictly before the send', () => {
    // Channel 0 subscribed at 100 (same instant as seq 1's send) and channel 1 at 400 (seq 4's send).
    const sub = subscriber('B', all, { subscribed: [[{ start: 100, end: null }], [{ start: 400, end: null }]] });
    const r = checkChaosLog(log([A], [sub]));
    expect(r).toMatchObject({ expected: 1, received: 4, lost: 0, unexpected: 3 });
    const missingSeq3 = subscriber('B', [all[0]!], { subscribed: [[{ start: 100, end: null }], [{ start: 400, end: null }]] });
    expect(checkChaosLog(log([A], [missingSeq3]))).toMatchObject({ expected: 1, lost: 1, lostWindow: { first: 300, last: 300 } });
  });

  it('after a reconnect, expects only what was sent after the resubscribe, on the last connection', () => {
    // Connected 0–150, reconnected at 220; channel 1 resubscribed at 250, channel 0 at 350.
    const sub = subscriber('B', [all[0]!], {
      connected: [{ start: 0, end: 150 }, { start: 220, end: null }],
      subscribed: [
        [{ start: 10, end: 150 }, { start: 350, end: null }],
        [{ start: 10, end: 150 }, { start: 250, end: null }],
      ],
    });
    const r = checkChaosLog(log([A], [sub]));
    // Only seq 4 (channel 1 at 400) is expected; seq 3 (channel 0 at 300) is not: resubscribed at 350.
    expect(r).toMatchObject({ expected: 1, lost: 1, received: 1, unexpected: 1, lostWindow: { first: 400, last: 400 } });
  });

  it('expects nothing at a subscriber that is not connected at the end, or whose subscription was lost', () => {
    const gone = subscriber('B', all, { connected: [{ start: 0, end: 9500 }] });
    expect(checkChaosLog(log([A], [gone]))).toMatchObject({ expected: 0, lost: 0, unexpected: 4 });
    const dropped = subscriber('B', [all[0]!, all[2]!], { subscribed: [[{ start: 0, end: null }], [{ start: 0, end: 9000 }]] });
    expect(checkChaosLog(log([A], [dropped]))).toMatchObject({ expected: 2, lost: 0, received: 2 });
    // An interval that ends after the end of the run still counts as open.
    const late = subscriber('B', all, { connected: [{ start: 0, end: END + 1 }] });
    expect(checkChaosLog(log([A], [late]))).toMatchObject({ expected: 4, lost: 0 });
  });

  it('does not count a delivery after the end as received: a lost message that came late is lost and late', () => {
    const sub = subscriber('B', [all[0]!, all[1]!, all[2]!, all[3]!, all[3]!]);
    sub.delivery.at = [100, 200, 300, END + 5, END + 6];
    const r = checkChaosLog(log([A], [sub]));
    expect(r).toMatchObject({ expected: 4, received: 3, lost: 1, lostArrivedLate: 1, duplicated: 0, unexpected: 0, lostWindow: { first: 400, last: 400 } });
    // A lost message that never came at all is not late.
    expect(checkChaosLog(log([A], [subscriber('B', all.slice(0, 3))]))).toMatchObject({ lost: 1, lostArrivedLate: 0 });
  });

  it('counts deliveries of messages it never saw published as unexpected', () => {
    const r = checkChaosLog(log([A], [subscriber('B', [...all, [0, 0, 99], [1, -1, 1]])]));
    expect(r).toMatchObject({ expected: 4, received: 6, lost: 0, unexpected: 2 });
  });
});
