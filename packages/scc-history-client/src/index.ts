/**
 * @scc-ts/history-client: channel history and recovery (docs/history.md) for a stock
 * socketcluster-client socket. `subscribeWithHistory` subscribes asking for positions, keeps the
 * position of the last message it delivered and makes every re-subscription (the client's own,
 * after each reconnect) carry it as `since`, so the worker replays what was missed; duplicates by
 * offset are dropped. `fetchHistory` asks the worker for a page of history.
 *
 * Only the socket's public API is used (`subscribe` with options, which replaces the options a
 * channel re-subscribes with; channel consumers and listeners; `invoke`). No dependencies and no
 * Node APIs: dist/index.js is one ES module, imported as it is by Node and by browsers.
 */

// ---- The contract's names and shapes (docs/history.md). Their one home: @scc-ts/shared re-exports them. ----

/** A message's place in its channel's history: the epoch names one lifetime of it, offsets count from 1. */
export interface Position {
  epoch: string;
  offset: number;
}

/** Why a recovery was not complete (stable names). */
export const RecoveryReason = Object.freeze({
  NoPosition: 'NoPosition',
  EpochChanged: 'EpochChanged',
  TooOld: 'TooOld',
  HistoryUnavailable: 'HistoryUnavailable',
  InvalidPosition: 'InvalidPositionError',
} as const);
export type RecoveryReasonName = (typeof RecoveryReason)[keyof typeof RecoveryReason];

/** The first thing a position-wanting subscriber gets on a channel, once per subscription. */
export interface RecoveryNotice {
  type: 'recovery';
  recovered: boolean;
  reason: RecoveryReasonName | null;
  epoch: string | null;
  /** The messages that follow have offsets offset + 1, offset + 2, … */
  offset: number;
  /** How many of them are replayed history (the rest are live). */
  replayed: number;
}

/** What a position-wanting subscriber gets for each message. */
export interface MessageEnvelope {
  type: 'message';
  epoch: string;
  offset: number;
  data: unknown;
}

/** An answer to a history fetch: retained offsets are first..last; messages[i] has offset from + i. */
export interface HistoryPage {
  /** null: the channel was never published in the owner broker's lifetime. */
  epoch: string | null;
  first: number;
  last: number;
  from: number;
  messages: unknown[];
}

/** The procedure a client invokes on its worker for a history page. */
export const CLIENT_HISTORY_PROCEDURE = 'sccHistory';
/** The key of a subscription's `data` that asks for positions (and, with `since`, recovery). */
export const SUBSCRIBE_HISTORY_KEY = 'sccHistory';
/** Longest epoch a worker accepts, characters. */
export const MAX_EPOCH_LENGTH = 64;
/** Most messages one history page holds. */
export const MAX_HISTORY_PAGE = 1000;

/**
 * A position that is not `{epoch: non-empty string ≤ 64, offset: safe integer ≥ 0}`, or that the
 * owner broker refuses (beyond the newest offset of its epoch, another channel's epoch).
 */
export class InvalidPositionError extends Error {
  override readonly name = 'InvalidPositionError';
}

/** A worker's answer to a history fetch that is not a history page. */
export class InvalidPayloadError extends Error {
  override readonly name = 'InvalidPayloadError';
}

// ---- Guards: what comes off the wire is checked before it is believed. ----

type Fields = Record<string, unknown>;
const isObject = (value: unknown): value is Fields => value !== null && typeof value === 'object' && !Array.isArray(value);
const isEpoch = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= MAX_EPOCH_LENGTH;
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const REASONS: ReadonlySet<unknown> = new Set(Object.values(RecoveryReason));

/** What a value is, for an error message. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/**
 * A position checked and copied, or InvalidPositionError saying what is wrong; `what` names it in
 * the message (the worker and the broker guard positions from peers with this too).
 */
export function parsePosition(value: unknown, what = 'position'): Position {
  if (!isObject(value)) throw new InvalidPositionError(`${what} must be an object {epoch, offset}, got ${describe(value)}`);
  const { epoch, offset } = value;
  if (!isEpoch(epoch)) {
    throw new InvalidPositionError(`${what}.epoch must be a non-empty string of at most ${MAX_EPOCH_LENGTH} characters, got ${describe(epoch)}${typeof epoch === 'string' ? ` of ${epoch.length}` : ''}`);
  }
  if (!isCount(offset)) throw new InvalidPositionError(`${what}.offset must be a safe integer ≥ 0, got ${typeof offset === 'number' ? String(offset) : describe(offset)}`);
  return { epoch, offset };
}

/** The recovery notice `value` is, or null. */
export function asRecoveryNotice(value: unknown): RecoveryNotice | null {
  if (!isObject(value) || value.type !== 'recovery' || typeof value.recovered !== 'boolean') return null;
  if (value.reason !== null && !(typeof value.reason === 'string' && REASONS.has(value.reason))) return null;
  if (value.epoch !== null && !isEpoch(value.epoch)) return null;
  if (!isCount(value.offset) || !isCount(value.replayed)) return null;
  return {
    type: 'recovery',
    recovered: value.recovered,
    reason: value.reason as RecoveryReasonName | null,
    epoch: value.epoch as string | null,
    offset: value.offset,
    replayed: value.replayed,
  };
}

/** The message envelope `value` is, or null. */
export function asMessageEnvelope(value: unknown): MessageEnvelope | null {
  if (!isObject(value) || value.type !== 'message' || !isEpoch(value.epoch)) return null;
  if (!isCount(value.offset) || value.offset < 1 || !('data' in value)) return null;
  return { type: 'message', epoch: value.epoch, offset: value.offset, data: value.data };
}

/**
 * Whether `value` is the envelope of a message without a position, `{type: 'message', epoch: null,
 * offset: null, data}`: what a worker sends position-wanting subscribers of a channel whose owner
 * keeps no history (an original broker).
 */
export function isUnpositionedEnvelope(value: unknown): value is { type: 'message'; epoch: null; offset: null; data: unknown } {
  return isObject(value) && value.type === 'message' && value.epoch === null && value.offset === null && 'data' in value;
}

/** A worker's history page checked, or InvalidPayloadError. */
export function parseHistoryPage(value: unknown): HistoryPage {
  if (!isObject(value)) throw new InvalidPayloadError(`a history page must be an object, got ${describe(value)}`);
  const { epoch, first, last, from, messages } = value;
  if (epoch !== null && !isEpoch(epoch)) throw new InvalidPayloadError('a history page needs an epoch string or null');
  if (!isCount(first) || !isCount(last) || !isCount(from)) throw new InvalidPayloadError("a history page's first, last and from must be integers ≥ 0");
  if (!Array.isArray(messages) || messages.length > MAX_HISTORY_PAGE) throw new InvalidPayloadError(`a history page's messages must be an array of at most ${MAX_HISTORY_PAGE}`);
  return { epoch, first, last, from, messages };
}

/** A page's messages with their positions (none when the channel was never published). */
export function historyEntries(page: HistoryPage): Array<{ position: Position; data: unknown }> {
  const { epoch } = page;
  if (epoch === null) return [];
  return page.messages.map((data, i) => ({ position: { epoch, offset: page.from + i }, data }));
}

// ---- Position bookkeeping, socket-free. ----

/** One thing a subscription delivers, as the tracker sorts it. */
export type Delivery =
  | { kind: 'notice'; notice: RecoveryNotice }
  /** A message with its position. */
  | { kind: 'message'; data: unknown; position: Position }
  /** Data without a position: the channel keeps no history there, or the worker is an original one. */
  | { kind: 'plain'; data: unknown }
  /** A message at or before the position already delivered (a replay overlapping what was live). */
  | { kind: 'duplicate'; position: Position };

/**
 * The position of one channel's subscriber, and how each arriving item changes it. A subscription
 * starts with a recovery notice; envelopes are recognised only once one came, so data a worker
 * sends plain (an original worker, a channel without history) is never mistaken for one, whatever
 * it looks like. (A socket that reconnects from one of our workers to an original one could get
 * plain data shaped exactly like an envelope taken for one: the only case the shapes can mislead.)
 */
export class HistoryTracker {
  #position: Position | null;
  #notice: RecoveryNotice | null = null;
  /** A notice arrived: what follows are envelopes. */
  #enveloped = false;

  constructor(position?: Position | null) {
    this.#position = position == null ? null : parsePosition(position);
  }

  /** The position of the last message delivered (or where the last notice said the stream starts). */
  get position(): Position | null {
    return this.#position === null ? null : { ...this.#position };
  }

  /** The latest recovery notice. */
  get notice(): RecoveryNotice | null {
    return this.#notice;
  }

  /** The `data` of a (re-)subscription: positions from now, or recovery after the position. */
  subscribeData(): { [SUBSCRIBE_HISTORY_KEY]: true | { since: Position } } {
    return { [SUBSCRIBE_HISTORY_KEY]: this.#position === null ? true : { since: { ...this.#position } } };
  }

  /** Sorts one item the channel delivered and moves the position past it. */
  accept(item: unknown): Delivery {
    const notice = asRecoveryNotice(item);
    // Envelopes have type 'message': a notice is never one of them.
    if (notice !== null) return this.#acceptNotice(notice);
    const envelope = this.#enveloped ? asMessageEnvelope(item) : null;
    if (envelope === null) {
      // After a notice, a message without a position (its owner keeps no history) is still enveloped.
      if (this.#enveloped && isUnpositionedEnvelope(item)) return { kind: 'plain', data: item.data };
      return { kind: 'plain', data: item };
    }
    const position = { epoch: envelope.epoch, offset: envelope.offset };
    const last = this.#position;
    if (last !== null && last.epoch === position.epoch && position.offset <= last.offset) return { kind: 'duplicate', position };
    // A new epoch without a notice (the owner broker was replaced while subscribed) starts over there.
    this.#position = position;
    return { kind: 'message', data: envelope.data, position: { ...position } };
  }

  #acceptNotice(notice: RecoveryNotice): Delivery {
    this.#enveloped = true;
    this.#notice = notice;
    // Where the stream starts. Without an epoch (never published, or no history there) the old
    // position stays, to recover from later; a position the worker refused is dropped.
    if (notice.epoch !== null) this.#position = { epoch: notice.epoch, offset: notice.offset };
    else if (notice.reason === RecoveryReason.InvalidPosition) this.#position = null;
    return { kind: 'notice', notice };
  }
}

// ---- The socket side: the few members of a socketcluster-client socket this package uses. ----

/**
 * A stream consumer (socketcluster-client's channel data and listener consumers). At run time it
 * has the numeric `id` the channel's kill methods take (their typings leave it out).
 */
export interface HistoryConsumer<T> {
  next(): Promise<IteratorResult<T>>;
  return(): unknown;
}

/** The members of a socketcluster-client channel (AGChannel) used here. */
export interface HistoryChannel {
  readonly name: string;
  readonly state: string;
  createConsumer(): HistoryConsumer<unknown>;
  listener(eventName: string): { createConsumer(): HistoryConsumer<unknown> };
  killOutputConsumer(consumerId: number): void;
  killListenerConsumer(consumerId: number): void;
}

/** The members of a socketcluster-client socket (AGClientSocket 19 and 20) used here. */
export interface HistorySocket {
  subscribe(channelName: string, options?: { data?: unknown }): HistoryChannel;
  unsubscribe(channelName: string): unknown;
  invoke(event: string, data?: unknown): Promise<unknown>;
}

export interface HistorySubscribeOptions {
  /** Recover after this position (a position saved earlier); without it the stream starts at the live edge. */
  position?: Position | null;
  /** Each message once, in order; position null: the data came without one (see Delivery 'plain'). */
  onMessage(data: unknown, position: Position | null): void;
  /** The notice that starts each subscription: whether what was missed was replayed. */
  onRecovery?(notice: RecoveryNotice): void;
}

/** A channel subscribed with history. */
export interface HistorySubscription {
  /** The socket's channel: its state, and its events (subscribe, subscribeFail, kickOut, …). */
  readonly channel: HistoryChannel;
  /** The position of the last message delivered; save it to recover in another session. */
  readonly position: Position | null;
  /** The latest recovery notice. */
  readonly notice: RecoveryNotice | null;
  /** Unsubscribes and stops the callbacks. */
  close(): void;
}

/** Ends a consumer: killed by its id, which also ends a pending `next()`; else returned. */
function end(consumer: HistoryConsumer<unknown>, kill: (id: number) => void): void {
  const { id } = consumer as { id?: unknown };
  if (typeof id === 'number') kill(id);
  else consumer.return();
}

/** Reads a consumer until it ends, handing each value to `handle`. */
async function drain<T>(consumer: HistoryConsumer<T>, handle: (value: T) => void): Promise<void> {
  for (;;) {
    const { value, done } = await consumer.next();
    if (done) return;
    handle(value);
  }
}

/**
 * Subscribes `socket` to `channelName` with positions, recovering after `options.position` when
 * given, and again after the last delivered position on every re-subscription. The helper owns
 * the channel's subscribe options on this socket: another `socket.subscribe` of the same channel
 * replaces them (and the next re-subscription would not recover).
 */
export function subscribeWithHistory(socket: HistorySocket, channelName: string, options: HistorySubscribeOptions): HistorySubscription {
  const tracker = new HistoryTracker(options.position);
  const optionsNow = () => ({ data: tracker.subscribeData() });
  const channel = socket.subscribe(channelName, optionsNow());
  const data = channel.createConsumer();
  const states = channel.listener('subscribeStateChange').createConsumer();
  const fails = channel.listener('subscribeFail').createConsumer();
  let suspended = false;
  let closed = false;

  const stop = () => {
    closed = true;
    end(data, (id) => channel.killOutputConsumer(id));
    end(states, (id) => channel.killListenerConsumer(id));
    end(fails, (id) => channel.killListenerConsumer(id));
  };
  const onItem = (item: unknown) => {
    if (closed) return;
    const delivery = tracker.accept(item);
    if (delivery.kind === 'notice') options.onRecovery?.(delivery.notice);
    else if (delivery.kind === 'message') options.onMessage(delivery.data, delivery.position);
    else if (delivery.kind === 'plain') options.onMessage(delivery.data, null);
    // Items still queued when the connection closed: the re-subscription must start after them.
    if (suspended && delivery.kind === 'message') socket.subscribe(channelName, optionsNow());
  };
  const onState = (change: unknown) => {
    const state = isObject(change) ? change.newChannelState : undefined;
    if (state === 'subscribed') {
      suspended = false;
    } else if (state === 'pending') {
      // The connection closed; the client re-subscribes on reconnect with the options stored now.
      suspended = true;
      if (!closed) socket.subscribe(channelName, optionsNow());
    } else if (state === 'unsubscribed') {
      // Unsubscribed or kicked out: the client will not re-subscribe; neither do we.
      stop();
    }
  };
  void drain(data, onItem);
  void drain(states, onState);
  // A refused subscribe: the client has dropped the channel (the app sees why on channel.listener('subscribeFail')).
  void drain(fails, stop);

  return {
    channel,
    get position() {
      return tracker.position;
    },
    get notice() {
      return tracker.notice;
    },
    close() {
      if (closed) return;
      stop();
      socket.unsubscribe(channelName);
    },
  };
}

export interface FetchHistoryOptions {
  /** Most messages, 0 … 1000 (the worker's default: 100). */
  limit?: number;
  /** The messages after this position; without it, the last `limit`. */
  since?: Position;
}

/**
 * A page of `channelName`'s history from the worker (the socket must be subscribed to the
 * channel). The worker's refusals reject with their names: HistoryNotSubscribedError,
 * HistoryNotEnabledError, InvalidPositionError, InvalidPayloadError.
 */
export async function fetchHistory(socket: HistorySocket, channelName: string, options: FetchHistoryOptions = {}): Promise<HistoryPage> {
  const request: { channel: string; limit?: number; since?: Position } = { channel: channelName };
  if (options.limit !== undefined) request.limit = options.limit;
  if (options.since !== undefined) request.since = options.since;
  return parseHistoryPage(await socket.invoke(CLIENT_HISTORY_PROCEDURE, request));
}
