import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidChannelError, type PublishPacket } from '@scc-ts/shared';
import { Outbound, type DeliveryMode, type OutboundRoute } from '../src/cluster/outbound.js';
import { createClusterStats, type ClusterStats } from '../src/cluster/stats.js';
import { captureLog } from './log-capture.js';

interface Flush {
  channel: string;
  messages: unknown[];
  at: number;
}

/** A route that records each packet and accepts it, as the router would. */
function recorder(): { flushes: Flush[]; route: OutboundRoute } {
  const flushes: Flush[] = [];
  const route: OutboundRoute = {
    publish: (channel, packet) => {
      flushes.push({ channel, messages: packet.messages, at: Date.now() });
      return Promise.resolve();
    },
    onBrokerDown: () => () => undefined,
    onBrokerWithdrawn: () => () => undefined,
    isWithdrawn: () => false,
  };
  return { flushes, route };
}

/** The outbound stage in at-most-once mode with a batch window (and minimum interval), ms. */
function batching(route: OutboundRoute, batchMs: number, batchIntervalMs = 0): Outbound {
  const { logger } = captureLog();
  return new Outbound({ sender: 'w1', route, modeFor: () => 'at-most-once', batchMs, batchIntervalMs, retryTimeoutMs: 1000, stats: createClusterStats(), logger });
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(0);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('Outbound batching', () => {
  it('buffers per channel and hands each channel its messages in order after the window', () => {
    const { flushes, route } = recorder();
    const batcher = batching(route, 100);
    batcher.publish('a', 1);
    batcher.publish('b', 'x');
    batcher.publish('a', 2);
    batcher.publish('a', { three: 3 });
    batcher.publish('b', 'y');
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
    const { flushes, route } = recorder();
    const batcher = batching(route, 100);
    batcher.publish('a', 1);
    vi.advanceTimersByTime(50);
    batcher.publish('a', 2);
    vi.advanceTimersByTime(49);
    batcher.publish('a', 3);
    vi.advanceTimersByTime(1);
    expect(flushes).toEqual([{ channel: 'a', messages: [1, 2, 3], at: 100 }]);
    vi.advanceTimersByTime(500);
    expect(flushes).toHaveLength(1);
    // The next message opens a new window.
    vi.advanceTimersByTime(20); // now 620
    batcher.publish('a', 4);
    batcher.publish('c', 5);
    vi.advanceTimersByTime(100);
    expect(flushes.slice(1)).toEqual([
      { channel: 'a', messages: [4], at: 720 },
      { channel: 'c', messages: [5], at: 720 },
    ]);
    batcher.close();
  });

  it('sends many messages of one channel in one packet per window', () => {
    const { flushes, route } = recorder();
    const batcher = batching(route, 10);
    const sent = Array.from({ length: 1000 }, (_, i) => i);
    for (const i of sent) batcher.publish('chat', i);
    vi.advanceTimersByTime(10);
    expect(flushes).toHaveLength(1);
    expect(flushes[0]?.messages).toEqual(sent);
    batcher.close();
  });

  it('keeps no timer while idle', () => {
    const { flushes, route } = recorder();
    const batcher = batching(route, 100);
    expect(vi.getTimerCount()).toBe(0);
    batcher.publish('a', 1);
    expect(vi.getTimerCount()).toBe(1);
    batcher.publish('b', 1);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(100);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(flushes).toHaveLength(2);
    batcher.close();
  });

  it('does not change a batch already handed on', () => {
    const { flushes, route } = recorder();
    const batcher = batching(route, 100);
    batcher.publish('a', 1);
    vi.advanceTimersByTime(100);
    batcher.publish('a', 2);
    expect(flushes[0]?.messages).toEqual([1]);
    vi.advanceTimersByTime(100);
    expect(flushes[1]?.messages).toEqual([2]);
    batcher.close();
  });

  it('flushes what is buffered on close, at once, and leaves no timer', () => {
    const { flushes, route } = recorder();
    const batcher = batching(route, 100);
    batcher.publish('a', 1);
    batcher.publish('b', 2);
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
    const { flushes, route } = recorder();
    const batcher = batching(route, 100);
    batcher.close();
    batcher.close();
    expect(flushes).toEqual([]);
  });

  it('with a zero window sends on the next timer tick, batched', () => {
    const { flushes, route } = recorder();
    const batcher = batching(route, 0);
    batcher.publish('a', 1);
    batcher.publish('a', 2);
    expect(flushes).toEqual([]);
    vi.advanceTimersByTime(0);
    expect(flushes).toEqual([{ channel: 'a', messages: [1, 2], at: 0 }]);
    batcher.close();
  });
});

describe('Outbound batching with a 0 window', () => {
  it('sends what was added in one event-loop turn as one packet per channel, in order', async () => {
    vi.useRealTimers();
    const { flushes, route } = recorder();
    const batcher = batching(route, 0);
    batcher.publish('a', 1);
    batcher.publish('b', 'x');
    batcher.publish('a', 2);
    await Promise.resolve();
    expect(flushes).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(flushes.map((f) => [f.channel, f.messages])).toEqual([
      ['a', [1, 2]],
      ['b', ['x']],
    ]);
    batcher.publish('a', 3);
    await new Promise((r) => setImmediate(r));
    expect(flushes.map((f) => f.messages)).toEqual([[1, 2], ['x'], [3]]);
    batcher.close();
  });
});

describe('Outbound batching with a 0 window and a minimum interval', () => {
  it('sends at once after a quiet spell, then at most once per interval under load', async () => {
    vi.useRealTimers();
    const { flushes, route } = recorder();
    const batcher = batching(route, 0, 40);
    const started = Date.now();
    batcher.publish('a', 1);
    await new Promise((r) => setImmediate(r));
    expect(flushes.map((f) => f.messages)).toEqual([[1]]);
    // Right after a flush: held until the interval has passed since it.
    batcher.publish('a', 2);
    batcher.publish('a', 3);
    await new Promise((r) => setImmediate(r));
    expect(flushes).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 60));
    expect(flushes.map((f) => f.messages)).toEqual([[1], [2, 3]]);
    expect(flushes[1]!.at - started).toBeGreaterThanOrEqual(35);
    batcher.close();
  });
});

/**
 * The outbound stage over a route whose sends `send` decides; each `publish(channel, messages)` of
 * a test is one packet (published, then flushed).
 */
function make(mode: DeliveryMode | ((c: string) => DeliveryMode), send: (channel: string, packet: PublishPacket) => Promise<void>) {
  const log = captureLog();
  const stats: ClusterStats = createClusterStats();
  const downListeners: Array<(uri: string) => void> = [];
  const withdrawnListeners: Array<(uri: string) => void> = [];
  const withdrawn = new Set<string>();
  const route: OutboundRoute = {
    publish: (channel, packet) => send(channel, packet).then(() => 'ws://b1'),
    onBrokerDown: (listener) => {
      downListeners.push(listener);
      return () => undefined;
    },
    onBrokerWithdrawn: (listener) => {
      withdrawnListeners.push(listener);
      return () => undefined;
    },
    isWithdrawn: (uri) => withdrawn.has(uri),
  };
  const outbound = new Outbound({
    sender: 'w1',
    route,
    modeFor: typeof mode === 'function' ? mode : () => mode,
    batchMs: 0,
    batchIntervalMs: 0,
    lingerMs: 1000,
    retryDelayMs: 50,
    retryTimeoutMs: 1000,
    maxRetrying: 10,
    stats,
    logger: log.logger,
  });
  const publisher = {
    publish(channel: string, messages: unknown[]): void {
      for (const message of messages) outbound.publish(channel, message);
      outbound.flush();
    },
    brokerDown: (uri: string) => {
      for (const listener of downListeners) listener(uri);
    },
    /** The router switched to a list that withdrew `uri` (as Router's onSwitch does). */
    withdraw: (uri: string) => {
      withdrawn.add(uri);
      for (const listener of withdrawnListeners) listener(uri);
    },
    close: () => outbound.close(),
  };
  // Losses as (channel, messages) from the warnings; each test loses at most once per kind, so none is summarised away.
  const lost = (): Array<[string, number]> => {
    const pairs = log.warnings().flatMap((w) => {
      const m = /^publish to (\S+) failed, (\d+) messages lost/.exec(w);
      return m ? [[m[1] as string, Number(m[2])] as [string, number]] : [];
    });
    expect(pairs.reduce((sum, [, n]) => sum + n, 0)).toBe(stats.messagesLost);
    expect(pairs.length).toBe(stats.publishFailures);
    return pairs;
  };
  return { publisher, lost, retries: () => stats.publishRetries, stats };
}

describe('Outbound numbering and delivery modes', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('numbers packets per channel from 0', () => {
    const sent: Array<[string, PublishPacket]> = [];
    const { publisher } = make('at-most-once', async (c, p) => {
      sent.push([c, p]);
    });
    publisher.publish('a', [1]);
    publisher.publish('a', [2, 3]);
    publisher.publish('b', [4]);
    expect(sent).toEqual([
      ['a', { sender: 'w1', messages: [1], seq: 0 }],
      ['a', { sender: 'w1', messages: [2, 3], seq: 1 }],
      ['b', { sender: 'w1', messages: [4], seq: 0 }],
    ]);
    publisher.close();
  });

  it('at-most-once: a failed send is counted lost and never re-sent', async () => {
    let calls = 0;
    const { publisher, lost, retries } = make('at-most-once', () => {
      calls += 1;
      return Promise.reject(new Error('down'));
    });
    publisher.publish('a', [1, 2]);
    await vi.advanceTimersByTimeAsync(500);
    expect(calls).toBe(1);
    expect(lost()).toEqual([['a', 2]]);
    expect(retries()).toBe(0);
    publisher.close();
  });

  it('at-least-once: re-sends the same packet until a broker acknowledges it', async () => {
    const attempts: PublishPacket[] = [];
    const { publisher, lost, retries } = make('at-least-once', (_c, p) => {
      attempts.push(p);
      return attempts.length < 3 ? Promise.reject(new Error('down')) : Promise.resolve();
    });
    publisher.publish('a', ['x']);
    await vi.advanceTimersByTimeAsync(200);
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts.map((p) => p.seq))).toEqual(new Set([0]));
    expect(retries()).toBe(2);
    expect(lost()).toEqual([]);
    publisher.close();
  });

  it('at-least-once: gives up after the retry timeout and counts the loss', async () => {
    const { publisher, lost } = make('at-least-once', () => Promise.reject(new Error('down')));
    publisher.publish('a', ['x', 'y']);
    await vi.advanceTimersByTimeAsync(1200);
    expect(lost()).toEqual([['a', 2]]);
    publisher.close();
  });

  it('at-least-once: re-sends recently acknowledged packets when their broker goes down', async () => {
    const attempts: PublishPacket[] = [];
    const { publisher, lost } = make('at-least-once', async (_c, p) => {
      attempts.push(p);
    });
    publisher.publish('a', ['old']);
    await vi.advanceTimersByTimeAsync(1500);
    publisher.publish('a', ['recent']);
    await vi.advanceTimersByTimeAsync(10);
    publisher.brokerDown('ws://other');
    await vi.advanceTimersByTimeAsync(100);
    expect(attempts.map((p) => p.seq)).toEqual([0, 1]);
    publisher.brokerDown('ws://b1');
    await vi.advanceTimersByTimeAsync(100);
    // Only the packet acknowledged within the linger time goes again, with its seq (receivers dedupe).
    expect(attempts.map((p) => p.seq)).toEqual([0, 1, 1]);
    expect(lost()).toEqual([]);
    publisher.close();
  });

  it('at-least-once: re-sends at once, in order, what a withdrawn broker acknowledged lately; and what it acknowledges after', async () => {
    const attempts: PublishPacket[] = [];
    let answer: (() => void) | undefined;
    const { publisher, lost, stats } = make('at-least-once', (_c, p) => {
      attempts.push(p);
      // The fourth packet's acknowledgement is held until after the withdrawal.
      if (p.seq === 3 && attempts.filter((a) => a.seq === 3).length === 1) return new Promise<void>((resolve) => (answer = resolve));
      return Promise.resolve();
    });
    publisher.publish('a', ['old']);
    await vi.advanceTimersByTimeAsync(1500);
    publisher.publish('a', ['r1']);
    publisher.publish('a', ['r2']);
    publisher.publish('a', ['in flight']);
    await vi.advanceTimersByTimeAsync(10);
    expect(attempts.map((p) => p.seq)).toEqual([0, 1, 2, 3]);
    publisher.withdraw('ws://b1');
    // At once (no retry delay), oldest first, only the packets within the linger time.
    expect(attempts.map((p) => p.seq)).toEqual([0, 1, 2, 3, 1, 2]);
    expect(stats.withdrawalResends).toBe(2);
    // Acknowledged by the withdrawn broker after the switch: sent again too.
    answer?.();
    await vi.advanceTimersByTimeAsync(10);
    expect(attempts.map((p) => p.seq)).toEqual([0, 1, 2, 3, 1, 2, 3]);
    expect(lost()).toEqual([]);
    publisher.close();
  });

  it('chooses the mode per channel', async () => {
    const attempts: string[] = [];
    const { publisher, lost } = make(
      (c) => (c.startsWith('orders/') ? 'at-least-once' : 'at-most-once'),
      (c) => {
        attempts.push(c);
        return attempts.length <= 2 ? Promise.reject(new Error('down')) : Promise.resolve();
      },
    );
    publisher.publish('orders/1', ['o']);
    publisher.publish('chat', ['c']);
    await vi.advanceTimersByTimeAsync(200);
    expect(attempts).toEqual(['orders/1', 'chat', 'orders/1']);
    expect(lost()).toEqual([['chat', 1]]);
    publisher.close();
  });
});

describe('Outbound edge cases', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('at-least-once: a channel name the router refuses is lost at once, never re-sent', async () => {
    let calls = 0;
    const { publisher, lost, retries } = make('at-least-once', () => {
      calls += 1;
      return Promise.reject(new InvalidChannelError('refused'));
    });
    publisher.publish('constructor', ['x']);
    await vi.advanceTimersByTimeAsync(500);
    expect(calls).toBe(1);
    expect(retries()).toBe(0);
    expect(lost()).toEqual([['constructor', 1]]);
    publisher.close();
  });

  it('restarts a channel\'s numbering at 0 once it was idle for more than five sweep intervals, not before', async () => {
    const seqs: number[] = [];
    const { publisher } = make('at-most-once', async (_c, p) => {
      seqs.push(p.seq as number);
    });
    publisher.publish('a', [1]);
    publisher.publish('a', [2]);
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    publisher.publish('a', [3]);
    await vi.advanceTimersByTimeAsync(6 * 60_000);
    publisher.publish('a', [4]);
    expect(seqs).toEqual([0, 1, 2, 0]);
    publisher.close();
  });

  it('sends a raw ArrayBuffer as a Buffer of the same bytes', () => {
    const { flushes, route } = recorder();
    const outbound = batching(route, 0);
    outbound.publish('bin', new Uint8Array([1, 2, 3]).buffer);
    outbound.flush();
    expect(flushes[0]?.messages).toEqual([Buffer.from([1, 2, 3])]);
    outbound.close();
  });

  it('without batching sends every message as its own packet at once', () => {
    const { flushes, route } = recorder();
    const { logger } = captureLog();
    const outbound = new Outbound({ sender: 'w1', route, modeFor: () => 'at-most-once', batchMs: null, batchIntervalMs: 0, retryTimeoutMs: 1000, stats: createClusterStats(), logger });
    outbound.publish('a', 1);
    outbound.publish('a', 2);
    expect(flushes.map((f) => f.messages)).toEqual([[1], [2]]);
    expect(vi.getTimerCount()).toBe(0);
    outbound.close();
  });
});
