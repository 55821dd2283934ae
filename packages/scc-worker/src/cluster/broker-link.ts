/**
 * One connection of a worker's pool to a broker: our own SocketCluster protocol v2 client on
 * `ws` (the subset in shared's sc-wire.ts), which our broker and the original (a
 * socketcluster-server) both speak. It reconnects until closed.
 *
 * Relayed packets go straight to `onPacket`, synchronously and in arrival order: no stream and no
 * promise per packet. What the link is sent in one event-loop turn leaves as one frame (a batch).
 * The rest follows socketcluster-client, which the original worker uses: requests made while the
 * link is connecting wait for its handshake; a lost connection fails what waits for an answer,
 * drops what does not, and every subscription is sent again on the next connection.
 *
 * A link that hears nothing for `linkTimeoutMs` is dead, whatever the broker's own ping timeout says
 * (socketcluster's is 20 s): when it has heard nothing for a third of that, the link sends a heartbeat
 * — an acknowledged publish to the barrier channel, which our broker and the original both answer —
 * so a silent partition is noticed within the link timeout, and a busy link costs no heartbeat at all.
 */
import WebSocket from 'ws';
import {
  AckTimeoutError,
  BARRIER_CHANNEL,
  BrokerPublishError,
  HEARTBEATS_PER_LINK_TIMEOUT,
  SC_LEGACY_PING,
  SC_LEGACY_PONG,
  SC_PING,
  ScEvent,
  encodeBatch,
  encodeEvent,
  parseFrame,
  shortName,
  toPacket,
  type Logger,
  type ScEventPacket,
  type ScResponsePacket,
} from '@scc-ts/shared';

export interface BrokerLinkOptions {
  /** `ws://host:port/socketcluster/?authKey=…&poolIndex=…` */
  url: string;
  /** How the link is named in logs and errors, e.g. `broker ws://10.0.0.1:8888 [2]`. */
  label: string;
  retryDelayMs: number;
  reconnectRandomnessMs: number;
  /** How long a request waits for its answer, ms; default DEFAULT_LINK_ACK_TIMEOUT_MS. */
  ackTimeoutMs?: number;
  /** Silence after which the connection counts as dead, ms; heartbeats go every third of it. */
  linkTimeoutMs: number;
  logger: Logger;
  /** Receives every packet relayed on a channel this link subscribed (or is subscribing). */
  onPacket: (channel: string, packet: unknown) => void;
  /** Called when the link opens (handshake answered) or loses its connection. */
  onChange: () => void;
}

/** How long `subscribe()`'s promise waits for the broker's acknowledgement before giving up, ms. */
const SUBSCRIBE_ACK_WAIT_MS = 5000;
/** How long a request waits for its answer before failing with AckTimeoutError, ms (socketcluster-client's default). */
export const DEFAULT_LINK_ACK_TIMEOUT_MS = 10_000;
/** How long a connection may take from dialling to the handshake's answer, ms (socketcluster-client's default). */
const CONNECT_TIMEOUT_MS = 20_000;
/** socketcluster-client's close code for a server that stopped pinging (here: a link silent past its timeout). */
const PING_TIMEOUT_CLOSE_CODE = 4000;
/** socketcluster-client's close code for a connection that did not finish in time. */
const CONNECT_TIMEOUT_CLOSE_CODE = 4007;
/**
 * The watchdog drops a link silent for this fraction of the link timeout, so that a link cut just
 * after its last frame is dropped within the timeout despite a frame already in flight and a busy
 * event loop's timer lateness. Two heartbeats are missed by then: no healthy link gets this far.
 */
const WATCHDOG_FRACTION = 0.9;
/** A deliberate close by this side. */
const NORMAL_CLOSE_CODE = 1000;
/** Close codes of a broker closing on purpose (normal, going away, service restart). */
const DELIBERATE_CLOSE_CODES: ReadonlySet<number> = new Set([1000, 1001, 1012]);

/** A request waiting for the broker's answer. */
interface Pending {
  event: string;
  resolve: (data: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** A channel's state on one link: sent and not yet acknowledged, or acknowledged. */
interface Subscription {
  acked: boolean;
  /** cid of the latest `#subscribe` sent for it; only that answer acknowledges it. */
  cid: number;
  /** `subscribe()` callers waiting for the acknowledgement. */
  waiters: Array<() => void>;
}

/** One connection of the pool, reconnecting until closed. */
export class BrokerLink {
  private ws: WebSocket | undefined;
  /** Open: handshake answered; requests go out directly (batched per turn). */
  open = false;
  /** Whether the broker said in its handshake answer that it keeps channel history (last connection). */
  keepsHistory = false;
  private cid = 0;
  private readonly pending = new Map<number, Pending>();
  /** Texts for this turn's frame, or waiting for the handshake while connecting. */
  private outbound: string[] = [];
  private flushScheduled: NodeJS.Immediate | undefined;
  readonly subscriptions = new Map<string, Subscription>();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** When the connection last heard anything (clock ms). */
  private lastHeardAt = 0;
  private closed = false;

  private readonly label: string;
  /** A heartbeat interval: a link quiet for this long asks the broker for an answer, ms. */
  private readonly heartbeatMs: number;

  /** When the broker was last heard (any frame, pings too) or the connection attempt began, ms since the epoch. */
  get heardAt(): number {
    return this.lastHeardAt;
  }

  constructor(private readonly options: BrokerLinkOptions) {
    this.label = options.label;
    this.heartbeatMs = options.linkTimeoutMs / HEARTBEATS_PER_LINK_TIMEOUT;
    this.connect();
  }

  private connect(): void {
    this.reconnectTimer = undefined;
    if (this.closed) return;
    const ws = new WebSocket(this.options.url, { perMessageDeflate: false, handshakeTimeout: CONNECT_TIMEOUT_MS });
    this.ws = ws;
    this.lastHeardAt = Date.now();
    this.connectTimer = setTimeout(() => this.lose(ws, CONNECT_TIMEOUT_CLOSE_CODE, 'connect timeout'), CONNECT_TIMEOUT_MS);
    ws.on('open', () => {
      const cid = this.nextCid();
      // The handshake goes alone and first; everything else waits for its answer.
      ws.send(encodeEvent(ScEvent.Handshake, {}, cid));
      this.await(cid, ScEvent.Handshake, CONNECT_TIMEOUT_MS).then(
        (answer) => {
          // Our broker says whether it keeps channel history (docs/history.md); the original never does.
          this.keepsHistory = (answer as { sccHistory?: unknown } | null)?.sccHistory === true;
          this.opened(ws);
        },
        (error: Error) => {
          this.options.logger.warn(`${this.label}: handshake failed: ${error.name}: ${error.message}`);
          this.lose(ws, CONNECT_TIMEOUT_CLOSE_CODE, 'handshake failed');
        },
      );
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) this.receive(ws, data.toString());
    });
    ws.on('error', (error) => this.options.logger.warn(`${this.label}: ${error.name}: ${error.message}`));
    ws.on('unexpected-response', (_req, res) => {
      this.options.logger.warn(`${this.label}: upgrade refused with HTTP ${res.statusCode ?? '?'}`);
      res.resume();
      this.lose(ws, 1006, `HTTP ${res.statusCode ?? '?'}`);
    });
    ws.on('close', (code, reason) => this.lose(ws, code, reason.toString()));
  }

  private opened(ws: WebSocket): void {
    if (ws !== this.ws || this.closed) return;
    clearTimeout(this.connectTimer);
    this.armPingTimer();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatMs);
    this.open = true;
    this.options.logger.info(`connected to ${this.label}`);
    // Resubscribe first, then what waited for the handshake, in the order it was asked for.
    const waiting = this.outbound;
    this.outbound = [];
    for (const [channel, subscription] of this.subscriptions) this.sendSubscribe(channel, subscription);
    for (const text of waiting) this.queue(text);
    this.options.onChange();
  }

  /**
   * Drops the connection when nothing came for the link timeout (heartbeats make something come).
   * It fires a little early (WATCHDOG_FRACTION), so that a link silent since a cut is dropped within
   * the timeout, as documented, not a few ms past it.
   */
  private armPingTimer(): void {
    const timeoutMs = this.options.linkTimeoutMs * WATCHDOG_FRACTION;
    const wait = Math.max(1, this.lastHeardAt + timeoutMs - Date.now());
    this.pingTimer = setTimeout(() => {
      const ws = this.ws;
      if (ws === undefined) return;
      const silentMs = Date.now() - this.lastHeardAt;
      if (silentMs >= timeoutMs) this.lose(ws, PING_TIMEOUT_CLOSE_CODE, `silent for ${silentMs} ms`);
      else this.armPingTimer();
    }, wait);
  }

  /** Asks the broker for an answer when the link has been quiet for a heartbeat interval. */
  private heartbeat(): void {
    if (!this.open || Date.now() - this.lastHeardAt < this.heartbeatMs) return;
    // Its answer (or any other traffic) moves lastHeardAt; a missing one is the watchdog's business.
    this.invoke(ScEvent.Publish, { channel: BARRIER_CHANNEL, data: null }).catch(() => undefined);
  }

  /** The connection `ws` is gone (or is to be given up): fail what waits, reconnect later. */
  private lose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    const wasOpen = this.open;
    this.open = false;
    clearTimeout(this.connectTimer);
    clearTimeout(this.pingTimer);
    clearInterval(this.heartbeatTimer);
    ws.removeAllListeners();
    // Errors after this point (a socket cut mid-close) have nowhere to go.
    ws.on('error', () => undefined);
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate();
    if (wasOpen && !this.closed) {
      const line = `${this.label}: connection lost (${code}${reason ? ` ${reason}` : ''})`;
      // Info either way: the router says once per broker (a warning, with a stable event) when one
      // it needs is unreachable; a broker closing on purpose (1000, 1001, 1012) is no fault at all.
      this.options.logger.info({ code, deliberate: DELIBERATE_CLOSE_CODES.has(code) }, line);
    }
    this.abortAll(new BrokerPublishError(`${this.label}: the connection closed (${code}) before an answer came`));
    // Subscriptions stay and are sent again on the next connection, unacknowledged till then.
    for (const subscription of this.subscriptions.values()) subscription.acked = false;
    if (this.closed) return;
    this.options.onChange();
    const delay = this.options.retryDelayMs + Math.round(Math.random() * this.options.reconnectRandomnessMs);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /** Fails every request waiting for an answer and drops what was never sent. */
  private abortAll(error: Error): void {
    this.outbound = [];
    if (this.flushScheduled) clearImmediate(this.flushScheduled);
    this.flushScheduled = undefined;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(error);
    }
  }

  private receive(ws: WebSocket, text: string): void {
    if (ws !== this.ws) return;
    this.lastHeardAt = Date.now();
    if (text === SC_PING || text === SC_LEGACY_PING) {
      // Answered at once, outside any batch: a pong carries no order.
      ws.send(text === SC_PING ? SC_PING : SC_LEGACY_PONG);
      return;
    }
    let values: unknown[];
    try {
      values = parseFrame(text);
    } catch (error) {
      this.options.logger.warn(`${this.label}: ${(error as Error).name}: ${(error as Error).message}`);
      return;
    }
    for (const value of values) {
      let packet;
      try {
        packet = toPacket(value);
      } catch (error) {
        this.options.logger.warn(`${this.label}: ${(error as Error).name}: ${(error as Error).message}`);
        continue;
      }
      if (packet.kind === 'response') this.answer(packet);
      else this.event(packet);
      // A delivery may have closed the pool.
      if (ws !== this.ws) return;
    }
  }

  private event(packet: ScEventPacket): void {
    // Only relayed publishes matter here; a server's #kickOut, #setAuthToken etc. have no use on this link.
    if (packet.event !== ScEvent.Publish) return;
    const body = packet.data as { channel?: unknown; data?: unknown } | null;
    const channel = body !== null && typeof body === 'object' ? body.channel : undefined;
    // As socketcluster-client: packets of a channel not subscribed (nor pending) are dropped.
    if (typeof channel !== 'string' || !this.subscriptions.has(channel)) return;
    try {
      this.options.onPacket(channel, (body as { data?: unknown }).data);
    } catch (error) {
      // Never let a delivery problem unwind into the link's message handling.
      this.options.logger.error(`delivering a packet on ${shortName(channel)} failed: ${(error as Error).stack ?? String(error)}`);
    }
  }

  private answer(packet: ScResponsePacket): void {
    const pending = this.pending.get(packet.rid);
    if (pending === undefined) return;
    this.pending.delete(packet.rid);
    clearTimeout(pending.timer);
    if (packet.error === undefined) {
      pending.resolve(packet.data);
      return;
    }
    const error = new Error(packet.error.message);
    // The peer's name is kept (`BrokerError`, `InvalidChannelError`, ...): callers match on it.
    error.name = packet.error.name;
    pending.reject(error);
  }

  private nextCid(): number {
    this.cid += 1;
    return this.cid;
  }

  /** A promise for the answer to `cid`, failing with AckTimeoutError after `timeoutMs`. */
  private await(cid: number, event: string, timeoutMs = this.options.ackTimeoutMs ?? DEFAULT_LINK_ACK_TIMEOUT_MS): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(cid);
        reject(new AckTimeoutError(`${this.label}: no answer to ${event} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(cid, { event, resolve, reject, timer });
    });
  }

  /** Queues a text: in this turn's frame when open, else until the handshake (dropped if the connection fails). */
  private queue(text: string): void {
    this.outbound.push(text);
    if (this.open && this.outbound.length === 1) this.flushScheduled = setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = undefined;
    if (!this.open || this.ws === undefined || this.outbound.length === 0) return;
    const texts = this.outbound;
    this.outbound = [];
    this.ws.send(encodeBatch(texts));
  }

  /** Sends `{event, data, cid}`; resolves with the answer. Fails on timeout or a lost connection. */
  invoke(event: string, data: unknown): Promise<unknown> {
    if (this.closed) return Promise.reject(new BrokerPublishError(`${this.label}: the pool is closed`));
    const cid = this.nextCid();
    let text: string;
    try {
      text = encodeEvent(event, data, cid);
    } catch (error) {
      // Data JSON cannot write (a cycle, nesting past the stack): refused, nothing sent.
      return Promise.reject(error as Error);
    }
    const answered = this.await(cid, event);
    this.queue(text);
    return answered;
  }

  /** Sends `{event, data}` without asking for an answer. */
  transmit(event: string, data: unknown): void {
    if (this.closed) return;
    let text: string;
    try {
      text = encodeEvent(event, data);
    } catch (error) {
      // As a transmit that is lost: nobody waits for it, so it is logged, not thrown at the caller.
      this.options.logger.warn(`${this.label}: could not encode ${event}: ${(error as Error).name}: ${(error as Error).message}`);
      return;
    }
    this.queue(text);
  }

  private sendSubscribe(channel: string, subscription: Subscription): void {
    const cid = this.nextCid();
    subscription.cid = cid;
    this.await(cid, ScEvent.Subscribe).then(
      () => {
        if (this.subscriptions.get(channel) !== subscription || subscription.cid !== cid) return;
        subscription.acked = true;
        this.settle(subscription);
      },
      (error: Error) => {
        if (this.subscriptions.get(channel) !== subscription || subscription.cid !== cid) return;
        // A lost connection: it is sent again on the next one. A refusal or a timeout: as
        // socketcluster-client, the channel is given up (the router subscribes it again if needed).
        if (error instanceof BrokerPublishError) return;
        this.options.logger.warn(`${this.label}: subscribing ${shortName(channel)} failed: ${error.name}: ${error.message}`);
        this.subscriptions.delete(channel);
        this.settle(subscription);
      },
    );
    this.queue(encodeEvent(ScEvent.Subscribe, { channel }, cid));
  }

  private settle(subscription: Subscription): void {
    const waiters = subscription.waiters;
    subscription.waiters = [];
    for (const resolve of waiters) resolve();
  }

  isSubscribed(channel: string, includePending: boolean): boolean {
    const subscription = this.subscriptions.get(channel);
    return subscription !== undefined && (includePending || subscription.acked);
  }

  subscribe(channel: string): Promise<void> {
    let subscription = this.subscriptions.get(channel);
    if (subscription?.acked) return Promise.resolve();
    if (subscription === undefined) {
      subscription = { acked: false, cid: 0, waiters: [] };
      this.subscriptions.set(channel, subscription);
      // While connecting, the handshake's answer sends every subscription (see opened()).
      if (this.open) this.sendSubscribe(channel, subscription);
    }
    const waiting = subscription;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, SUBSCRIBE_ACK_WAIT_MS);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      waiting.waiters.push(done);
    });
  }

  unsubscribe(channel: string): void {
    const subscription = this.subscriptions.get(channel);
    if (subscription === undefined) return;
    this.subscriptions.delete(channel);
    this.settle(subscription);
    // As socketcluster-client: no answer asked for; a broker not connected has forgotten it already.
    if (this.open) this.queue(encodeEvent(ScEvent.Unsubscribe, channel));
  }

  /** Closes the connection for good: what is queued this turn is sent first, waiting requests fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    if (this.flushScheduled) {
      clearImmediate(this.flushScheduled);
      this.flush();
    }
    const ws = this.ws;
    this.ws = undefined;
    this.open = false;
    clearTimeout(this.connectTimer);
    clearTimeout(this.pingTimer);
    clearInterval(this.heartbeatTimer);
    if (ws !== undefined) {
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      if (ws.readyState === WebSocket.OPEN) ws.close(NORMAL_CLOSE_CODE);
      else ws.terminate();
    }
    this.abortAll(new BrokerPublishError(`${this.label}: the pool is closed`));
    for (const subscription of this.subscriptions.values()) this.settle(subscription);
    this.subscriptions.clear();
  }
}

