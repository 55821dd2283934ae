import { afterEach, describe, expect, it, vi } from 'vitest';
import { PositionOrder, type PositionedBatch } from '../src/cluster/positions.js';

function order(windowMs = 100, maxHeld?: number) {
  const delivered: Array<[string, number, unknown[]]> = [];
  const gaps: Array<[string, string, number, number]> = [];
  const stage = new PositionOrder({
    windowMs,
    ...(maxHeld === undefined ? {} : { maxHeld }),
    deliver: (channel: string, batch: PositionedBatch) => delivered.push([batch.position.epoch, batch.position.offset, batch.messages]),
    onGap: (channel, epoch, from, to) => gaps.push([channel, epoch, from, to]),
  });
  return { stage, delivered, gaps };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('PositionOrder', () => {
  it('hands on packets in order at once and drops what was already handed on, overlaps included', () => {
    const { stage, delivered } = order();
    stage.accept('c', { epoch: 'e', offset: 5 }, ['a', 'b']);
    stage.accept('c', { epoch: 'e', offset: 7 }, ['c']);
    stage.accept('c', { epoch: 'e', offset: 6 }, ['b', 'c']);
    stage.accept('c', { epoch: 'e', offset: 7 }, ['c', 'd', 'e']);
    expect(delivered).toEqual([
      ['e', 5, ['a', 'b']],
      ['e', 7, ['c']],
      ['e', 8, ['d', 'e']],
    ]);
    stage.close();
  });

  it('holds a packet after a gap until the gap fills, then hands both on in order', () => {
    const { stage, delivered, gaps } = order();
    stage.accept('c', { epoch: 'e', offset: 1 }, ['m1']);
    stage.accept('c', { epoch: 'e', offset: 3 }, ['m3']);
    expect(delivered).toHaveLength(1);
    stage.accept('c', { epoch: 'e', offset: 2 }, ['m2']);
    expect(delivered.map(([, offset]) => offset)).toEqual([1, 2, 3]);
    expect(gaps).toEqual([]);
    expect(stage.heldCount).toBe(0);
    stage.close();
  });

  it('gives a gap up after the window: counted, and delivery goes on', () => {
    vi.useFakeTimers();
    const { stage, delivered, gaps } = order(50);
    stage.accept('c', { epoch: 'e', offset: 1 }, ['m1']);
    stage.accept('c', { epoch: 'e', offset: 4 }, ['m4']);
    vi.advanceTimersByTime(49);
    expect(delivered).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(gaps).toEqual([['c', 'e', 2, 3]]);
    expect(delivered.map(([, offset]) => offset)).toEqual([1, 4]);
    // A late arrival of the gap is now a duplicate.
    stage.accept('c', { epoch: 'e', offset: 2 }, ['m2']);
    expect(delivered).toHaveLength(2);
    stage.close();
  });

  it('gives a gap up at once when too much is held', () => {
    const { stage, delivered, gaps } = order(10_000, 2);
    stage.accept('c', { epoch: 'e', offset: 1 }, ['m1']);
    for (const offset of [5, 6, 7]) stage.accept('c', { epoch: 'e', offset }, [`m${offset}`]);
    expect(gaps).toEqual([['c', 'e', 2, 4]]);
    expect(delivered.map(([, offset]) => offset)).toEqual([1, 5, 6, 7]);
    stage.close();
  });

  it('a new epoch ends the old one: what was held goes first, then the new epoch from where it starts', () => {
    const { stage, delivered, gaps } = order();
    stage.accept('c', { epoch: 'old', offset: 1 }, ['a']);
    stage.accept('c', { epoch: 'old', offset: 3 }, ['c']);
    stage.accept('c', { epoch: 'new', offset: 1 }, ['x']);
    stage.accept('c', { epoch: 'new', offset: 2 }, ['y']);
    expect(delivered).toEqual([
      ['old', 1, ['a']],
      ['old', 3, ['c']],
      ['new', 1, ['x']],
      ['new', 2, ['y']],
    ]);
    expect(gaps).toEqual([['c', 'old', 2, 2]]);
    stage.close();
  });

  it('keeps channels apart, and a forgotten channel starts afresh', () => {
    const { stage, delivered } = order();
    stage.accept('a', { epoch: 'e', offset: 10 }, ['a10']);
    stage.accept('b', { epoch: 'e', offset: 1 }, ['b1']);
    stage.forgetChannel('a');
    stage.accept('a', { epoch: 'e', offset: 5 }, ['a5']);
    expect(delivered.map(([, offset, m]) => [offset, m[0]])).toEqual([
      [10, 'a10'],
      [1, 'b1'],
      [5, 'a5'],
    ]);
    stage.close();
  });
});
