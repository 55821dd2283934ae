import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Inbound, type LocalEngine } from '../src/cluster/inbound.js';
import { createClusterStats } from '../src/cluster/stats.js';
import { captureLog } from './log-capture.js';

const WINDOW_MS = 100;

function make() {
  const delivered: Array<[string, unknown, boolean]> = [];
  const engine = {
    invokePublish: (channel: string, data: unknown, suppressEvent?: boolean) => {
      delivered.push([channel, data, suppressEvent === true]);
      return Promise.resolve();
    },
  } as unknown as LocalEngine;
  const stats = createClusterStats();
  const log = captureLog();
  const inbound = new Inbound({ instanceId: 'me', engine, reorderWindowMs: WINDOW_MS, stats, logger: log.logger });
  const messages = () => delivered.map(([channel, data]) => `${channel}:${String(data)}`);
  return { inbound, delivered, messages, stats, log };
}

describe('Inbound', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('delivers each message locally through invokePublish, without raising the publish event', () => {
    const { inbound, delivered, stats } = make();
    inbound.receive('c', { sender: 'w2', messages: ['a', 'b'], seq: 0 });
    expect(delivered).toEqual([
      ['c', 'a', true],
      ['c', 'b', true],
    ]);
    expect(stats).toMatchObject({ packetsIn: 1, messagesDelivered: 2 });
    inbound.close();
  });

  it('drops a packet that fails the guard, counts it, warns, and delivers nothing', () => {
    const { inbound, delivered, stats, log } = make();
    for (const bad of [null, 'text', { sender: 'w2' }, { sender: 'w2', messages: 'x' }, { sender: 'w2', messages: [], seq: -1 }]) inbound.receive('c', bad);
    expect(delivered).toEqual([]);
    expect(stats).toMatchObject({ packetsIn: 5, malformedPackets: 5, messagesDelivered: 0 });
    expect(log.warnings()[0]).toMatch(/^dropped a packet on c: /);
    inbound.close();
  });

  it('skips this worker\'s own packets (already delivered locally)', () => {
    const { inbound, delivered, stats } = make();
    inbound.receive('c', { sender: 'me', messages: ['mine'], seq: 0 });
    expect(delivered).toEqual([]);
    expect(stats).toMatchObject({ packetsIn: 1, messagesDelivered: 0 });
    inbound.close();
  });

  it('puts numbered packets in order and drops duplicates; an original worker\'s packets go as they come', () => {
    const { inbound, messages, stats } = make();
    inbound.receive('c', { sender: 'w2', messages: [0], seq: 0 });
    inbound.receive('c', { sender: 'w2', messages: [2], seq: 2 });
    inbound.receive('c', { sender: null, messages: ['orig'] });
    inbound.receive('c', { sender: 'w2', messages: [1], seq: 1 });
    inbound.receive('c', { sender: 'w2', messages: [1], seq: 1 });
    expect(messages()).toEqual(['c:0', 'c:orig', 'c:1', 'c:2']);
    expect(stats.duplicatesDropped).toBe(1);
    inbound.close();
  });

  it('counts and reports a gap that the reorder window did not fill', () => {
    const { inbound, messages, stats, log } = make();
    inbound.receive('c', { sender: 'w2', messages: [0], seq: 0 });
    inbound.receive('c', { sender: 'w2', messages: [3], seq: 3 });
    expect(messages()).toEqual(['c:0']);
    vi.advanceTimersByTime(WINDOW_MS);
    expect(messages()).toEqual(['c:0', 'c:3']);
    expect(stats.packetsMissed).toBe(2);
    expect(log.warnings()).toEqual(['missed 2 packets from worker w2 on c (seq 1..2)']);
    inbound.close();
  });

  it('delivers what it holds when a channel is forgotten, and holds nothing after close', () => {
    const { inbound, messages } = make();
    inbound.receive('c', { sender: 'w2', messages: [0], seq: 0 });
    inbound.receive('c', { sender: 'w2', messages: [2], seq: 2 });
    inbound.forgetChannel('c');
    expect(messages()).toEqual(['c:0', 'c:2']);
    inbound.receive('c', { sender: 'w2', messages: [5], seq: 5 });
    inbound.receive('c', { sender: 'w2', messages: [7], seq: 7 });
    inbound.close();
    inbound.close();
    vi.advanceTimersByTime(WINDOW_MS * 10);
    expect(messages()).toEqual(['c:0', 'c:2', 'c:5']);
  });
});
