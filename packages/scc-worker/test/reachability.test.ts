import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LogEvent } from '@scc-ts/shared';
import { Reachability } from '../src/cluster/reachability.js';
import { captureLog } from './log-capture.js';

const LINK_TIMEOUT_MS = 3000;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function make(connected: Set<string>) {
  const log = captureLog();
  const changes: string[][] = [];
  const reach = new Reachability({ linkTimeoutMs: LINK_TIMEOUT_MS, logger: log.logger, isConnected: (uri) => connected.has(uri), onChange: (u) => changes.push(u) });
  return { reach, changes, log };
}

describe('Reachability', () => {
  it('counts a broker that never connects within one link timeout as unreachable, and not one that did', () => {
    const connected = new Set(['ws://b:1']);
    const { reach, changes } = make(connected);
    reach.track('ws://a:1');
    reach.track('ws://b:1');
    vi.advanceTimersByTime(LINK_TIMEOUT_MS - 1);
    expect(changes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(changes).toEqual([['ws://a:1']]);
    reach.up('ws://a:1');
    expect(changes).toEqual([['ws://a:1'], []]);
    reach.close();
  });

  it('reports each change once, logs it with its event, forgets a broker no list names, and stays quiet after close', () => {
    const { reach, changes, log } = make(new Set());
    reach.down('ws://a:1', 3010);
    reach.down('ws://a:1', 3020);
    expect(changes).toEqual([['ws://a:1']]);
    expect(log.lines().filter((l) => l['event'] === LogEvent.BrokerUnreachable)).toEqual([expect.objectContaining({ broker: 'ws://a:1', silentMs: 3010 })]);
    reach.forget('ws://a:1');
    expect(changes).toEqual([['ws://a:1'], []]);
    reach.close();
    reach.down('ws://b:1', 0);
    vi.advanceTimersByTime(LINK_TIMEOUT_MS);
    expect(changes).toHaveLength(2);
  });
});
