import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@scc-ts/shared';
import { HandoverCoordinator } from '../src/handover.js';

const logger = createLogger({ name: 'test', level: 0, format: 'json' });

function make(timeoutMs = 1000) {
  const signals: string[] = [];
  const done: string[] = [];
  const coordinator = new HandoverCoordinator({
    signal: (socketId, event, data) => signals.push(`${socketId}:${event}:${data.time}`),
    timeoutMs,
    logger,
    onDone: (time, outcome) => done.push(`${time}:${outcome}`),
  });
  return { coordinator, signals, done };
}

describe('HandoverCoordinator', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('signals switch once every participant subscribed, and release once every one switched', () => {
    const { coordinator, signals, done } = make();
    coordinator.begin(10, ['a', 'b']);
    coordinator.ack('a', 10, 'subscribed');
    expect(signals).toEqual([]);
    // An acknowledgement of the wrong phase or list changes nothing.
    coordinator.ack('b', 10, 'switched');
    coordinator.ack('b', 9, 'subscribed');
    expect(signals).toEqual([]);
    coordinator.ack('b', 10, 'subscribed');
    expect(signals).toEqual(['a:sccHandoverSwitch:10', 'b:sccHandoverSwitch:10']);
    coordinator.ack('b', 10, 'switched');
    coordinator.ack('a', 10, 'switched');
    expect(signals.slice(2)).toEqual(['a:sccHandoverRelease:10', 'b:sccHandoverRelease:10']);
    expect(done).toEqual(['10:complete']);
    // Finished: a late acknowledgement and the old timeout change nothing.
    coordinator.ack('a', 10, 'switched');
    vi.advanceTimersByTime(10_000);
    expect(signals).toHaveLength(4);
    expect(done).toEqual(['10:complete']);
  });

  it('stops waiting for a participant that leaves', () => {
    const { coordinator, signals } = make();
    coordinator.begin(10, ['a', 'b']);
    coordinator.ack('a', 10, 'subscribed');
    coordinator.forget('b');
    expect(signals).toEqual(['a:sccHandoverSwitch:10']);
  });

  it('goes ahead after the timeout when a participant stays silent', () => {
    const { coordinator, signals, done } = make(1000);
    coordinator.begin(10, ['a', 'b']);
    coordinator.ack('a', 10, 'subscribed');
    vi.advanceTimersByTime(999);
    expect(signals).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(signals).toEqual(['a:sccHandoverSwitch:10', 'b:sccHandoverSwitch:10']);
    vi.advanceTimersByTime(1000);
    expect(signals.slice(2)).toEqual(['a:sccHandoverRelease:10', 'b:sccHandoverRelease:10']);
    expect(done).toEqual(['10:timed out']);
  });

  it('a newer list supersedes the handover in progress', () => {
    const { coordinator, signals, done } = make();
    coordinator.begin(10, ['a']);
    coordinator.begin(11, ['a']);
    coordinator.ack('a', 10, 'subscribed');
    expect(signals).toEqual([]);
    coordinator.ack('a', 11, 'subscribed');
    expect(signals).toEqual(['a:sccHandoverSwitch:11']);
    expect(done).toEqual(['10:superseded']);
    coordinator.close();
  });

  it('does nothing without participants (original workers only)', () => {
    const { coordinator, signals, done } = make();
    coordinator.begin(10, []);
    coordinator.ack('a', 10, 'subscribed');
    vi.advanceTimersByTime(10_000);
    expect(signals).toEqual([]);
    expect(done).toEqual([]);
  });
});
