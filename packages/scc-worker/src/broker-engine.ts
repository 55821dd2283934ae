/**
 * The worker server's broker engine (socketcluster-server's documented `brokerEngine` option): an
 * ag-simple-broker subclass on a server we build ourselves, not a patch, so no other server or
 * broker engine changes. It does two things ag-simple-broker does not:
 *
 * - **Subscribe acks wait for the cluster.** `subscribeSocket` also awaits the cluster's upstream
 *   subscription, so a subscription a client sees acknowledged already hears every other worker.
 *   The cluster plugin's default for this (holdSubscribeAcks: an inbound middleware) costs every
 *   socket a middleware stream consumer (about 1.3 KB idle) and every inbound action a round
 *   through it; here the hold costs nothing until a subscribe. The worker attaches the plugin with
 *   `holdSubscribeAcks: false` and hands this engine `cluster.subscriptionReady`.
 *
 * - **Fan-out without a pipeline per subscriber.** ag-simple-broker hands every subscriber socket
 *   the packet through `socket.transmit`, which queues it on that socket's outbound stream, runs it
 *   through the (empty) outbound middleware and several promises before `send`: on a channel with
 *   thousands of subscribers that was most of a worker's CPU and most of its garbage. When the server
 *   has no outbound middleware (`hasMiddleware`), this engine encodes the packet once and calls each
 *   open socket's public `send` with the same text, exactly what socketcluster-server's own cached
 *   path ends in. With outbound middleware it uses `transmit` as ag-simple-broker does (the
 *   middleware may change or block each delivery). Large fan-outs are sent in slices of
 *   `FAN_OUT_SLICE_SOCKETS`, one slice per event-loop turn, so a broadcast to 10,000 sockets does
 *   not hold the loop for the whole of it: health checks, handshakes and pings are served between
 *   slices, and the first subscribers' frames leave before the last are queued. Publishes behind a
 *   sliced one wait for it (one FIFO), so every subscriber sees every channel's messages in order.
 *
 * Order with other traffic: a publish no longer queues behind packets a server's own code put on a
 * socket's outbound stream with `socket.transmit` in the same instant; publishes keep their order.
 *
 * - **History channels** (docs/history.md; only once the cluster's recovery stage sets `history`):
 *   a local publish is not delivered locally at once but when its owner broker relays it back with
 *   its position (`publishPositioned`), so every subscriber on every worker sees the same order. A
 *   socket subscribing such a channel is handed to the recovery stage, which learns from the
 *   subscription's options whether it wants plain data (then it joins the ordinary fan-out through
 *   `addPlainSubscriber`) or envelopes with positions and perhaps a replay first.
 */
import AGSimpleBroker from 'ag-simple-broker';
import { consume, type AGServer, type Position } from '@scc-ts/shared';
import type { PositionedPublisher } from './cluster/local-delivery.js';

/** Called synchronously with every publish that raises the `publish` event. */
export type PublishListener = (channel: string, data: unknown) => void;

/**
 * An engine's synchronous alternative to `listener('publish')`: the cluster plugin and the worker's
 * metrics take it where the engine has it (ours), saving each publish two async stream hops.
 */
export interface PublishHooks {
  /** Adds `listener`; returns its remover. */
  onPublish(listener: PublishListener): () => void;
}

/** A broker engine as `onEnginePublish` uses it: ag-simple-broker's publish stream. */
type PublishStreamEngine = Pick<AGServer['brokerEngine'], 'listener'>;

/**
 * Calls `listener` with every publish that raises the engine's `publish` event: through the
 * engine's `onPublish` where it has one (ours, synchronous), otherwise through its listener stream.
 * Returns the remover.
 */
export function onEnginePublish(engine: PublishStreamEngine, listener: PublishListener): () => void {
  const hooks = engine as Partial<PublishHooks>;
  if (typeof hooks.onPublish === 'function') return hooks.onPublish(listener);
  return consume(engine.listener('publish').createConsumer(), ({ channel, data }: { channel: string; data: unknown }) => listener(channel, data));
}

/** What the recovery stage (cluster/recovery.ts) takes over for history channels. */
export interface HistoryHooks {
  isHistory(channel: string): boolean;
  /** A socket subscribed a history channel: it is not a plain subscriber until the stage says so. */
  subscribed(socket: SubscriberSocket, channel: string): void;
  unsubscribed(socket: SubscriberSocket, channel: string): void;
  /** A message of a history channel, for the subscribers that are not plain. */
  positioned(channel: string, data: unknown, position: Position | null): void;
}

/** Resolves once a channel is subscribed upstream (never rejects). */
export type SubscriptionReady = (channel: string) => Promise<void>;

/** A subscriber socket, as the fan-out uses it (AGServerSocket's public members). */
export interface SubscriberSocket {
  readonly id: string;
  readonly state: string;
  readonly OPEN: string;
  readonly isBufferingBatch: boolean;
  send(data: string, options?: undefined): void;
  send(data: Buffer, options: { binary: false }): void;
  transmit(event: string, data: unknown, options?: unknown): Promise<void>;
}

/** Any other client of the broker (the server's exchange): it only has `transmit`. */
interface BrokerClient {
  readonly id: string;
  transmit(event: string, data: unknown, options?: unknown): unknown;
}

type Codec = Parameters<AGSimpleBroker['setCodecEngine']>[0];
interface PublishPacket {
  channel: string;
  data: unknown;
}

/**
 * Sockets one turn of a fan-out sends to. A send costs a few microseconds, so a slice holds the
 * event loop for a few milliseconds; frames are written between slices (the ws engine's per-turn flush).
 */
export const FAN_OUT_SLICE_SOCKETS = 1_000;

/**
 * Encoded publishes at least this long (UTF-16 code units) go to several sockets as one
 * shared Buffer: ws then writes the same bytes to every socket instead of measuring and copying the
 * string once per socket (a 10 KB broadcast to 10,000 sockets is 100 MB of copying saved).
 */
const SHARED_BUFFER_MIN_CHARS = 4_096;
/** ws's options for a text frame whose payload is a Buffer. */
const TEXT_FRAME = Object.freeze({ binary: false });

/** A fan-out still being sent: its packet encoded once, the subscribers it had when published. */
interface FanOut {
  readonly packet: PublishPacket;
  readonly text: string;
  /** What each socket is sent: `text`, or its bytes once for a long one. */
  readonly frame: string | Buffer;
  readonly targets: readonly SubscriberSocket[];
  next: number;
}

export interface WorkerBrokerEngineOptions {
  /** Sockets a fan-out sends to per event-loop turn (default `FAN_OUT_SLICE_SOCKETS`). */
  sliceSockets?: number;
}

export class WorkerBrokerEngine extends AGSimpleBroker implements PublishHooks, PositionedPublisher {
  private readonly sliceSockets: number;
  private publishListeners: readonly PublishListener[] = [];
  /** Set once the cluster plugin is attached; null in standalone mode (nothing to wait for). */
  ready: SubscriptionReady | null = null;
  /** Set by the cluster's recovery stage when history is on; null: no channel is a history channel. */
  history: HistoryHooks | null = null;
  private server: Pick<AGServer, 'hasMiddleware' | 'MIDDLEWARE_OUTBOUND'> | null = null;
  private codec: Codec | null = null;
  /** Subscriber sockets by channel (socketcluster-server subscribes each socket once per channel). */
  private readonly sockets = new Map<string, Set<SubscriberSocket>>();
  /** Other subscribed clients by channel (the server's exchange, subscribed by server code). */
  private readonly clients = new Map<string, Set<BrokerClient>>();
  /** Fan-outs not yet sent in full, oldest first. */
  private readonly queue: FanOut[] = [];
  private scheduled: NodeJS.Immediate | undefined;

  constructor(options: WorkerBrokerEngineOptions = {}) {
    super();
    this.sliceSockets = options.sliceSockets ?? FAN_OUT_SLICE_SOCKETS;
    if (!Number.isInteger(this.sliceSockets) || this.sliceSockets < 1) throw new RangeError(`sliceSockets must be an integer ≥ 1, got ${this.sliceSockets}`);
  }

  onPublish(listener: PublishListener): () => void {
    this.publishListeners = [...this.publishListeners, listener];
    return () => {
      this.publishListeners = this.publishListeners.filter((l) => l !== listener);
    };
  }

  /** The server this engine serves: its outbound middleware decides the fan-out path. */
  bindServer(server: Pick<AGServer, 'hasMiddleware' | 'MIDDLEWARE_OUTBOUND'>): void {
    this.server = server;
  }

  override setCodecEngine(codec: Codec): void {
    super.setCodecEngine(codec);
    this.codec = codec;
  }

  override async subscribeSocket(client: { id: string }, channelName: string): Promise<void> {
    // Ours first and synchronously, as ag-simple-broker registers: a publish right after the call
    // reaches the socket (a history channel's: held for it by the recovery stage).
    const socket = client as SubscriberSocket;
    const history = this.history !== null && this.history.isHistory(channelName);
    // A repeated subscribe of a plain subscriber keeps it plain.
    if (history && !(this.sockets.get(channelName)?.has(socket) ?? false)) this.history?.subscribed(socket, channelName);
    else add(this.sockets, channelName, socket);
    // Locally first (socketcluster-server counts the subscription only once this resolves), then
    // upstream: a local refusal never reaches the brokers.
    try {
      await super.subscribeSocket(client, channelName);
    } catch (error) {
      if (history) this.history?.unsubscribed(socket, channelName);
      throw error;
    }
    if (this.ready !== null) await this.ready(channelName);
  }

  override async unsubscribeSocket(client: { id: string }, channelName: string): Promise<void> {
    remove(this.sockets, channelName, client as SubscriberSocket);
    this.history?.unsubscribed(client as SubscriberSocket, channelName);
    await super.unsubscribeSocket(client, channelName);
  }

  override async subscribeClient(client: { id: string }, channelName: string): Promise<void> {
    add(this.clients, channelName, client as BrokerClient);
    await super.subscribeClient(client, channelName);
  }

  override async unsubscribeClient(client: { id: string }, channelName: string): Promise<void> {
    remove(this.clients, channelName, client as BrokerClient);
    await super.unsubscribeClient(client, channelName);
  }

  override invokePublish(channelName: string, data: unknown, suppressEvent?: boolean): Promise<void> {
    return this.transmitPublish(channelName, data, suppressEvent);
  }

  override async transmitPublish(channelName: string, data: unknown, suppressEvent?: boolean): Promise<void> {
    const packet: PublishPacket = { channel: channelName, data };
    const history = this.history !== null && this.history.isHistory(channelName);
    // A local publish on a history channel is delivered when its broker relays it back, positioned.
    if (!history || suppressEvent) this.deliverLocally(packet, history ? null : undefined);
    if (suppressEvent) return;
    for (const listener of this.publishListeners) {
      try {
        listener(channelName, data);
      } catch (error) {
        this.emit('error', { error });
      }
    }
    this.emit('publish', packet);
  }

  /** A history channel's message from its broker (never published upstream again). */
  publishPositioned(channelName: string, data: unknown, position: Position | null): void {
    this.deliverLocally({ channel: channelName, data }, position);
  }

  /**
   * To every local subscriber: plain sockets and server-side clients get the packet; with `position`
   * given (null included: a history channel's message without one) the recovery stage gets it for
   * the subscribers that asked for positions.
   */
  private deliverLocally(packet: PublishPacket, position: Position | null | undefined): void {
    const sockets = this.sockets.get(packet.channel);
    if (sockets !== undefined) this.fanOut(sockets, packet);
    const clients = this.clients.get(packet.channel);
    if (clients !== undefined) for (const client of clients) client.transmit('#publish', packet);
    if (position !== undefined) this.history?.positioned(packet.channel, packet.data, position);
  }

  /** Makes `socket` a plain subscriber of a history channel (the recovery stage found it wants plain data). */
  addPlainSubscriber(socket: SubscriberSocket, channelName: string): void {
    add(this.sockets, channelName, socket);
  }

  /**
   * Encodes `{event: '#publish', data: {channel, data}}` as the server's codec does; throws what the
   * codec throws (a value it cannot encode).
   */
  encodePublish(channelName: string, data: unknown): string {
    const packet = { event: '#publish', data: { channel: channelName, data } };
    return this.codec === null ? JSON.stringify(packet) : (this.codec.encode(packet) as string);
  }

  /** Sends an encoded packet to one socket as the fan-out does (nothing when it is not open). */
  sendEncoded(socket: SubscriberSocket, text: string, channelName: string, data: unknown): void {
    deliver(socket, text, text, { channel: channelName, data });
  }

  /** Sends every fan-out still queued, now (before the server closes its sockets). */
  flush(): void {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    while (this.queue.length > 0) this.sendSlice(Infinity);
  }

  private fanOut(sockets: ReadonlySet<SubscriberSocket>, packet: PublishPacket): void {
    let text: string | undefined;
    if (this.codec !== null) {
      try {
        text = this.codec.encode({ event: '#publish', data: packet }) as string;
      } catch (error) {
        // As ag-simple-broker: a message that cannot be encoded reaches nobody; the server logs it.
        this.emit('error', { error });
        return;
      }
    }
    const server = this.server;
    if (text === undefined || server === null || server.hasMiddleware(server.MIDDLEWARE_OUTBOUND)) {
      // ag-simple-broker's path: through each socket's outbound stream and middleware.
      const options = text === undefined ? undefined : { stringifiedData: text };
      for (const socket of sockets) void socket.transmit('#publish', packet, options);
      return;
    }
    const frame = text.length >= SHARED_BUFFER_MIN_CHARS && sockets.size > 1 ? Buffer.from(text) : text;
    if (this.queue.length === 0 && sockets.size <= this.sliceSockets) {
      for (const socket of sockets) deliver(socket, frame, text, packet);
      return;
    }
    // Big, or behind a big one: sliced, in order. The targets are the subscribers at publish time.
    this.queue.push({ packet, text, frame, targets: [...sockets], next: 0 });
    this.scheduled ??= setImmediate(this.continueFanOuts);
  }

  private readonly continueFanOuts = (): void => {
    this.scheduled = undefined;
    this.sendSlice(this.sliceSockets);
    if (this.queue.length > 0) this.scheduled = setImmediate(this.continueFanOuts);
  };

  /** Sends up to `budget` deliveries from the oldest fan-outs. */
  private sendSlice(budget: number): void {
    while (budget > 0 && this.queue.length > 0) {
      const job = this.queue[0]!;
      const end = Math.min(job.targets.length, job.next + budget);
      for (let i = job.next; i < end; i++) deliver(job.targets[i]!, job.frame, job.text, job.packet);
      budget -= end - job.next;
      job.next = end;
      if (end === job.targets.length) this.queue.shift();
    }
  }
}

/**
 * One delivery of an encoded publish: `send` on an open socket, as socketcluster-server's cached path
 * does; a socket buffering its own batch (`startBatch`) gets it through `transmit`, into that batch.
 * A socket no longer open is skipped (it is closing; socketcluster-server would only report that).
 */
function deliver(socket: SubscriberSocket, frame: string | Buffer, text: string, packet: PublishPacket): void {
  if (socket.state !== socket.OPEN) return;
  if (socket.isBufferingBatch) {
    void socket.transmit('#publish', packet, { stringifiedData: text });
    return;
  }
  if (typeof frame === 'string') socket.send(frame, undefined);
  else socket.send(frame, TEXT_FRAME);
}

function add<T>(table: Map<string, Set<T>>, channel: string, member: T): void {
  const members = table.get(channel);
  if (members === undefined) table.set(channel, new Set([member]));
  else members.add(member);
}

function remove<T>(table: Map<string, Set<T>>, channel: string, member: T): void {
  const members = table.get(channel);
  if (members === undefined) return;
  members.delete(member);
  if (members.size === 0) table.delete(channel);
}
