import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PublishBatcher } from '../src/cluster/batcher.js';

interface Flush {
  channel: string;
  messages: unknown[];
  at: number;
}

function recorder(): { flushes: Flush[]; flushChannel: (channel: string, messages: unknown[]) => void } {
  const flushes: Flush[] = [];
  return { flushes, flushChannel: (channel, messages) => flushes.push({ channel, messages, at: Date.now() }) };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(0);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('PublishBatcher', () => {
  it('buffers per channel and hands each channel its messages in order after the window', () => {
    const { flushes, flushChannel } = recorder();
    const batcher = new PublishBatcher(100, flushChannel);
    batcher.add('a', 1);
    batcher.add('b', 'x');
    batcher.add('a', 2);
    batcher.add('a', { three: 3 });
    batcher.add('b', 'y');
    vi.advanceTimersByTime(99);
    expect(flushes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(flushes).toEqual([
      { channel: 'a', messages: [1, 2, { three: 3 }], at: 100 },
      { channel: 'b', messages: ['x', 'y'], at: 100 },
    ]);
    batcher.close();
  });

  it('flushes once per window, the window starting with the first message', () => {
    const { flushes, flushChannel } = recorder();
    const batcher = new PublishBatcher(100, flushChannel);
    batcher.add('a', 1);
    vi.advanceTimersByTime(50);
    batcher.add('a', 2);
    vi.advanceTimersByTime(49);
    batcher.add('a', 3);
    vi.advanceTimersByTime(1);
    expect(flushes).toEqual([{ channel: 'a', messages: [1, 2, 3], at: 100 }]);
    vi.advanceTimersByTime(500);
    expect(flushes).toHaveLength(1);
    // The next message opens a new window.
    vi.advanceTimersByTime(20); // now 620
    batcher.add('a', 4);
    batcher.add('c', 5);
    vi.advanceTimersByTime(100);
    expect(flushes.slice(1)).toEqual([
      { channel: 'a', messages: [4], at: 720 },
      { channel: 'c', messages: [5], at: 720 },
    ]);
    batcher.close();
  });

  it('sends many messages of one channel in one packet per window', () => {
    const { flushes, flushChannel } = recorder();
    const batcher = new PublishBatcher(10, flushChannel);
    const sent = Array.from({ length: 1000 }, (_, i) => i);
    for (const i of sent) batcher.add('chat', i);
    vi.advanceTimersByTime(10);
    expect(flushes).toHaveLength(1);
    expect(flushes[0]?.messages).toEqual(sent);
    batcher.close();
  });

  it('keeps no timer while idle', () => {
    const { flushes, flushChannel } = recorder();
    const batcher = new PublishBatcher(100, flushChannel);
    expect(vi.getTimerCount()).toBe(0);
    batcher.add('a', 1);
    expect(vi.getTimerCount()).toBe(1);
    batcher.add('b', 1);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(100);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(flushes).toHaveLength(2);
    batcher.close();
  });

  it('does not change a batch already handed on', () => {
    const { flushes, flushChannel } = recorder();
    const batcher = new PublishBatcher(100, flushChannel);
    batcher.add('a', 1);
    vi.advanceTimersByTime(100);
    batcher.add('a', 2);
    expect(flushes[0]?.messages).toEqual([1]);
    vi.advanceTimersByTime(100);
    expect(flushes[1]?.messages).toEqual([2]);
    batcher.close();
  });

  it('flushes what is buffered on close, at once, and leaves no timer', () => {
    const { flushes, flushChannel } = recorder();
    const batcher = new PublishBatcher(100, flushChannel);
    batcher.add('a', 1);
    batcher.add('b', 2);
    vi.advanceTimersByTime(30);
    batcher.close();
    expect(flushes).toEqual([
      { channel: 'a', messages: [1], at: 30 },
      { channel: 'b', messages: [2], at: 30 },
    ]);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(flushes).toHaveLength(2);
  });

  it('flushes nothing on close when nothing is buffered', () => {
    const { flushes, flushChannel } = recorder();
    const batcher = new PublishBatcher(100, flushChannel);
    batcher.close();
    batcher.close();
    expect(flushes).toEqual([]);
  });

  it('with a zero window sends on the next timer tick, batched', () => {
    const { flushes, flushChannel } = recorder();
    const batcher = new PublishBatcher(0, flushChannel);
    batcher.add('a', 1);
    batcher.add('a', 2);
    expect(flushes).toEqual([]);
    vi.advanceTimersByTime(0);
    expect(flushes).toEqual([{ channel: 'a', messages: [1, 2], at: 0 }]);
    batcher.close();
  });
});

describe('PublishBatcher with a 0 window', () => {
  it('sends what was added in one event-loop turn as one packet per channel, in order', async () => {
    vi.useRealTimers();
    const { flushes, flushChannel } = recorder();
    const batcher = new PublishBatcher(0, flushChannel);
    batcher.add('a', 1);
    batcher.add('b', 'x');
    batcher.add('a', 2);
    await Promise.resolve();
    expect(flushes).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(flushes.map((f) => [f.channel, f.messages])).toEqual([
      ['a', [1, 2]],
      ['b', ['x']],
    ]);
    batcher.add('a', 3);
    await new Promise((r) => setImmediate(r));
    expect(flushes.map((f) => f.messages)).toEqual([[1, 2], ['x'], [3]]);
    batcher.close();
  });
});

describe('PublishBatcher with a 0 window and a minimum interval', () => {
  it('sends at once after a quiet spell, then at most once per interval under load', async () => {
    vi.useRealTimers();
    const { flushes, flushChannel } = recorder();
    const batcher = new PublishBatcher(0, flushChannel, 40);
    const started = Date.now();
    batcher.add('a', 1);
    await new Promise((r) => setImmediate(r));
    expect(flushes.map((f) => f.messages)).toEqual([[1]]);
    // Right after a flush: held until the interval has passed since it.
    batcher.add('a', 2);
    batcher.add('a', 3);
    await new Promise((r) => setImmediate(r));
    expect(flushes).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 60));
    expect(flushes.map((f) => f.messages)).toEqual([[1], [2, 3]]);
    expect(flushes[1]!.at - started).toBeGreaterThanOrEqual(35);
    batcher.close();
  });
});
