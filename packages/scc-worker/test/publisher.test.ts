import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PublishPacket } from '@scc-ts/shared';
import { Publisher, type DeliveryMode } from '../src/cluster/publisher.js';

function make(mode: DeliveryMode | ((c: string) => DeliveryMode), send: (channel: string, packet: PublishPacket) => Promise<void>) {
  const lost: Array<[string, number]> = [];
  let retries = 0;
  const publisher = new Publisher({
    sender: 'w1',
    send: (channel, packet) => send(channel, packet).then(() => 'ws://b1'),
    lingerMs: 1000,
    modeFor: typeof mode === 'function' ? mode : () => mode,
    retryDelayMs: 50,
    retryTimeoutMs: 1000,
    maxRetrying: 10,
    onLost: (channel, count) => lost.push([channel, count]),
    onRetry: () => {
      retries += 1;
    },
  });
  return { publisher, lost, retries: () => retries };
}

describe('Publisher', () => {
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
    expect(lost).toEqual([['a', 2]]);
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
    expect(lost).toEqual([]);
    publisher.close();
  });

  it('at-least-once: gives up after the retry timeout and counts the loss', async () => {
    const { publisher, lost } = make('at-least-once', () => Promise.reject(new Error('down')));
    publisher.publish('a', ['x', 'y']);
    await vi.advanceTimersByTimeAsync(1200);
    expect(lost).toEqual([['a', 2]]);
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
    expect(lost).toEqual([]);
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
    expect(lost).toEqual([['chat', 1]]);
    publisher.close();
  });
});
