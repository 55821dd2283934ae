import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Sequencer } from '../src/cluster/sequencer.js';

interface Log {
  delivered: string[];
  lost: Array<[string, string, number, number]>;
  duplicates: number[];
}

function make(windowMs = 100, maxHeld?: number): { seq: Sequencer; log: Log } {
  const log: Log = { delivered: [], lost: [], duplicates: [] };
  const seq = new Sequencer({
    windowMs,
    ...(maxHeld === undefined ? {} : { maxHeld }),
    deliver: (channel, messages) => log.delivered.push(...messages.map((m) => `${channel}:${String(m)}`)),
    onLoss: (channel, sender, from, to) => log.lost.push([channel, sender, from, to]),
    onDuplicate: (_channel, _sender, s) => log.duplicates.push(s),
  });
  return { seq, log };
}

describe('Sequencer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('delivers packets in order at once, starting from whatever seq it first sees', () => {
    const { seq, log } = make();
    seq.accept('c', 'w1', 7, ['a']);
    seq.accept('c', 'w1', 8, ['b', 'c']);
    expect(log.delivered).toEqual(['c:a', 'c:b', 'c:c']);
    expect(seq.heldCount).toBe(0);
    seq.close();
  });

  it('holds a packet that overtook another and releases both in order when the gap fills', () => {
    const { seq, log } = make();
    seq.accept('c', 'w1', 0, ['m0']);
    seq.accept('c', 'w1', 2, ['m2']);
    seq.accept('c', 'w1', 3, ['m3']);
    expect(log.delivered).toEqual(['c:m0']);
    expect(seq.heldCount).toBe(2);
    seq.accept('c', 'w1', 1, ['m1']);
    expect(log.delivered).toEqual(['c:m0', 'c:m1', 'c:m2', 'c:m3']);
    vi.advanceTimersByTime(1000);
    expect(log.lost).toEqual([]);
    seq.close();
  });

  it('declares a gap lost after the window, delivers what follows, and delivers a late arrival once', () => {
    const { seq, log } = make(100);
    seq.accept('c', 'w1', 0, ['m0']);
    seq.accept('c', 'w1', 3, ['m3']);
    vi.advanceTimersByTime(99);
    expect(log.delivered).toEqual(['c:m0']);
    vi.advanceTimersByTime(1);
    expect(log.lost).toEqual([['c', 'w1', 1, 2]]);
    expect(log.delivered).toEqual(['c:m0', 'c:m3']);
    // An at-least-once re-send of a packet declared lost still gets through, once.
    seq.accept('c', 'w1', 2, ['m2']);
    seq.accept('c', 'w1', 2, ['m2']);
    expect(log.delivered).toEqual(['c:m0', 'c:m3', 'c:m2']);
    expect(log.duplicates).toEqual([2]);
    seq.close();
  });

  it('drops duplicates, delivered or held', () => {
    const { seq, log } = make();
    seq.accept('c', 'w1', 0, ['m0']);
    seq.accept('c', 'w1', 0, ['m0']);
    seq.accept('c', 'w1', 2, ['m2']);
    seq.accept('c', 'w1', 2, ['m2']);
    seq.accept('c', 'w1', 1, ['m1']);
    expect(log.delivered).toEqual(['c:m0', 'c:m1', 'c:m2']);
    expect(log.duplicates).toEqual([0, 2]);
    seq.close();
  });

  it('keeps senders and channels apart', () => {
    const { seq, log } = make();
    seq.accept('c', 'w1', 0, ['a0']);
    seq.accept('c', 'w2', 5, ['b5']);
    seq.accept('d', 'w1', 9, ['d9']);
    seq.accept('c', 'w1', 1, ['a1']);
    expect(log.delivered).toEqual(['c:a0', 'c:b5', 'd:d9', 'c:a1']);
    expect(seq.streamCount).toBe(3);
    seq.close();
  });

  it('restarts a stream at seq 0 after a silence (the sender forgot an idle channel)', () => {
    const { seq, log } = make();
    seq.accept('c', 'w1', 0, ['x0']);
    seq.accept('c', 'w1', 1, ['x1']);
    seq.accept('c', 'w1', 0, ['x0']);
    expect(log.duplicates).toEqual([0]);
    vi.advanceTimersByTime(2 * 60_000);
    seq.accept('c', 'w1', 0, ['y0']);
    seq.accept('c', 'w1', 1, ['y1']);
    expect(log.delivered).toEqual(['c:x0', 'c:x1', 'c:y0', 'c:y1']);
    expect(log.duplicates).toEqual([0]);
    seq.close();
  });

  it('bounds what it holds: past maxHeld the gap is declared lost at once', () => {
    const { seq, log } = make(10_000, 3);
    seq.accept('c', 'w1', 0, ['m0']);
    for (let s = 5; s <= 8; s++) seq.accept('c', 'w1', s, [`m${s}`]);
    expect(log.lost).toEqual([['c', 'w1', 1, 4]]);
    expect(log.delivered).toEqual(['c:m0', 'c:m5', 'c:m6', 'c:m7', 'c:m8']);
    expect(seq.heldCount).toBe(0);
    seq.close();
  });

  it('forgetting a channel delivers what it held and starts afresh', () => {
    const { seq, log } = make();
    seq.accept('c', 'w1', 0, ['m0']);
    seq.accept('c', 'w1', 4, ['m4']);
    seq.forgetChannel('c');
    expect(log.delivered).toEqual(['c:m0', 'c:m4']);
    seq.accept('c', 'w1', 10, ['m10']);
    expect(log.delivered).toEqual(['c:m0', 'c:m4', 'c:m10']);
    vi.advanceTimersByTime(1000);
    expect(log.lost).toEqual([]);
    seq.close();
  });

  it('forgets streams that stay silent for minutes', () => {
    const { seq } = make();
    seq.accept('c', 'w1', 0, ['m0']);
    expect(seq.streamCount).toBe(1);
    vi.advanceTimersByTime(7 * 60_000);
    expect(seq.streamCount).toBe(0);
    seq.close();
  });
});
