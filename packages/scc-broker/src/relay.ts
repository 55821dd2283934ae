/**
 * The broker's relay: a small SocketCluster protocol v2 server (the subset in shared's sc-wire.ts)
 * on `ws`'s WebSocketServer. Workers (ours, and originals on socketcluster-client) connect, hand
 * shake, subscribe channels and publish; each publish is encoded once and the same text is queued
 * for every socket subscribed to its channel, the publisher's included (workers skip their own
 * packets by `sender`). What a socket is sent in one event-loop turn leaves as one frame.
 *
 * Ordering is what workers rely on: a socket's packets are handled in arrival order, and the
 * answer to a publish is queued behind the relayed copies it caused, so an acknowledged publish
 * to a channel nobody subscribes (a worker's barrier) proves everything before it was relayed.
 *
 * Refusals follow socketcluster-server where a peer can see them (close codes 4005, 4008, 4009,
 * 1009, HTTP 401; a failed subscribe answers `BrokerError`), plus the limits it lacks (HTTP 503 at
 * the connection limit, close 4100 for a slow consumer).
 *
 * With history on (docs/history.md), a publish on a history channel gets positions and is stored
 * (history.ts); a channel a handover is moving here (`sccHistoryExpect`) holds its packets until its history is imported.
 * The answer to such a publish still follows its relayed copy. Other channels take the path above.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  BadClusterAuthError,
  BrokerError,
  ConnectionLimitError,
  HISTORY_PENDING_TIMEOUT_MS,
  HistoryNotEnabledError,
  HistoryProcedure,
  MAX_HISTORY_MOVES,
  createMapper,
  historyMatcher,
  type HistoryConfig,
  type Position,
  InvalidChannelError,
  InvalidFrameError,
  InvalidHandshakeError,
  InvalidPayloadError,
  SlowConsumerError,
  UnsupportedActionError,
  CONNECTION_LIMIT_HTTP_STATUS,
  SLOW_CONSUMER_CLOSE_CODE,
  SOCKETCLUSTER_PATH,
  UPGRADE_REJECTION_HTTP_STATUS,
  ScCloseCode,
  ScEvent,
  SC_PING,
  authKeyMatches,
  encodeBatch,
  encodeErrorResponse,
  encodePublishText,
  encodeResponse,
  encodeValue,
  parseFrame,
  queryOf,
  shortName,
  toPacket,
  type Logger,
  type ScEventPacket,
  CLOSE_HANDSHAKE_GRACE_MS,
} from '@scc-ts/shared';
import { ChannelTable, channelProblem } from './channel-table.js';
import { Listeners, type Listener } from './listeners.js';
import { WarningBudget } from './warning-budget.js';
import { HistoryStore } from './history.js';
import {
  parseExpectRequest,
  parseExportRequest,
  parseFetchRequest,
  parseImportRequest,
  parseMovesRequest,
  positionedText,
  preparePacket,
  type ChannelRules,
  type PreparedPacket,
} from './history-wire.js';

/** How long close() lets sockets finish their closing handshake before cutting them, ms (the services' one grace). */
export const CLOSE_GRACE_MS = CLOSE_HANDSHAKE_GRACE_MS;

export interface RelayOptions {
  /** The HTTP server whose upgrades at `/socketcluster/` the relay takes. */
  server: Server;
  /** Required `authKey` query value; null admits everyone. */
  authKey: string | null;
  /** Message of the `BadClusterAuthError` a wrong key gets (HTTP 401 body). */
  authErrorMessage: string;
  /** Largest inbound message, bytes; bigger ones close the socket with 1009. */
  maxPayloadBytes: number;
  /** Time a socket has to send `#handshake`, ms; then close 4005. */
  handshakeTimeoutMs: number;
  /** Most sockets (pending and open) held; more are refused with HTTP 503 and Retry-After. */
  maxConnections: number;
  /** Most bytes queued for one socket before it is closed with 4100 as a slow consumer. */
  maxOutboundBufferBytes: number;
  /** Interval between pings sent to every socket, ms. */
  pingIntervalMs: number;
  /** Silence after which a socket is dropped with 4001, ms (also told to clients at the handshake). */
  pingTimeoutMs: number;
  logger: Logger;
  /** An extra refusal on top of the relay's own checks (string, non-empty, length): an error, or null. */
  refuseChannel?: (channel: string) => Error | null;
  /** Called for each upgrade refused for its auth key, with the error sent. */
  onAuthRefused?: (error: Error, remoteAddress: string | undefined) => void;
  /** Channel history (docs/history.md); absent or no prefixes: off. */
  history?: HistoryConfig;
  /** How long a moved channel waits for its history, ms (default HISTORY_PENDING_TIMEOUT_MS; tests shorten it). */
  historyPendingTimeoutMs?: number;
}

/** One relayed publish, as the `relayed` listeners see it. */
export interface RelayedPacket {
  channel: string;
  data: unknown;
  /** The frame text written to each subscriber (encoded once); null when nobody subscribes. */
  text: string | null;
  /** How many sockets it was queued for. */
  subscribers: number;
}

/** What a pending channel holds (history.ts), in arrival order. */
type HeldItem =
  | { kind: 'publish'; peer: Peer; cid: number | undefined; data: unknown; packet: PreparedPacket | null }
  | { kind: 'fetch'; peer: Peer; cid: number; since: Position | undefined; limit: number };

/** A socket's life: upgraded, handshaken, gone. */
const PeerState = { Pending: 0, Open: 1, Closed: 2 } as const;
type PeerStateValue = (typeof PeerState)[keyof typeof PeerState];

/** One worker connection. */
class Peer {
  readonly id = randomUUID();
  state: PeerStateValue = PeerState.Pending;
  readonly channels = new Set<string>();
  /** Texts queued in this turn; sent as one frame by the relay's flush. */
  outbound: string[] = [];
  lastHeardAt = Date.now();
  handshakeTimer: NodeJS.Timeout | undefined;
  constructor(
    readonly ws: WebSocket,
    readonly remoteAddress: string | undefined,
  ) {}
}

export class Relay {
  private readonly options: RelayOptions;
  private readonly logger: Logger;
  private readonly warnings: WarningBudget;
  private readonly wss: WebSocketServer;
  private readonly peers = new Set<Peer>();
  private readonly table = new ChannelTable<Peer>((channel) => {
    if (this.channelEmptyListeners.size > 0) this.channelEmptyListeners.emit(channel, this.logger);
  });
  private readonly dirty = new Set<Peer>();
  private flushScheduled: NodeJS.Immediate | undefined;
  private readonly pingTicker: NodeJS.Timeout;
  private openCount = 0;
  private closing: Promise<void> | undefined;
  private readonly relayedListeners = new Listeners<RelayedPacket>();
  private readonly channelEmptyListeners = new Listeners<string>();
  private readonly connectionListeners = new Listeners<{ id: string; remoteAddress: string | undefined }>();
  /** Null when history is off. */
  private readonly store: HistoryStore<HeldItem> | null;
  private readonly rules: ChannelRules;

  constructor(options: RelayOptions) {
    this.options = options;
    this.logger = options.logger;
    this.warnings = new WarningBudget(options.logger);
    const prefixes = options.history?.channelPrefixes ?? [];
    this.store = options.history !== undefined && prefixes.length > 0 ? new HistoryStore<HeldItem>(options.history) : null;
    this.rules = { refuseChannel: options.refuseChannel, isHistory: historyMatcher(prefixes) };
    this.wss = new WebSocketServer({
      server: options.server,
      path: SOCKETCLUSTER_PATH,
      maxPayload: options.maxPayloadBytes,
      // Internal links carry small JSON at high rates: compression costs more CPU than it saves.
      perMessageDeflate: false,
      // The relay keeps its own set; ws's would be a second one.
      clientTracking: false,
      verifyClient: (info, callback) => this.verify(info.req, callback),
    });
    this.wss.on('connection', (ws, req) => this.accept(ws, req));
    // Errors of the listening server reach the HTTP server's own handlers; this keeps ws from rethrowing.
    this.wss.on('error', (error) => this.logger.error({ err: error }, `relay server error: ${error.message}`));
    this.pingTicker = setInterval(() => this.ping(), options.pingIntervalMs);
  }

  /** Sockets that completed the handshake. */
  get connectionCount(): number {
    return this.openCount;
  }

  /** Sockets upgraded but not yet handshaken. */
  get pendingCount(): number {
    return this.peers.size - this.openCount;
  }

  /** Subscriptions held, summed over sockets (one per socket and channel). */
  get subscriptionCount(): number {
    return this.table.subscriptionCount;
  }

  /** Channels with at least one subscriber. */
  get channelCount(): number {
    return this.table.channelCount;
  }

  /** Sockets subscribed to `channel` (0 for any name nobody subscribed). */
  subscriberCount(channel: string): number {
    return this.table.subscribers(channel)?.size ?? 0;
  }

  /** The history store (null when history is off): its counts, and what a drain waits for. */
  get history(): HistoryStore | null {
    return this.store;
  }

  /** The channels with at least one subscriber. */
  channels(): string[] {
    return this.table.channels();
  }

  /** Calls `listener` synchronously after each publish is queued for its subscribers. Returns a remover. */
  onRelayed(listener: Listener<RelayedPacket>): () => void {
    return this.relayedListeners.add(listener);
  }

  /** Calls `listener` when a channel loses its last subscriber (unsubscribe or disconnect). */
  onChannelEmpty(listener: Listener<string>): () => void {
    return this.channelEmptyListeners.add(listener);
  }

  /** Calls `listener` when a socket completes its handshake. */
  onConnection(listener: Listener<{ id: string; remoteAddress: string | undefined }>): () => void {
    return this.connectionListeners.add(listener);
  }

  /** The upgrade checks, in ws's asynchronous verifyClient form (code, message and headers). */
  private verify(req: IncomingMessage, callback: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void): void {
    const { authKey, maxConnections } = this.options;
    const remoteAddress = req.socket.remoteAddress;
    if (this.closing) {
      callback(false, CONNECTION_LIMIT_HTTP_STATUS, 'scc-broker is shutting down', { 'Retry-After': '1' });
      return;
    }
    if (authKey !== null && !authKeyMatches(authKey, queryOf(req.url).get('authKey'))) {
      const error = new BadClusterAuthError(this.options.authErrorMessage);
      this.options.onAuthRefused?.(error, remoteAddress);
      this.warnings.warn(`refused ${remoteAddress ?? 'a peer'}: ${error.name}: ${error.message}`);
      callback(false, UPGRADE_REJECTION_HTTP_STATUS, error.message);
      return;
    }
    // Pending sockets count too. ws completes an upgrade synchronously once this calls back, so
    // `peers` already holds every earlier upgrade: a burst cannot pass the limit together.
    if (this.peers.size >= maxConnections) {
      const error = new ConnectionLimitError(`this server holds its limit of ${maxConnections} connections`);
      this.warnings.warn(`refused ${remoteAddress ?? 'a peer'}: ${error.name}: ${maxConnections} connections held`);
      callback(false, CONNECTION_LIMIT_HTTP_STATUS, `${error.name}: ${error.message}`, { 'Retry-After': '1' });
      return;
    }
    callback(true);
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    const peer = new Peer(ws, req.socket.remoteAddress);
    if (this.closing) {
      ws.close(1012, 'scc-broker shutting down');
      return;
    }
    this.peers.add(peer);
    peer.handshakeTimer = setTimeout(() => this.drop(peer, ScCloseCode.HandshakeTimeout, 'handshake timeout'), this.options.handshakeTimeoutMs);
    ws.on('message', (data: Buffer, isBinary: boolean) => this.receive(peer, data, isBinary));
    // ws closes the socket itself after a protocol error (1009 for a message over maxPayload, 1002, 1007).
    ws.on('error', (error) => this.logger.debug(`socket ${peer.id} from ${peer.remoteAddress}: ${error.message}`));
    ws.on('close', () => this.forget(peer));
  }

  private receive(peer: Peer, data: Buffer, isBinary: boolean): void {
    if (peer.state === PeerState.Closed) return;
    peer.lastHeardAt = Date.now();
    if (isBinary) {
      // Nothing on these links is binary; before the handshake it is a peer speaking something else.
      if (peer.state === PeerState.Pending) this.drop(peer, ScCloseCode.NotHandshaken, 'expected #handshake');
      return;
    }
    const text = data.toString();
    if (text === SC_PING) {
      // A pong. socketcluster-server (strictHandshake) refuses one before the handshake.
      if (peer.state === PeerState.Pending) this.drop(peer, ScCloseCode.NotHandshaken, 'expected #handshake');
      return;
    }
    let values: unknown[];
    try {
      values = parseFrame(text);
    } catch (error) {
      this.refuseFrame(peer, error as Error);
      return;
    }
    for (const value of values) {
      // A packet earlier in the batch may have closed the socket (TypeScript cannot see that).
      if ((peer.state as PeerStateValue) === PeerState.Closed) return;
      let packet;
      try {
        packet = toPacket(value);
      } catch (error) {
        this.refuseFrame(peer, error as Error);
        continue;
      }
      if (packet.kind === 'event') this.handleEvent(peer, packet);
      else if (peer.state === PeerState.Pending) this.drop(peer, ScCloseCode.NotHandshaken, 'expected #handshake');
      // The relay sends no requests, so an answer is for nothing here; ignored.
    }
  }

  private refuseFrame(peer: Peer, error: Error): void {
    if (peer.state === PeerState.Pending) {
      this.drop(peer, ScCloseCode.NotHandshaken, 'expected #handshake');
      return;
    }
    this.warnings.warn(`socket ${peer.id} from ${peer.remoteAddress}: ${error.name}: ${error.message}`);
  }

  private handleEvent(peer: Peer, packet: ScEventPacket): void {
    const { event, cid } = packet;
    if (event === ScEvent.Handshake) {
      this.handshake(peer, cid);
      return;
    }
    if (peer.state !== PeerState.Open) {
      this.drop(peer, ScCloseCode.NotHandshaken, 'expected #handshake');
      return;
    }
    switch (event) {
      case ScEvent.Publish:
        this.publish(peer, packet.data, cid);
        return;
      case ScEvent.Subscribe:
        this.subscribe(peer, packet.data, cid);
        return;
      case ScEvent.Unsubscribe:
        this.unsubscribe(peer, packet.data, cid);
        return;
      case HistoryProcedure.Fetch:
      case HistoryProcedure.Moves:
      case HistoryProcedure.Export:
      case HistoryProcedure.Import:
      case HistoryProcedure.Expect:
        this.historyProcedure(peer, event, packet.data, cid);
        return;
      default: {
        const error = new UnsupportedActionError(`a broker serves only #subscribe, #unsubscribe, #publish and the history procedures, not ${shortName(event)}`);
        if (cid !== undefined) this.queue(peer, encodeErrorResponse(cid, error));
        else this.warnings.warn(`socket ${peer.id} from ${peer.remoteAddress}: ${error.name}: ${error.message}`);
      }
    }
  }

  private handshake(peer: Peer, cid: number | undefined): void {
    if (cid === undefined) {
      this.warnings.warn(`socket ${peer.id} from ${peer.remoteAddress}: InvalidHandshakeError: #handshake without a cid`);
      this.drop(peer, ScCloseCode.HandshakeRejected, 'InvalidHandshakeError');
      return;
    }
    if (peer.state !== PeerState.Pending) {
      // A repeat would otherwise count the socket twice; refused and closed as harden.ts did.
      const error = new InvalidHandshakeError('this socket has already completed its handshake');
      this.queue(peer, encodeErrorResponse(cid, error));
      this.drop(peer, ScCloseCode.HandshakeRejected, error.name);
      return;
    }
    clearTimeout(peer.handshakeTimer);
    peer.handshakeTimer = undefined;
    peer.state = PeerState.Open;
    this.openCount += 1;
    const answer = { id: peer.id, pingTimeout: this.options.pingTimeoutMs, isAuthenticated: false };
    this.queue(peer, encodeResponse(cid, this.store === null ? answer : { ...answer, sccHistory: true }));
    if (this.connectionListeners.size > 0) this.connectionListeners.emit({ id: peer.id, remoteAddress: peer.remoteAddress }, this.logger);
  }

  private publish(peer: Peer, data: unknown, cid: number | undefined): void {
    const body = data !== null && typeof data === 'object' ? (data as { channel?: unknown; data?: unknown }) : undefined;
    const channel = body?.channel;
    const problem = body === undefined ? new InvalidChannelError('#publish needs {channel, data}') : channelProblem(channel, this.options.refuseChannel);
    if (problem) {
      if (cid !== undefined) this.queue(peer, encodeErrorResponse(cid, problem));
      else this.warnings.warn(`socket ${peer.id} from ${peer.remoteAddress}: ${problem.name}: ${problem.message}`);
      return;
    }
    if (this.store !== null && this.rules.isHistory(channel as string)) {
      this.publishHistory(peer, channel as string, body?.data, cid);
      return;
    }
    // Behind the relayed copies in this socket's queue: the answer proves they went first.
    this.answer(peer, cid, this.relay(channel as string, body?.data));
  }

  /** A publish on a history channel: positioned and stored, or held while the channel is pending. */
  private publishHistory(peer: Peer, channel: string, data: unknown, cid: number | undefined): void {
    const store = this.store as HistoryStore<HeldItem>;
    let packet: PreparedPacket | null;
    try {
      packet = preparePacket(data);
    } catch (error) {
      this.answer(peer, cid, this.unencodable(channel, error));
      return;
    }
    if (store.isPending(channel)) {
      if (store.hold(channel, { kind: 'publish', peer, cid, data, packet }, packet?.bytes ?? 0)) return;
      // Past the pending bound: a new epoch at once, then this packet.
      this.releasePending(channel);
    }
    this.deliver(peer, channel, data, packet, cid);
  }

  /** Relays a history channel's packet (positioned when prepared) and answers its publisher after it. */
  private deliver(peer: Peer, channel: string, data: unknown, packet: PreparedPacket | null, cid: number | undefined): void {
    if (packet === null) {
      this.answer(peer, cid, this.relay(channel, data));
      return;
    }
    const position = (this.store as HistoryStore<HeldItem>).append(channel, packet.messages, packet.lengths);
    this.fanOut(channel, data, positionedText(channel, packet, position));
    this.answer(peer, cid, null);
  }

  /** Ends a channel's pending state: what it held is positioned, relayed and answered in arrival order. */
  private releasePending(channel: string): void {
    const store = this.store;
    if (store === null) return;
    for (const item of store.release(channel)) {
      if (item.kind === 'publish') this.deliver(item.peer, channel, item.data, item.packet, item.cid);
      else this.answerFetch(item.peer, item.cid, channel, item.since, item.limit);
    }
  }

  /** Answers a publish: nothing without a cid, else an acknowledgement or the refusal. */
  private answer(peer: Peer, cid: number | undefined, failed: Error | null): void {
    if (cid !== undefined) this.queue(peer, failed === null ? encodeResponse(cid) : encodeErrorResponse(cid, failed));
  }

  private unencodable(channel: string, error: unknown): InvalidPayloadError {
    // JSON.parse takes nesting deeper than JSON.stringify's stack allows: such a packet is dropped.
    const refusal = new InvalidPayloadError(`the packet on ${shortName(channel)} cannot be encoded again: ${(error as Error).message}`, { cause: error });
    this.warnings.warn(`not relayed: ${refusal.name}: ${refusal.message}`);
    return refusal;
  }

  /**
   * The five history procedures (docs/history.md): answered `{rid, data}` or refused by name,
   * nothing changed by a refusal; without a cid, refused in a (rate-limited) warning.
   */
  private historyProcedure(peer: Peer, procedure: string, data: unknown, cid: number | undefined): void {
    if (cid === undefined) {
      this.warnings.warn(`socket ${peer.id} from ${peer.remoteAddress}: InvalidPayloadError: ${shortName(procedure)} without a cid`);
      return;
    }
    try {
      const store = this.store;
      if (store === null) throw new HistoryNotEnabledError('this broker keeps no history (SCC_HISTORY_CHANNELS is not set)');
      switch (procedure) {
        case HistoryProcedure.Fetch: {
          const { channel, since, limit } = parseFetchRequest(data, this.rules);
          if (store.isPending(channel)) {
            if (store.hold(channel, { kind: 'fetch', peer, cid, since, limit }, 0)) return;
            this.releasePending(channel);
          }
          this.answerFetch(peer, cid, channel, since, limit);
          return;
        }
        case HistoryProcedure.Moves: {
          const { brokers, self, mapping } = parseMovesRequest(data);
          const mapper = createMapper(mapping);
          mapper.setSites(brokers);
          this.queue(peer, encodeResponse(cid, { channels: store.moves((c) => mapper.findSite(c), self, MAX_HISTORY_MOVES) }));
          return;
        }
        case HistoryProcedure.Export: {
          const channel = parseExportRequest(data, this.rules);
          this.queue(peer, encodeResponse(cid, store.export(channel)));
          return;
        }
        case HistoryProcedure.Expect: {
          // A handover is about to move these here: each without state waits for its history (or the timeout).
          let pending = 0;
          for (const channel of parseExpectRequest(data, this.rules)) {
            if (store.has(channel) || store.isPending(channel)) continue;
            store.beginPending(channel, this.options.historyPendingTimeoutMs ?? HISTORY_PENDING_TIMEOUT_MS, (c) => this.releasePending(c));
            pending += 1;
          }
          this.queue(peer, encodeResponse(cid, { pending }));
          return;
        }
        default: {
          const { channel, state, lengths } = parseImportRequest(data, this.rules);
          const wasPending = store.isPending(channel);
          const adopted = store.import(channel, state, lengths);
          // What the channel held goes first, continuing the imported history.
          if (wasPending) this.releasePending(channel);
          this.queue(peer, encodeResponse(cid, { adopted }));
        }
      }
    } catch (error) {
      this.queue(peer, encodeErrorResponse(cid, error as Error));
    }
  }

  /** Answers a fetch with a page, or InvalidPositionError for a since beyond the newest offset. */
  private answerFetch(peer: Peer, cid: number, channel: string, since: Position | undefined, limit: number): void {
    try {
      this.queue(peer, encodeResponse(cid, (this.store as HistoryStore<HeldItem>).page(channel, since, limit)));
    } catch (error) {
      this.queue(peer, encodeErrorResponse(cid, error as Error));
    }
  }

  /** Encodes the publish once and queues the same text for every subscriber; the refusal if it cannot be encoded. */
  private relay(channel: string, data: unknown): InvalidPayloadError | null {
    const subscribers = this.table.subscribers(channel);
    let text: string | null = null;
    if (subscribers !== undefined) {
      try {
        text = encodePublishText(channel, encodeValue(data));
      } catch (error) {
        return this.unencodable(channel, error);
      }
    }
    this.fanOut(channel, data, text, subscribers);
    return null;
  }

  /** Queues `text` for every open subscriber (none: nothing was encoded, or nobody hears it) and tells the listeners. */
  private fanOut(channel: string, data: unknown, text: string | null, subscribers = this.table.subscribers(channel)): void {
    let count = 0;
    if (subscribers !== undefined && text !== null) {
      for (const subscriber of subscribers) {
        if (subscriber.state !== PeerState.Open) continue;
        this.queue(subscriber, text);
        count += 1;
      }
    }
    if (this.relayedListeners.size > 0) this.relayedListeners.emit({ channel, data, text: subscribers === undefined ? null : text, subscribers: count }, this.logger);
  }

  private subscribe(peer: Peer, data: unknown, cid: number | undefined): void {
    // socketcluster-server subscribes only on a request; a bare #subscribe changes nothing.
    if (cid === undefined) return;
    const channel = data !== null && typeof data === 'object' ? (data as { channel?: unknown }).channel : undefined;
    const problem = channelProblem(channel, this.options.refuseChannel);
    if (problem) {
      const shown = typeof channel === 'string' ? shortName(channel) : String(channel);
      // socketcluster-server's wording and name, which peers see.
      this.queue(peer, encodeErrorResponse(cid, new BrokerError(`Failed to subscribe socket to the ${shown} channel - ${problem.name}: ${problem.message}`)));
      return;
    }
    const name = channel as string;
    // A repeat changes nothing and is acknowledged, as by socketcluster-server.
    if (this.table.add(peer, name) && this.logger.isLevelEnabled('debug')) this.logger.debug(`${peer.remoteAddress} subscribed to ${shortName(name)}`);
    this.queue(peer, encodeResponse(cid));
  }

  private unsubscribe(peer: Peer, channel: unknown, cid: number | undefined): void {
    let error: Error | null = null;
    if (typeof channel !== 'string') {
      error = new InvalidChannelError(`#unsubscribe needs a channel name string, got ${channel === null ? 'null' : typeof channel}`);
    } else if (!this.table.remove(peer, channel)) {
      // socketcluster-server's wording and name (peers, and our probes, see it).
      error = new BrokerError(
        `Failed to unsubscribe socket from the ${shortName(channel)} channel - InvalidActionError: Socket ${peer.id} tried to unsubscribe from a channel which it is not subscribed to`,
      );
    }
    if (cid !== undefined) this.queue(peer, error === null ? encodeResponse(cid) : encodeErrorResponse(cid, error));
    else if (error !== null) this.warnings.warn(`socket ${peer.id} from ${peer.remoteAddress}: ${error.name}: ${error.message}`);
  }

  /** Queues a text for the socket; everything queued in this turn leaves as one frame. */
  private queue(peer: Peer, text: string): void {
    if (peer.state === PeerState.Closed) return;
    peer.outbound.push(text);
    if (peer.outbound.length === 1) {
      this.dirty.add(peer);
      this.flushScheduled ??= setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = undefined;
    for (const peer of this.dirty) this.flushPeer(peer);
    this.dirty.clear();
  }

  private flushPeer(peer: Peer): void {
    const texts = peer.outbound;
    if (texts.length === 0) return;
    peer.outbound = [];
    if (peer.ws.readyState !== peer.ws.OPEN) return;
    peer.ws.send(encodeBatch(texts));
    const { maxOutboundBufferBytes } = this.options;
    if (peer.ws.bufferedAmount > maxOutboundBufferBytes && peer.state !== PeerState.Closed) {
      const error = new SlowConsumerError(`outbound buffer passed ${maxOutboundBufferBytes} bytes`);
      this.warnings.warn(`closing socket ${peer.id} from ${peer.remoteAddress}: ${error.name}: ${error.message} (${peer.ws.bufferedAmount} bytes queued)`);
      // Nothing more is queued once closed; ws destroys the TCP socket if the peer never reads the close frame.
      this.drop(peer, SLOW_CONSUMER_CLOSE_CODE, error.name, false);
    }
  }

  /** Pings every socket (not batched: a ping carries no order) and drops the silent ones. */
  private ping(): void {
    const now = Date.now();
    for (const peer of this.peers) {
      if (peer.state !== PeerState.Open) continue;
      if (now - peer.lastHeardAt > this.options.pingTimeoutMs) {
        this.drop(peer, ScCloseCode.PingTimeout, 'ping timeout');
        continue;
      }
      if (peer.ws.readyState === peer.ws.OPEN) peer.ws.send(SC_PING);
    }
  }

  /**
   * Closes a socket: what it was queued in this turn goes first (a last answer is not lost),
   * unless `flush` is false (a slow consumer gets nothing more).
   */
  private drop(peer: Peer, code: number, reason: string, flush = true): void {
    if (peer.state === PeerState.Closed) return;
    if (flush) this.flushPeer(peer);
    this.forget(peer);
    peer.ws.close(code, reason);
  }

  /** Removes every trace of a socket (idempotent: close events follow drop()). */
  private forget(peer: Peer): void {
    if (peer.state === PeerState.Closed) return;
    if (peer.state === PeerState.Open) this.openCount -= 1;
    peer.state = PeerState.Closed;
    clearTimeout(peer.handshakeTimer);
    peer.outbound = [];
    this.peers.delete(peer);
    this.dirty.delete(peer);
    this.table.removeAll(peer);
  }

  /**
   * Closes every socket with `code` (1012 by default: workers reconnect elsewhere), stops taking
   * upgrades and removes the timers. Resolves when the sockets are closed or CLOSE_GRACE_MS has
   * passed. Safe to call twice.
   */
  close(code = 1012, reason = 'scc-broker shutting down'): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.pingTicker);
      this.store?.close();
      if (this.flushScheduled) clearImmediate(this.flushScheduled);
      this.flush();
      const sockets = [...this.peers].map((peer) => peer.ws);
      const closed = sockets.map((ws) => new Promise<void>((resolve) => (ws.readyState === ws.CLOSED ? resolve() : ws.once('close', () => resolve()))));
      for (const peer of [...this.peers]) this.drop(peer, code, reason, false);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(closed), new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
      clearTimeout(timer);
      for (const ws of sockets) if (ws.readyState !== ws.CLOSED) ws.terminate();
      await new Promise<void>((resolve) => this.wss.close(() => resolve()));
      this.relayedListeners.clear();
      this.channelEmptyListeners.clear();
      this.connectionListeners.clear();
    })();
    return this.closing;
  }
}
