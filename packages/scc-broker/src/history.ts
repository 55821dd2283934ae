/**
 * The history a broker keeps of the channels it owns (docs/history.md): per channel an epoch, the
 * newest offset and a ring of the retained messages, within four bounds (messages per channel,
 * bytes per channel, bytes over all channels, time to live). No I/O: the relay feeds it and answers
 * from it. It also holds the packets of a *pending* channel (one that has just moved here and waits
 * for its history to be imported), so their order and bound live in one place.
 *
 * Bytes are the length of a message's JSON text, which the relay has at hand (it encodes every
 * message once to relay it). The global bound evicts in arrival order at this broker: a queue of
 * (channel, offset) in the order messages were stored, stale entries skipped and compacted away.
 * A channel whose messages are all gone keeps its epoch and newest offset (a client that has
 * everything still recovers), up to MAX_EMPTY_CHANNELS such channels.
 */
import { randomBytes } from 'node:crypto';
import { InvalidPositionError, encodeValue, type HistoryConfig, type HistoryPage, type HistoryState, type Position } from '@scc-ts/shared';

/** The bounds of a store: the broker's HistoryConfig without its prefixes. */
export type HistoryLimits = Omit<HistoryConfig, 'channelPrefixes'>;

/** Why messages left the history (the `reason` label of `scc_broker_history_evicted_total`). */
export type EvictionReason = 'size' | 'bytes' | 'total' | 'ttl';

/** Most packets (and waiting fetches) a pending channel holds; past it the channel starts a new epoch at once. */
export const MAX_PENDING_ITEMS = 10_000;
/** Interval of the sweep that expires messages (and forgets empty channels past the cap), ms. */
export const HISTORY_SWEEP_INTERVAL_MS = 1000;
/**
 * Channels that retain no message whose epoch and offset are still kept (so a client that has
 * everything still recovers after a quiet spell); past it the sweep forgets the oldest of them.
 */
export const MAX_EMPTY_CHANNELS = 100_000;

/** One retained message. */
interface Entry {
  offset: number;
  message: unknown;
  bytes: number;
  storedAt: number;
}

/** One channel's history in this lifetime of it here (a fresh object after an export or a forget). */
class ChannelHistory {
  /** Retained entries are entries[head …]; the front is dropped by moving head (compacted now and then). */
  private entries: Entry[] = [];
  private head = 0;
  bytes = 0;
  /** False once exported or forgotten: the global queue's entries for it are stale. */
  alive = true;
  constructor(
    readonly epoch: string,
    /** Newest offset given (0: none yet). */
    public last: number,
  ) {}

  get count(): number {
    return this.entries.length - this.head;
  }

  /** Oldest retained offset (last + 1 when none is retained). */
  get first(): number {
    return this.count === 0 ? this.last + 1 : (this.entries[this.head] as Entry).offset;
  }

  front(): Entry | undefined {
    return this.entries[this.head];
  }

  push(entry: Entry): void {
    this.entries.push(entry);
    this.bytes += entry.bytes;
  }

  shift(): Entry {
    const entry = this.entries[this.head] as Entry;
    this.entries[this.head] = undefined as never;
    this.head += 1;
    this.bytes -= entry.bytes;
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return entry;
  }

  /** The retained entries from `offset` on, at most `limit`. */
  slice(offset: number, limit: number): Entry[] {
    const start = this.head + (offset - this.first);
    return this.entries.slice(start, Math.min(start + limit, this.entries.length));
  }
}

/** A store's figures (the metrics read them). */
export interface HistoryCounts {
  /** Channels with a history state here. */
  channels: number;
  messages: number;
  bytes: number;
  evicted: Record<EvictionReason, number>;
}

export interface HistoryStoreOptions {
  /** The clock, ms since the Unix epoch (tests move it). */
  now?: () => number;
  /** Whether the periodic sweep runs (tests call sweep() themselves). */
  sweep?: boolean;
  /** Empty channels kept (default MAX_EMPTY_CHANNELS). */
  maxEmptyChannels?: number;
}

/** A fresh epoch: base-36 time and 64 random bits (at most 24 characters). */
export function newEpoch(): string {
  return `${Date.now().toString(36)}${randomBytes(8).toString('hex')}`;
}

/** The length of each message's JSON text (what the bounds count), for messages not encoded yet. */
export function encodedLengths(messages: readonly unknown[]): number[] {
  return messages.map((message) => encodeValue(message).length);
}

/** A channel waiting for its history: what it holds, in arrival order. */
interface Pending<T> {
  items: T[];
  bytes: number;
  timer: NodeJS.Timeout;
}

export class HistoryStore<T = unknown> {
  private readonly limits: HistoryLimits;
  private readonly now: () => number;
  private readonly maxEmptyChannels: number;
  private readonly states = new Map<string, ChannelHistory>();
  /** The channel each epoch held here belongs to: a position naming another channel's epoch is refused. */
  private readonly epochs = new Map<string, string>();
  private readonly pendings = new Map<string, Pending<T>>();
  /** Every stored message in arrival order, as (state, offset); entries of dropped messages are stale. */
  private order: Array<{ state: ChannelHistory; offset: number } | undefined> = [];
  private orderHead = 0;
  private readonly sweeper: NodeJS.Timeout | undefined;
  private readonly forgetListeners = new Set<() => void>();
  readonly counts: HistoryCounts = { channels: 0, messages: 0, bytes: 0, evicted: { size: 0, bytes: 0, total: 0, ttl: 0 } };

  constructor(limits: HistoryLimits, options: HistoryStoreOptions = {}) {
    this.limits = { ...limits };
    this.now = options.now ?? Date.now;
    this.maxEmptyChannels = options.maxEmptyChannels ?? MAX_EMPTY_CHANNELS;
    if (options.sweep !== false) {
      this.sweeper = setInterval(() => this.sweep(), HISTORY_SWEEP_INTERVAL_MS);
      this.sweeper.unref();
    }
  }

  /** The bounds in use. */
  get bounds(): Readonly<HistoryLimits> {
    return this.limits;
  }

  /** Whether the channel has a history state here (pending channels have none yet). */
  has(channel: string): boolean {
    return this.states.has(channel);
  }

  /** The channels with a history state. */
  channels(): IterableIterator<string> {
    return this.states.keys();
  }

  /**
   * Gives `messages` the next offsets of the channel (a fresh epoch if it has no state) and keeps
   * them within the bounds. `lengths[i]` is the length of message i's JSON text.
   */
  append(channel: string, messages: readonly unknown[], lengths: readonly number[]): Position {
    const now = this.now();
    let state = this.states.get(channel);
    if (state === undefined) state = this.create(channel, newEpoch(), 0);
    else this.expire(state, now);
    const offset = state.last + 1;
    for (let i = 0; i < messages.length; i++) this.store(state, { offset: offset + i, message: messages[i], bytes: lengths[i] ?? 0, storedAt: now });
    state.last += messages.length;
    this.bound(state);
    this.evictTotal();
    return { epoch: state.epoch, offset };
  }

  /**
   * A page of the channel's history (docs/history.md, HistoryPage); throws InvalidPositionError for
   * a `since` beyond the newest offset of the same epoch, or naming another channel's epoch.
   */
  page(channel: string, since: Position | undefined, limit: number): HistoryPage {
    const state = this.states.get(channel);
    const owner = since === undefined ? undefined : this.epochs.get(since.epoch);
    if (owner !== undefined && owner !== channel) throw new InvalidPositionError(`epoch ${JSON.stringify(since?.epoch)} is another channel's`);
    // Never published here: any since is of another epoch.
    if (state === undefined) return { epoch: null, first: 1, last: 0, from: 1, messages: [] };
    this.expire(state, this.now());
    const { epoch, first, last } = state;
    const nothing = { epoch, first, last, from: last + 1, messages: [] };
    let from: number;
    if (since === undefined) from = Math.max(first, last - limit + 1);
    else if (since.epoch !== epoch) return nothing;
    else if (since.offset > last) throw new InvalidPositionError(`offset ${since.offset} is beyond the newest offset ${last} of this epoch`);
    else if (since.offset < first - 1) return nothing;
    else from = since.offset + 1;
    return { epoch, first, last, from, messages: state.slice(from, limit).map((e) => e.message) };
  }

  /** The channel's history as it moves (null when it has none) and forgets it here. */
  export(channel: string): HistoryState | null {
    const state = this.states.get(channel);
    if (state === undefined) return null;
    this.expire(state, this.now());
    const entries = state.slice(state.first, state.count);
    const exported: HistoryState = {
      epoch: state.epoch,
      last: state.last,
      from: state.first,
      messages: entries.map((e) => e.message),
      times: entries.map((e) => e.storedAt),
    };
    this.forget(channel, state);
    return exported;
  }

  /**
   * Adopts a moved history when the channel has no state here (pending or not): false, and
   * nothing changes, when it has one. A null state adopts nothing: the next publish starts a new
   * epoch. Messages already past the time to live are dropped; the bounds apply. `lengths`: as for
   * append (computed when absent).
   */
  import(channel: string, state: HistoryState | null, lengths?: readonly number[]): boolean {
    if (this.states.has(channel)) return false;
    if (state === null) return true;
    const now = this.now();
    const sizes = lengths ?? encodedLengths(state.messages);
    const adopted = this.create(channel, state.epoch, state.last);
    const { ttlMs } = this.limits;
    for (let i = 0; i < state.messages.length; i++) {
      const storedAt = state.times[i] as number;
      if (ttlMs > 0 && storedAt + ttlMs <= now) {
        this.counts.evicted.ttl += 1;
        continue;
      }
      this.store(adopted, { offset: state.from + i, message: state.messages[i], bytes: sizes[i] ?? 0, storedAt });
    }
    this.bound(adopted);
    this.evictTotal();
    return true;
  }

  /**
   * The channels with a state whose owner is not `self` under `ownerOf` (null owners skipped), at
   * most `max`.
   */
  moves(ownerOf: (channel: string) => string | null, self: string, max: number): Array<{ channel: string; to: string }> {
    const list: Array<{ channel: string; to: string }> = [];
    for (const channel of this.states.keys()) {
      if (list.length >= max) break;
      const to = ownerOf(channel);
      if (to !== null && to !== self) list.push({ channel, to });
    }
    return list;
  }

  /** Channels that retain at least one message not yet expired (what a drain waits to see exported). */
  liveChannels(): number {
    const now = this.now();
    let live = 0;
    for (const state of this.states.values()) {
      this.expire(state, now);
      if (state.count > 0) live += 1;
    }
    return live;
  }

  /** Calls `listener` whenever a channel's state is exported or forgotten. Returns a remover. */
  onForget(listener: () => void): () => void {
    this.forgetListeners.add(listener);
    return () => this.forgetListeners.delete(listener);
  }

  /**
   * Expires messages past the time to live; past maxEmptyChannels channels that retain nothing,
   * forgets the oldest of those (first created), so their next publish starts a new epoch.
   */
  sweep(): void {
    const now = this.now();
    let empty = 0;
    for (const state of this.states.values()) {
      this.expire(state, now);
      if (state.count === 0) empty += 1;
    }
    // Map order is creation order: the first empty ones are the oldest.
    for (const [channel, state] of this.states) {
      if (empty <= this.maxEmptyChannels) break;
      if (state.count > 0) continue;
      this.forget(channel, state);
      empty -= 1;
    }
    this.compactOrder();
  }

  // Pending channels.

  /** Whether the channel is pending (waiting for its history). */
  isPending(channel: string): boolean {
    return this.pendings.has(channel);
  }

  /** Makes the channel pending; `onTimeout` runs after `timeoutMs` unless it is released first. */
  beginPending(channel: string, timeoutMs: number, onTimeout: (channel: string) => void): void {
    if (this.pendings.has(channel)) return;
    const timer = setTimeout(() => onTimeout(channel), timeoutMs);
    timer.unref();
    this.pendings.set(channel, { items: [], bytes: 0, timer });
  }

  /**
   * Holds an item of a pending channel; false (nothing held) when it would pass MAX_PENDING_ITEMS
   * or the channel's byte bound: the caller then releases the channel at once.
   */
  hold(channel: string, item: T, bytes: number): boolean {
    const pending = this.pendings.get(channel);
    if (pending === undefined) return false;
    if (pending.items.length >= MAX_PENDING_ITEMS || pending.bytes + bytes > this.limits.channelMaxBytes) return false;
    pending.items.push(item);
    pending.bytes += bytes;
    return true;
  }

  /** Ends the channel's pending state; the items it held, in arrival order (none if it was not pending). */
  release(channel: string): T[] {
    const pending = this.pendings.get(channel);
    if (pending === undefined) return [];
    clearTimeout(pending.timer);
    this.pendings.delete(channel);
    return pending.items;
  }

  /** Pending channels (their held items are dropped). */
  get pendingCount(): number {
    return this.pendings.size;
  }

  /** Stops the sweep and the pending timers. */
  close(): void {
    clearInterval(this.sweeper);
    for (const pending of this.pendings.values()) clearTimeout(pending.timer);
    this.pendings.clear();
    this.forgetListeners.clear();
  }

  // Internals.

  private create(channel: string, epoch: string, last: number): ChannelHistory {
    const state = new ChannelHistory(epoch, last);
    this.states.set(channel, state);
    this.epochs.set(epoch, channel);
    this.counts.channels = this.states.size;
    return state;
  }

  private store(state: ChannelHistory, entry: Entry): void {
    state.push(entry);
    this.order.push({ state, offset: entry.offset });
    this.counts.messages += 1;
    this.counts.bytes += entry.bytes;
  }

  private drop(state: ChannelHistory, reason: EvictionReason | null): void {
    const entry = state.shift();
    this.counts.messages -= 1;
    this.counts.bytes -= entry.bytes;
    if (reason !== null) this.counts.evicted[reason] += 1;
  }

  /** Applies the per-channel bounds (oldest first). */
  private bound(state: ChannelHistory): void {
    const { size, channelMaxBytes } = this.limits;
    while (state.count > size) this.drop(state, 'size');
    while (state.count > 0 && state.bytes > channelMaxBytes) this.drop(state, 'bytes');
  }

  private expire(state: ChannelHistory, now: number): void {
    const { ttlMs } = this.limits;
    if (ttlMs === 0) return;
    for (let e = state.front(); e !== undefined && e.storedAt + ttlMs <= now; e = state.front()) this.drop(state, 'ttl');
  }

  /** Evicts the messages stored first, over all channels, while the total passes maxBytes. */
  private evictTotal(): void {
    while (this.counts.bytes > this.limits.maxBytes && this.orderHead < this.order.length) {
      const ref = this.order[this.orderHead] as { state: ChannelHistory; offset: number };
      this.order[this.orderHead] = undefined;
      this.orderHead += 1;
      const { state, offset } = ref;
      // Per channel the queue is in offset order, so a live entry is its channel's oldest.
      if (state.alive && state.count > 0 && state.first === offset) this.drop(state, 'total');
    }
    this.compactOrder();
  }

  /** Keeps the queue within twice the messages held (plus slack): stale entries are filtered out. */
  private compactOrder(): void {
    const held = this.order.length - this.orderHead;
    if (this.orderHead >= 1024 && this.orderHead * 2 >= this.order.length) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
    if (held > 2 * this.counts.messages + 1024) {
      this.order = this.order
        .slice(this.orderHead)
        .filter((ref) => ref !== undefined && ref.state.alive && ref.state.count > 0 && ref.offset >= ref.state.first);
      this.orderHead = 0;
    }
  }

  private forget(channel: string, state: ChannelHistory): void {
    while (state.count > 0) this.drop(state, null);
    state.alive = false;
    this.states.delete(channel);
    if (this.epochs.get(state.epoch) === channel) this.epochs.delete(state.epoch);
    this.counts.channels = this.states.size;
    for (const listener of this.forgetListeners) listener();
  }
}
