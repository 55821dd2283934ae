/**
 * The broker's history store on its own, with a clock the test moves: positions and pages by the
 * rules of docs/history.md, eviction by each of the four bounds (counted by reason), the time to
 * live (lazily and by the sweep), export and import, and the packets a pending channel holds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidPositionError, MAX_EPOCH_LENGTH, parseHistoryState } from '@scc-ts/shared';
import { HistoryStore, MAX_PENDING_ITEMS, encodedLengths, newEpoch, type HistoryLimits } from '../src/history.js';

const LIMITS: HistoryLimits = { size: 1000, ttlMs: 0, channelMaxBytes: 1_000_000, maxBytes: 10_000_000 };
const stores: HistoryStore<unknown>[] = [];
let clock = 1_000_000;

function store<T = unknown>(limits: Partial<HistoryLimits> = {}): HistoryStore<T> {
  const s = new HistoryStore<T>({ ...LIMITS, ...limits }, { now: () => clock, sweep: false });
  stores.push(s as HistoryStore<unknown>);
  return s;
}

/** Appends messages whose lengths are their encoded lengths. */
function add(s: HistoryStore, channel: string, ...messages: unknown[]) {
  return s.append(channel, messages, encodedLengths(messages));
}

afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  clock = 1_000_000;
});

describe('positions and pages', () => {
  it('numbers messages 1, 2, … in one epoch per channel and answers pages by the documented rules', () => {
    const s = store();
    const first = add(s, 'a', 'm1', 'm2');
    expect(first.offset).toBe(1);
    expect(first.epoch.length).toBeGreaterThan(0);
    expect(first.epoch.length).toBeLessThanOrEqual(MAX_EPOCH_LENGTH);
    expect(add(s, 'a', 'm3')).toEqual({ epoch: first.epoch, offset: 3 });
    const other = add(s, 'b', 'x');
    expect(other.offset).toBe(1);
    expect(other.epoch).not.toBe(first.epoch);
    const e = first.epoch;
    // Without since: the newest `limit` messages.
    expect(s.page('a', undefined, 2)).toEqual({ epoch: e, first: 1, last: 3, from: 2, messages: ['m2', 'm3'] });
    expect(s.page('a', undefined, 0)).toEqual({ epoch: e, first: 1, last: 3, from: 4, messages: [] });
    // Since in the same epoch: from since.offset + 1, up to limit.
    expect(s.page('a', { epoch: e, offset: 0 }, 2)).toEqual({ epoch: e, first: 1, last: 3, from: 1, messages: ['m1', 'm2'] });
    expect(s.page('a', { epoch: e, offset: 3 }, 10)).toEqual({ epoch: e, first: 1, last: 3, from: 4, messages: [] });
    // Since of another epoch: nothing, from last + 1.
    expect(s.page('a', { epoch: 'other', offset: 1 }, 10)).toEqual({ epoch: e, first: 1, last: 3, from: 4, messages: [] });
    // Beyond the newest offset of the same epoch: refused by name.
    expect(() => s.page('a', { epoch: e, offset: 4 }, 10)).toThrow(InvalidPositionError);
    // Another channel's epoch (held here): refused by name, on a channel with history or without.
    expect(() => s.page('a', { epoch: other.epoch, offset: 1 }, 10)).toThrow(/another channel's/);
    expect(() => s.page('none', { epoch: e, offset: 99 }, 10)).toThrow(InvalidPositionError);
    // Never published: epoch null, and any since is of another epoch.
    expect(s.page('none', undefined, 10)).toEqual({ epoch: null, first: 1, last: 0, from: 1, messages: [] });
    expect(s.page('none', { epoch: 'gone', offset: 99 }, 10)).toEqual({ epoch: null, first: 1, last: 0, from: 1, messages: [] });
    expect(s.counts).toMatchObject({ channels: 2, messages: 4 });
    // Once 'b' has gone (exported), its epoch is no longer known here: just another epoch.
    s.export('b');
    expect(s.page('a', { epoch: other.epoch, offset: 1 }, 10)).toEqual({ epoch: e, first: 1, last: 3, from: 4, messages: [] });
  });

  it('answers a since older than the retained history with nothing from last + 1 (too old)', () => {
    const s = store({ size: 2 });
    const { epoch } = add(s, 'a', 1, 2, 3, 4);
    expect(s.page('a', { epoch, offset: 1 }, 10)).toEqual({ epoch, first: 3, last: 4, from: 5, messages: [] });
    expect(s.page('a', { epoch, offset: 2 }, 10)).toEqual({ epoch, first: 3, last: 4, from: 3, messages: [3, 4] });
  });

  it('makes epochs that differ and fit the wire', () => {
    const epochs = new Set(Array.from({ length: 100 }, () => newEpoch()));
    expect(epochs.size).toBe(100);
    for (const e of epochs) expect(e).toMatch(/^[0-9a-z]{1,64}$/);
  });
});

describe('bounds', () => {
  it('keeps at most size messages per channel, oldest evicted first', () => {
    const s = store({ size: 3 });
    const { epoch } = add(s, 'a', 1, 2, 3, 4, 5);
    expect(s.page('a', undefined, 10)).toEqual({ epoch, first: 3, last: 5, from: 3, messages: [3, 4, 5] });
    expect(s.counts).toMatchObject({ messages: 3, bytes: 3, evicted: { size: 2, bytes: 0, total: 0, ttl: 0 } });
  });

  it('keeps at most channelMaxBytes per channel (a message bigger than the bound is positioned, not kept)', () => {
    const s = store({ channelMaxBytes: 10 });
    add(s, 'a', 'ab', 'cd', 'ef'); // 4 bytes each as JSON
    expect(s.page('a', undefined, 10).messages).toEqual(['cd', 'ef']);
    expect(s.counts.evicted.bytes).toBe(1);
    const big = add(s, 'a', 'x'.repeat(20));
    expect(big.offset).toBe(4);
    expect(s.page('a', undefined, 10)).toMatchObject({ first: 5, last: 4, messages: [] });
    expect(s.counts).toMatchObject({ messages: 0, bytes: 0, evicted: { bytes: 4 } });
  });

  it('keeps at most maxBytes over all channels, evicting the messages stored first on the broker', () => {
    const s = store({ maxBytes: 12 });
    add(s, 'a', 'a1'); // 4 bytes
    add(s, 'b', 'b1');
    add(s, 'a', 'a2');
    expect(s.counts).toMatchObject({ messages: 3, bytes: 12 });
    add(s, 'b', 'b2');
    // a1 was the oldest of the whole broker.
    expect(s.page('a', undefined, 10)).toMatchObject({ first: 2, messages: ['a2'] });
    expect(s.page('b', undefined, 10)).toMatchObject({ first: 1, messages: ['b1', 'b2'] });
    add(s, 'c', 'c1c1c1c1'); // 10 bytes: b1, a2, b2 go
    expect(s.counts).toMatchObject({ messages: 1, bytes: 10, evicted: { total: 4, size: 0, bytes: 0 } });
    expect(s.page('c', undefined, 10).messages).toEqual(['c1c1c1c1']);
  });

  it('stays consistent over many evictions (the global order skips and compacts stale entries)', () => {
    const s = store({ size: 5, maxBytes: 400 });
    for (let i = 0; i < 20_000; i++) s.append(`ch${i % 50}`, [i], [1]);
    const held = [...s.channels()].reduce((n, c) => n + s.page(c, undefined, 1000).messages.length, 0);
    expect(held).toBe(s.counts.messages);
    expect(s.counts.messages).toBe(250);
    expect(s.counts.bytes).toBe(250);
    expect(s.counts.evicted.size).toBe(20_000 - 250);
    // The total bound, once reached, is kept with stale entries in the queue.
    for (let i = 0; i < 2000; i++) s.append(`big${i % 7}`, [i], [3]);
    expect(s.counts.bytes).toBeLessThanOrEqual(400);
    const again = [...s.channels()].reduce((n, c) => n + s.page(c, undefined, 1000).messages.length, 0);
    expect(again).toBe(s.counts.messages);
  });
});

describe('time to live', () => {
  it('expires messages lazily on access and at the sweep, keeping the epoch of a channel that retains nothing', () => {
    const s = store({ ttlMs: 1000 });
    const { epoch } = add(s, 'a', 1);
    clock += 600;
    add(s, 'a', 2);
    clock += 500;
    expect(s.page('a', undefined, 10)).toEqual({ epoch, first: 2, last: 2, from: 2, messages: [2] });
    expect(s.counts).toMatchObject({ messages: 1, evicted: { ttl: 1 } });
    expect(s.liveChannels()).toBe(1);
    clock += 600;
    expect(s.liveChannels()).toBe(0);
    s.sweep();
    expect(s.counts).toMatchObject({ channels: 1, messages: 0, bytes: 0, evicted: { ttl: 2 } });
    // Nothing retained, the position kept: a client at 2 has everything, the next message is 3.
    expect(s.page('a', { epoch, offset: 2 }, 10)).toEqual({ epoch, first: 3, last: 2, from: 3, messages: [] });
    expect(add(s, 'a', 3)).toEqual({ epoch, offset: 3 });
  });

  it('forgets the oldest channels that retain nothing past maxEmptyChannels', () => {
    const s = new HistoryStore({ ...LIMITS, ttlMs: 1000 }, { now: () => clock, sweep: false, maxEmptyChannels: 2 });
    stores.push(s);
    const forgotten: number[] = [];
    s.onForget(() => forgotten.push(s.counts.channels));
    const epochs = ['a', 'b', 'c', 'd'].map((c) => add(s, c, 1).epoch);
    add(s, 'e', 1);
    clock += 500;
    add(s, 'e', 2);
    clock += 600;
    s.sweep();
    // a, b, c, d are empty; e retains 2. The two oldest empty ones go.
    expect([...s.channels()]).toEqual(['c', 'd', 'e']);
    expect(forgotten).toEqual([4, 3]);
    expect(add(s, 'a', 9).epoch).not.toBe(epochs[0]);
    expect(add(s, 'c', 9)).toEqual({ epoch: epochs[2], offset: 2 });
  });

  it('runs its sweep on an unref’d timer when asked to', async () => {
    const s = new HistoryStore({ ...LIMITS, ttlMs: 50 }, {});
    stores.push(s);
    add(s, 'a', 1);
    await expect.poll(() => s.counts.messages, { timeout: 3000 }).toBe(0);
  });
});

describe('export and import', () => {
  it('exports a channel as a HistoryState the shared guard accepts and forgets it', () => {
    const s = store();
    const { epoch } = add(s, 'a', 'x', { y: 1 });
    const state = s.export('a');
    expect(state).toEqual({ epoch, last: 2, from: 1, messages: ['x', { y: 1 }], times: [clock, clock] });
    expect(parseHistoryState(state)).toEqual(state);
    expect(s.has('a')).toBe(false);
    expect(s.counts).toMatchObject({ channels: 0, messages: 0, bytes: 0 });
    expect(s.export('a')).toBeNull();
    expect(add(s, 'a', 'z').epoch).not.toBe(epoch);
  });

  it('continues an imported history (same epoch, next offsets) and adopts only where it has no state', () => {
    const from = store();
    const { epoch } = add(from, 'a', 1, 2, 3);
    const to = store();
    expect(to.import('a', from.export('a'))).toBe(true);
    expect(to.page('a', undefined, 10)).toEqual({ epoch, first: 1, last: 3, from: 1, messages: [1, 2, 3] });
    expect(add(to, 'a', 4)).toEqual({ epoch, offset: 4 });
    // Has state: not adopted, nothing changed.
    expect(to.import('a', { epoch: 'other', last: 9, from: 9, messages: [9], times: [clock] })).toBe(false);
    expect(to.import('a', null)).toBe(false);
    expect(to.page('a', undefined, 10)).toEqual({ epoch, first: 1, last: 4, from: 1, messages: [1, 2, 3, 4] });
    // A null state adopts nothing: the next publish starts a new epoch.
    expect(to.import('b', null)).toBe(true);
    expect(to.has('b')).toBe(false);
    // An exported empty history keeps its epoch and offsets.
    expect(to.import('c', { epoch: 'kept', last: 7, from: 8, messages: [], times: [] })).toBe(true);
    expect(add(to, 'c', 'next')).toEqual({ epoch: 'kept', offset: 8 });
  });

  it('drops imported messages past the time to live and applies the bounds', () => {
    const s = store({ ttlMs: 1000, size: 2 });
    const times = [clock - 2000, clock - 10, clock - 5, clock];
    expect(s.import('a', { epoch: 'e', last: 4, from: 1, messages: ['old', 'b', 'c', 'd'], times })).toBe(true);
    expect(s.page('a', undefined, 10)).toEqual({ epoch: 'e', first: 3, last: 4, from: 3, messages: ['c', 'd'] });
    expect(s.counts.evicted).toMatchObject({ ttl: 1, size: 1 });
    // The time to live keeps counting from the original times.
    clock += 996;
    expect(s.page('a', undefined, 10).messages).toEqual(['d']);
  });
});

describe('moves', () => {
  it('lists the channels whose owner is another broker, at most max', () => {
    const s = store();
    for (const c of ['a', 'b', 'c', 'd']) add(s, c, 1);
    const owner = (c: string) => (c === 'a' ? 'self' : c === 'd' ? null : `to-${c}`);
    expect(s.moves(owner, 'self', 10)).toEqual([
      { channel: 'b', to: 'to-b' },
      { channel: 'c', to: 'to-c' },
    ]);
    expect(s.moves(owner, 'self', 1)).toHaveLength(1);
  });
});

describe('pending channels', () => {
  it('holds items in arrival order until released, within the item and byte bounds', () => {
    const s = store<string>({ channelMaxBytes: 100 });
    const timedOut: string[] = [];
    s.beginPending('m', 60_000, (c) => timedOut.push(c));
    expect(s.isPending('m')).toBe(true);
    expect(s.hold('m', 'p1', 40)).toBe(true);
    expect(s.hold('m', 'p2', 40)).toBe(true);
    // Past channelMaxBytes: refused, nothing held (the relay then releases at once).
    expect(s.hold('m', 'p3', 40)).toBe(false);
    expect(s.hold('other', 'x', 0)).toBe(false);
    expect(s.release('m')).toEqual(['p1', 'p2']);
    expect(s.isPending('m')).toBe(false);
    expect(s.release('m')).toEqual([]);
    s.beginPending('n', 60_000, () => undefined);
    let held = 0;
    while (s.hold('n', 'x', 0) && held <= MAX_PENDING_ITEMS) held += 1;
    expect(held).toBe(MAX_PENDING_ITEMS);
    expect(timedOut).toEqual([]);
  });

  it('calls back when a pending channel times out', async () => {
    const s = store<string>();
    const timedOut: string[] = [];
    s.beginPending('m', 30, (c) => timedOut.push(c));
    await expect.poll(() => timedOut, { timeout: 2000 }).toEqual(['m']);
  });
});
