/**
 * The helper's own logic, without a network: position bookkeeping, envelope and notice parsing,
 * duplicates by offset dropped, the options every re-subscription carries, page guards. The
 * socket here is a minimal fake with the members the helper uses, written like
 * socketcluster-client 20 behaves (subscribe on a known channel replaces its options; a closed
 * connection turns its channels pending). The helper against real workers is tested in
 * test/integration/history-client.test.ts and test/browser/history-page.test.ts.
 */
import { readFileSync } from 'node:fs';
import type socketClusterClient from 'socketcluster-client';
import { describe, expect, it } from 'vitest';
import type * as Shared from '@scc-ts/shared';
import * as Client from '@scc-ts/history-client';
import {
  HistoryTracker,
  InvalidPayloadError,
  InvalidPositionError,
  fetchHistory,
  historyEntries,
  parseHistoryPage,
  subscribeWithHistory,
  type HistoryChannel,
  type HistoryConsumer,
  type HistorySocket,
  type Position,
  type RecoveryNotice,
} from '@scc-ts/history-client';

// A stock socket is a HistorySocket, and the shapes are the contract's (checked by the compiler).
const socketFits = (socket: ReturnType<typeof socketClusterClient.create>): HistorySocket => socket;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const shapes: [Same<Client.Position, Shared.Position>, Same<Client.HistoryPage, Shared.HistoryPage>, Same<Client.RecoveryNotice, Shared.RecoveryNotice>, Same<Client.MessageEnvelope, Shared.MessageEnvelope>] = [true, true, true, true];
void socketFits;
void shapes;

const notice = (fields: Partial<RecoveryNotice>): RecoveryNotice => ({ type: 'recovery', recovered: false, reason: 'NoPosition', epoch: 'e1', offset: 0, replayed: 0, ...fields });
const envelope = (epoch: string, offset: number, data: unknown = `m${offset}`) => ({ type: 'message', epoch, offset, data });

describe('HistoryTracker', () => {
  it('asks for positions without a position, for recovery after one', () => {
    expect(new HistoryTracker().subscribeData()).toEqual({ sccHistory: true });
    expect(new HistoryTracker({ epoch: 'e1', offset: 41 }).subscribeData()).toEqual({ sccHistory: { since: { epoch: 'e1', offset: 41 } } });
  });

  it('refuses a malformed starting position by name', () => {
    for (const bad of [{ epoch: '', offset: 1 }, { epoch: 'x'.repeat(65), offset: 1 }, { epoch: 'e', offset: -1 }, { epoch: 'e', offset: 1.5 }, { epoch: 'e', offset: '3' }, 'e:3', [1]]) {
      expect(() => new HistoryTracker(bad as unknown as Position), JSON.stringify(bad)).toThrow(InvalidPositionError);
    }
    expect(new HistoryTracker(null).position).toBeNull();
  });

  it('follows a notice and its messages; a replay that overlaps what was delivered is dropped by offset', () => {
    const t = new HistoryTracker({ epoch: 'e1', offset: 41 });
    expect(t.accept(notice({ recovered: true, reason: null, epoch: 'e1', offset: 41, replayed: 2 }))).toEqual({ kind: 'notice', notice: notice({ recovered: true, reason: null, epoch: 'e1', offset: 41, replayed: 2 }) });
    expect(t.accept(envelope('e1', 42))).toEqual({ kind: 'message', data: 'm42', position: { epoch: 'e1', offset: 42 } });
    expect(t.accept(envelope('e1', 43, { text: 'hi' }))).toEqual({ kind: 'message', data: { text: 'hi' }, position: { epoch: 'e1', offset: 43 } });
    expect(t.accept(envelope('e1', 43))).toEqual({ kind: 'duplicate', position: { epoch: 'e1', offset: 43 } });
    expect(t.accept(envelope('e1', 40))).toEqual({ kind: 'duplicate', position: { epoch: 'e1', offset: 40 } });
    expect(t.position).toEqual({ epoch: 'e1', offset: 43 });
    expect(t.subscribeData()).toEqual({ sccHistory: { since: { epoch: 'e1', offset: 43 } } });
  });

  it('starts over where the notice says when the epoch changed', () => {
    const t = new HistoryTracker({ epoch: 'e1', offset: 41 });
    t.accept(notice({ reason: 'EpochChanged', epoch: 'e2', offset: 7 }));
    expect(t.position).toEqual({ epoch: 'e2', offset: 7 });
    expect(t.accept(envelope('e2', 8)).kind).toBe('message');
    // A message of yet another epoch (the owner was replaced while subscribed) is delivered and moves the position there.
    expect(t.accept(envelope('e3', 1))).toEqual({ kind: 'message', data: 'm1', position: { epoch: 'e3', offset: 1 } });
  });

  it('keeps its position when the owner keeps no history, drops one the worker refused', () => {
    const kept = new HistoryTracker({ epoch: 'e1', offset: 5 });
    kept.accept(notice({ reason: 'HistoryUnavailable', epoch: null, offset: 0 }));
    expect(kept.position).toEqual({ epoch: 'e1', offset: 5 });
    const refused = new HistoryTracker({ epoch: 'e1', offset: 5 });
    refused.accept(notice({ reason: 'InvalidPositionError', epoch: null, offset: 0 }));
    expect(refused.position).toBeNull();
    expect(refused.subscribeData()).toEqual({ sccHistory: true });
  });

  it('treats data before a notice as plain, however it looks (an original worker, a channel without history)', () => {
    const t = new HistoryTracker();
    expect(t.accept(envelope('e1', 1))).toEqual({ kind: 'plain', data: envelope('e1', 1) });
    expect(t.accept('text')).toEqual({ kind: 'plain', data: 'text' });
    expect(t.position).toBeNull();
  });

  it('takes malformed envelopes and notices for plain data', () => {
    const t = new HistoryTracker();
    t.accept(notice({ epoch: 'e1', offset: 3 }));
    for (const bad of [{ type: 'message', epoch: 'e1', offset: 0, data: 1 }, { type: 'message', epoch: 'e1', offset: 4 }, { type: 'message', epoch: 7, offset: 4, data: 1 }, notice({ reason: 'Whatever' as never }), notice({ offset: -1 }), null, [1]]) {
      expect(t.accept(bad), JSON.stringify(bad)).toEqual({ kind: 'plain', data: bad });
    }
    expect(t.accept(notice({ recovered: true, reason: null, epoch: 'e1', offset: 3 })).kind).toBe('notice');
    expect(t.accept(envelope('e1', 4)).kind).toBe('message');
  });

  it('hands over the data of an envelope without a position (the owner keeps no history), not the envelope', () => {
    const t = new HistoryTracker();
    const unpositioned = { type: 'message', epoch: null, offset: null, data: { text: 'hi' } };
    // Before a notice it is plain data like any other, whatever it looks like.
    expect(t.accept(unpositioned)).toEqual({ kind: 'plain', data: unpositioned });
    t.accept(notice({ recovered: false, reason: 'HistoryUnavailable', epoch: null, offset: 0 }));
    expect(t.accept(unpositioned)).toEqual({ kind: 'plain', data: { text: 'hi' } });
    expect(t.position).toBeNull();
  });
});

/** An async queue a fake channel's consumers read. */
class Queue {
  static #ids = 0;
  readonly consumers = new Map<number, { items: unknown[]; wake?: () => void; killed: boolean }>();
  createConsumer(): HistoryConsumer<unknown> & { id: number } {
    const id = ++Queue.#ids;
    const c: { items: unknown[]; wake?: () => void; killed: boolean } = { items: [], killed: false };
    this.consumers.set(id, c);
    return {
      id,
      next: async () => {
        while (c.items.length === 0 && !c.killed) await new Promise<void>((resolve) => (c.wake = resolve));
        if (c.killed) return { value: undefined, done: true };
        return { value: c.items.shift(), done: false };
      },
      return: () => this.kill(id),
    };
  }
  write(item: unknown): void {
    for (const c of this.consumers.values()) {
      c.items.push(item);
      c.wake?.();
    }
  }
  kill(id: number): void {
    const c = this.consumers.get(id);
    if (!c) return;
    c.killed = true;
    c.wake?.();
    this.consumers.delete(id);
  }
}

/** One channel of a fake socket, with what socketcluster-client 20 would send on each (re-)subscription. */
class FakeSocket implements HistorySocket {
  readonly data = new Queue();
  readonly events = new Map<string, Queue>();
  /** The options stored for the channel: what the next #subscribe would carry. */
  stored: { data?: unknown } | undefined;
  /** The `data` of every #subscribe sent. */
  readonly sent: unknown[] = [];
  unsubscribed = 0;
  state = 'pending';
  readonly invoked: Array<{ event: string; data: unknown }> = [];
  answer: unknown = null;

  subscribe(name: string, options?: { data?: unknown }): HistoryChannel {
    const known = this.stored !== undefined;
    this.stored = options ?? {};
    if (!known) this.sent.push(this.stored.data);
    const events = (event: string) => {
      let q = this.events.get(event);
      if (!q) this.events.set(event, (q = new Queue()));
      return q;
    };
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const socket = this;
    return {
      name,
      get state() {
        return socket.state;
      },
      createConsumer: () => this.data.createConsumer(),
      listener: (event) => ({ createConsumer: () => events(event).createConsumer() }),
      killOutputConsumer: (id) => this.data.kill(id),
      killListenerConsumer: (id) => {
        for (const q of this.events.values()) q.kill(id);
      },
    };
  }
  unsubscribe(): void {
    this.unsubscribed++;
  }
  async invoke(event: string, data?: unknown): Promise<unknown> {
    this.invoked.push({ event, data });
    return this.answer;
  }
  setState(state: string): void {
    const old = this.state;
    this.state = state;
    this.events.get('subscribeStateChange')?.write({ oldChannelState: old, newChannelState: state });
  }
  /** The connection came back: the client re-subscribes with the options stored now. */
  reconnect(): void {
    this.sent.push(this.stored?.data);
    this.setState('subscribed');
  }
}

const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe('subscribeWithHistory (fake socket)', () => {
  it('delivers each message once with its position and re-subscribes after the last one it delivered', async () => {
    const socket = new FakeSocket();
    const got: Array<[unknown, Position | null]> = [];
    const notices: RecoveryNotice[] = [];
    const sub = subscribeWithHistory(socket, 'chat/1', { onMessage: (d, p) => got.push([d, p]), onRecovery: (n) => notices.push(n) });
    expect(socket.sent).toEqual([{ sccHistory: true }]);
    socket.setState('subscribed');
    socket.data.write(notice({ epoch: 'e1', offset: 10 }));
    socket.data.write(envelope('e1', 11));
    socket.data.write(envelope('e1', 12));
    await settle();
    expect(got).toEqual([['m11', { epoch: 'e1', offset: 11 }], ['m12', { epoch: 'e1', offset: 12 }]]);
    expect(notices).toEqual([notice({ epoch: 'e1', offset: 10 })]);

    // The connection closes with a message still queued: the re-subscription starts after it.
    socket.setState('pending');
    socket.data.write(envelope('e1', 13));
    await settle();
    socket.reconnect();
    expect(socket.sent[1]).toEqual({ sccHistory: { since: { epoch: 'e1', offset: 13 } } });
    socket.data.write(notice({ recovered: true, reason: null, epoch: 'e1', offset: 13, replayed: 1 }));
    socket.data.write(envelope('e1', 13));
    socket.data.write(envelope('e1', 14));
    await settle();
    expect(got.map(([, p]) => p?.offset)).toEqual([11, 12, 13, 14]);
    expect(sub.position).toEqual({ epoch: 'e1', offset: 14 });
    expect(sub.notice?.recovered).toBe(true);

    sub.close();
    sub.close();
    expect(socket.unsubscribed).toBe(1);
    socket.data.write(envelope('e1', 15));
    await settle();
    expect(got).toHaveLength(4);
  });

  it('starts from a saved position; stops when the channel is unsubscribed or refused', async () => {
    const socket = new FakeSocket();
    const got: unknown[] = [];
    subscribeWithHistory(socket, 'chat/1', { position: { epoch: 'e1', offset: 3 }, onMessage: (d) => got.push(d) });
    expect(socket.sent).toEqual([{ sccHistory: { since: { epoch: 'e1', offset: 3 } } }]);
    socket.setState('subscribed');
    socket.setState('unsubscribed');
    await settle();
    expect(socket.data.consumers.size).toBe(0);
    expect(socket.sent).toHaveLength(1);

    const refused = new FakeSocket();
    subscribeWithHistory(refused, 'chat/2', { onMessage: () => {} });
    refused.events.get('subscribeFail')!.write({ error: new Error('no') });
    await settle();
    expect(refused.data.consumers.size).toBe(0);
  });

  it('delivers plain data with no position', async () => {
    const socket = new FakeSocket();
    const got: Array<[unknown, Position | null]> = [];
    subscribeWithHistory(socket, 'plain', { onMessage: (d, p) => got.push([d, p]) });
    socket.setState('subscribed');
    socket.data.write({ text: 'hi' });
    await settle();
    expect(got).toEqual([[{ text: 'hi' }, null]]);
  });
});

describe('fetchHistory', () => {
  it('invokes sccHistory with only the fields given and checks the page', async () => {
    const socket = new FakeSocket();
    socket.answer = { epoch: 'e1', first: 1, last: 3, from: 2, messages: ['b', 'c'] };
    const page = await fetchHistory(socket, 'chat/1', { limit: 2 });
    expect(socket.invoked).toEqual([{ event: 'sccHistory', data: { channel: 'chat/1', limit: 2 } }]);
    expect(historyEntries(page)).toEqual([{ position: { epoch: 'e1', offset: 2 }, data: 'b' }, { position: { epoch: 'e1', offset: 3 }, data: 'c' }]);
    await fetchHistory(socket, 'chat/1', { since: { epoch: 'e1', offset: 1 } });
    expect(socket.invoked[1]!.data).toEqual({ channel: 'chat/1', since: { epoch: 'e1', offset: 1 } });
    socket.answer = { epoch: 'e1', first: 1, last: 3, from: -1, messages: [] };
    await expect(fetchHistory(socket, 'chat/1')).rejects.toThrow(InvalidPayloadError);
  });

  it('refuses pages that are not pages', () => {
    for (const bad of [null, [], { epoch: 3, first: 0, last: 0, from: 1, messages: [] }, { epoch: null, first: 0, last: 0, from: 1, messages: {} }, { epoch: null, first: 0, last: 0, from: 1, messages: new Array(1001).fill(0) }]) {
      expect(() => parseHistoryPage(bad), JSON.stringify(bad)?.slice(0, 60)).toThrow(InvalidPayloadError);
    }
    expect(historyEntries(parseHistoryPage({ epoch: null, first: 1, last: 0, from: 1, messages: [] }))).toEqual([]);
  });
});

describe('the package', () => {
  it('is one module with no imports, so a browser loads dist/index.js as it is', () => {
    const source = readFileSync(new URL('../src/index.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/^\s*import\s(?!type\b)/m);
    expect(source).not.toMatch(/^\s*export\s[^;]*\sfrom\s/m);
    expect(source).not.toMatch(/\brequire\(|node:/);
  });

  it('names the errors it throws', () => {
    expect(new InvalidPositionError('x').name).toBe('InvalidPositionError');
    expect(new InvalidPayloadError('x').name).toBe('InvalidPayloadError');
  });
});
