import { createLogger, type ProcedureName } from '@scc-ts/shared';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Notifier, type NotifierOptions, type PushFn } from '../src/notifier.js';
import { Registry, type Member } from '../src/registry.js';

const logger = createLogger({ name: 'test', level: 0, format: 'json' });
const START = Date.UTC(2030, 0, 1, 12, 0, 0);

interface Call {
  socketId: string;
  procedure: ProcedureName;
  data: Record<string, unknown>;
  at: number;
}

function member(instanceType: Member['instanceType'], socketId: string, uri: string): Member {
  return { socketId, instanceType, instanceId: `id-${socketId}`, uri, joinedAt: 0 };
}

interface Setup {
  registry: Registry;
  notifier: Notifier;
  calls: Call[];
  push: ReturnType<typeof vi.fn<PushFn>>;
  open: Set<string>;
}

let current: Notifier | undefined;

/** A notifier over a registry with two brokers and two workers; `fail` decides which pushes reject. */
function setup(options: Partial<NotifierOptions> = {}, fail: (call: Call, n: number) => boolean = () => false): Setup {
  const registry = new Registry();
  registry.join(member('scc-broker', 'b1', 'ws://10.0.0.1:8888'));
  registry.join(member('scc-broker', 'b2', 'ws://10.0.0.2:8888'));
  registry.join(member('scc-worker', 'w1', 'ws://10.0.1.1:8000'));
  registry.join(member('scc-worker', 'w2', 'ws://10.0.1.2:8000'));
  const calls: Call[] = [];
  const open = new Set(['w1', 'w2']);
  const push = vi.fn<PushFn>(async (socketId, procedure, data) => {
    const call = { socketId, procedure, data: structuredClone(data), at: Date.now() };
    calls.push(call);
    if (fail(call, calls.length)) throw new Error('not acknowledged');
  });
  const notifier = new Notifier({
    registry,
    push,
    isOpen: (socketId) => open.has(socketId),
    scaleOutDelayMs: 5000,
    scaleBackDelayMs: 1000,
    retryDelayMs: 2000,
    logger,
    ...options,
  });
  current = notifier;
  return { registry, notifier, calls, push, open };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(START);
});

afterEach(() => {
  current?.close();
  current = undefined;
  vi.useRealTimers();
});

describe('Notifier debounce', () => {
  it('sends one broadcast, the scale-out delay after the last of several changes', async () => {
    const { notifier, calls } = setup();
    notifier.changed('brokers', 'out');
    await vi.advanceTimersByTimeAsync(3000);
    notifier.changed('brokers', 'out');
    await vi.advanceTimersByTimeAsync(3000);
    notifier.changed('brokers', 'out');
    await vi.advanceTimersByTimeAsync(4999);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    for (const call of calls) {
      expect(call.at).toBe(START + 11_000);
      expect(call.procedure).toBe('sccBrokerJoinCluster');
      expect(call.data['sccBrokerURIs']).toEqual(['ws://10.0.0.1:8888', 'ws://10.0.0.2:8888']);
      expect(call.data['time']).toBe(START + 11_000);
    }
    expect(calls.map((c) => c.socketId).sort()).toEqual(['w1', 'w2']);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(2);
  });

  it('uses the scale-back delay for a shrinking list', async () => {
    const { notifier, calls, registry } = setup();
    registry.leave('scc-broker', 'b2');
    notifier.changed('brokers', 'back');
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    for (const call of calls) {
      expect(call.procedure).toBe('sccBrokerLeaveCluster');
      expect(call.data).toMatchObject({ sccBrokerURIs: ['ws://10.0.0.1:8888'], time: START + 1000 });
    }
  });

  it('lets the latest change decide the delay and the procedure', async () => {
    const { notifier, calls } = setup();
    notifier.changed('brokers', 'out');
    await vi.advanceTimersByTimeAsync(100);
    notifier.changed('brokers', 'back');
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toHaveLength(2);
    expect(calls.every((c) => c.procedure === 'sccBrokerLeaveCluster')).toBe(true);
    expect(calls[0]?.at).toBe(START + 1100);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toHaveLength(2);
  });

  it('sends the list as it is when the timer fires, not when the change was reported', async () => {
    const { notifier, calls, registry } = setup();
    notifier.changed('brokers', 'out');
    await vi.advanceTimersByTimeAsync(2000);
    registry.join(member('scc-broker', 'b3', 'ws://10.0.0.3:8888'));
    await vi.advanceTimersByTimeAsync(3000);
    expect(calls[0]?.data['sccBrokerURIs']).toEqual(['ws://10.0.0.1:8888', 'ws://10.0.0.2:8888', 'ws://10.0.0.3:8888']);
  });

  it('keeps separate timers for the broker and the worker list', async () => {
    const { notifier, calls } = setup();
    notifier.changed('brokers', 'out');
    await vi.advanceTimersByTimeAsync(4000);
    notifier.changed('workers', 'back');
    await vi.advanceTimersByTimeAsync(1000);
    // Both fire: the worker change did not re-arm or cancel the broker timer.
    expect(calls.map((c) => c.procedure).sort()).toEqual([
      'sccBrokerJoinCluster',
      'sccBrokerJoinCluster',
      'sccWorkerLeaveCluster',
      'sccWorkerLeaveCluster',
    ]);
  });
});

describe('Notifier payloads', () => {
  it.each([
    ['brokers', 'out', 'sccBrokerJoinCluster', 'sccBrokerURIs', 5000],
    ['brokers', 'back', 'sccBrokerLeaveCluster', 'sccBrokerURIs', 1000],
    ['workers', 'out', 'sccWorkerJoinCluster', 'sccWorkerURIs', 5000],
    ['workers', 'back', 'sccWorkerLeaveCluster', 'sccWorkerURIs', 1000],
  ] as const)('%s %s → %s with %s', async (kind, direction, procedure, listKey, delay) => {
    const { notifier, calls } = setup();
    notifier.changed(kind, direction);
    await vi.advanceTimersByTimeAsync(delay);
    expect(calls).toHaveLength(2);
    const expectedList = kind === 'brokers' ? ['ws://10.0.0.1:8888', 'ws://10.0.0.2:8888'] : ['ws://10.0.1.1:8000', 'ws://10.0.1.2:8000'];
    for (const call of calls) {
      expect(call.procedure).toBe(procedure);
      expect(call.data[listKey]).toEqual(expectedList);
      expect(call.data).not.toHaveProperty(listKey === 'sccBrokerURIs' ? 'sccWorkerURIs' : 'sccBrokerURIs');
    }
  });

  it('tells each worker its own sccSourceWorkerURI', async () => {
    const { notifier, calls } = setup();
    notifier.changed('brokers', 'out');
    await vi.advanceTimersByTimeAsync(5000);
    const byWorker = Object.fromEntries(calls.map((c) => [c.socketId, c.data['sccSourceWorkerURI']]));
    expect(byWorker).toEqual({ w1: 'ws://10.0.1.1:8000', w2: 'ws://10.0.1.2:8000' });
  });

  it('pushes only to workers, never to brokers', async () => {
    const { notifier, calls } = setup();
    notifier.changed('workers', 'out');
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls.map((c) => c.socketId).sort()).toEqual(['w1', 'w2']);
  });

  it('reports each broadcast to onBroadcast', async () => {
    const onBroadcast = vi.fn();
    const { notifier } = setup({ onBroadcast });
    notifier.changed('workers', 'out');
    await vi.advanceTimersByTimeAsync(5000);
    expect(onBroadcast).toHaveBeenCalledTimes(1);
    expect(onBroadcast).toHaveBeenCalledWith('workers', ['ws://10.0.1.1:8000', 'ws://10.0.1.2:8000'], START + 5000);
  });
});

describe('Notifier time', () => {
  it('nextTime is Date.now() but strictly increasing within one millisecond', () => {
    const { notifier } = setup();
    expect(notifier.nextTime()).toBe(START);
    expect(notifier.nextTime()).toBe(START + 1);
    expect(notifier.nextTime()).toBe(START + 2);
    vi.setSystemTime(START + 100);
    expect(notifier.nextTime()).toBe(START + 100);
  });

  it('nextTime keeps increasing when the clock steps back', () => {
    const { notifier } = setup();
    vi.setSystemTime(START + 1000);
    const before = notifier.nextTime();
    vi.setSystemTime(START);
    expect(notifier.nextTime()).toBeGreaterThan(before);
  });

  it('gives two broadcasts in the same millisecond different, increasing times', async () => {
    const { notifier, calls } = setup({ scaleOutDelayMs: 0, scaleBackDelayMs: 0 });
    notifier.changed('brokers', 'out');
    notifier.changed('workers', 'out');
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(4);
    const brokerTime = calls.find((c) => c.procedure === 'sccBrokerJoinCluster')?.data['time'] as number;
    const workerTime = calls.find((c) => c.procedure === 'sccWorkerJoinCluster')?.data['time'] as number;
    expect(calls.every((c) => c.at === START)).toBe(true);
    expect(brokerTime).toBe(START);
    expect(workerTime).toBe(START + 1);
  });
});

describe('Notifier retries', () => {
  it('retries a failed push every retry delay while the socket is open', async () => {
    const { notifier, calls, registry } = setup({}, (call) => call.socketId === 'w1' && call.at < START + 9000);
    registry.leave('scc-worker', 'w2');
    notifier.changed('brokers', 'out');
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toHaveLength(1);
    const first = calls[0];
    await vi.advanceTimersByTimeAsync(1999);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(2000);
    expect(calls).toHaveLength(3); // at START + 9000: succeeds
    await vi.advanceTimersByTimeAsync(20_000);
    expect(calls).toHaveLength(3);
    expect(calls.map((c) => c.at)).toEqual([START + 5000, START + 7000, START + 9000]);
    for (const call of calls) {
      expect(call.socketId).toBe('w1');
      expect(call.procedure).toBe(first?.procedure);
      expect(call.data).toEqual(first?.data); // the same list and the same time
    }
  });

  it('retries only the push that failed', async () => {
    const { notifier, calls } = setup({}, (call, n) => call.socketId === 'w2' && n <= 2);
    notifier.changed('workers', 'out');
    await vi.advanceTimersByTimeAsync(5000 + 2000);
    expect(calls.map((c) => c.socketId)).toEqual(['w1', 'w2', 'w2']);
  });

  it('does not retry when the socket is closed', async () => {
    const { notifier, calls, open } = setup({}, () => true);
    open.delete('w1');
    open.delete('w2');
    notifier.changed('brokers', 'out');
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(calls).toHaveLength(2);
  });

  it('stops retrying once the socket closes', async () => {
    const { notifier, calls, open, registry } = setup({}, () => true);
    registry.leave('scc-worker', 'w2');
    notifier.changed('brokers', 'out');
    await vi.advanceTimersByTimeAsync(5000 + 2000);
    expect(calls).toHaveLength(2);
    open.delete('w1');
    await vi.advanceTimersByTimeAsync(30_000);
    expect(calls).toHaveLength(2);
  });

  it('drops the retry of a push superseded by a newer one', async () => {
    // Only the first push fails; a newer broadcast reaches the worker before the retry is due.
    const { notifier, calls, registry } = setup({ scaleOutDelayMs: 100 }, (_call, n) => n === 1);
    registry.leave('scc-worker', 'w2');
    notifier.changed('brokers', 'out');
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toHaveLength(1);
    const staleTime = calls[0]?.data['time'];
    registry.join(member('scc-broker', 'b3', 'ws://10.0.0.3:8888'));
    notifier.changed('brokers', 'out');
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toHaveLength(2);
    const freshTime = calls[1]?.data['time'] as number;
    expect(freshTime).toBeGreaterThan(staleTime as number);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(calls).toHaveLength(2);
    expect(calls.filter((c) => c.data['time'] === staleTime)).toHaveLength(1);
  });

  it('retries the newer push, not the older one, when both fail', async () => {
    const { notifier, calls, registry } = setup({ scaleOutDelayMs: 100 }, (_call, n) => n <= 2);
    registry.leave('scc-worker', 'w2');
    notifier.changed('brokers', 'out');
    await vi.advanceTimersByTimeAsync(100);
    notifier.changed('brokers', 'out');
    await vi.advanceTimersByTimeAsync(100);
    const [stale, fresh] = calls.map((c) => c.data['time']);
    expect(fresh).not.toBe(stale);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(calls.map((c) => c.data['time'])).toEqual([stale, fresh, fresh]);
  });

  it('drops the retry for a worker that was forgotten', async () => {
    const { notifier, calls, registry } = setup({}, () => true);
    registry.leave('scc-worker', 'w2');
    notifier.changed('brokers', 'out');
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toHaveLength(1);
    notifier.forget('w1');
    await vi.advanceTimersByTimeAsync(30_000);
    expect(calls).toHaveLength(1);
  });
});

describe('Notifier close', () => {
  it('cancels a pending broadcast', async () => {
    const { notifier, calls } = setup();
    notifier.changed('brokers', 'out');
    notifier.changed('workers', 'back');
    await vi.advanceTimersByTimeAsync(500);
    notifier.close();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('cancels pending retries', async () => {
    const { notifier, calls } = setup({}, () => true);
    notifier.changed('brokers', 'out');
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toHaveLength(2);
    notifier.close();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does not retry a push that fails after close', async () => {
    let reject: ((error: Error) => void) | undefined;
    const { notifier, push } = setup();
    push.mockImplementationOnce(() => new Promise<void>((_resolve, r) => (reject = r)));
    notifier.changed('brokers', 'out');
    await vi.advanceTimersByTimeAsync(5000);
    expect(push).toHaveBeenCalledTimes(2);
    notifier.close();
    reject?.(new Error('socket closed'));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(push).toHaveBeenCalledTimes(2);
  });

  it('ignores changes after close and is safe to call twice', async () => {
    const { notifier, calls } = setup();
    notifier.close();
    notifier.changed('brokers', 'out');
    notifier.changed('workers', 'back');
    expect(() => notifier.close()).not.toThrow();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(0);
  });
});
