/**
 * The worker's connections to one broker: `clientPoolSize` socketcluster-clients with query
 * `authKey` and `poolIndex`. A channel always uses the same client, chosen by `hashToIndex` as the
 * original does, so its subscribe and its publishes share one ordered connection.
 */
import socketClusterClient from 'socketcluster-client';
import { hashToIndex, internalCodec, parseInstanceUri, type ClientSocket, type Logger, type TickBatcher } from '@scc-ts/shared';

export interface BrokerPoolOptions {
  uri: string;
  size: number;
  authKey: string | null;
  retryDelayMs: number;
  reconnectRandomnessMs: number;
  logger: Logger;
  /** Receives every packet the broker relays on a channel this pool subscribed. */
  onPacket: (channel: string, packet: unknown) => void;
  /** Combines what is sent on a connection in one event-loop turn into one frame; none sends each at once. */
  frames?: TickBatcher;
  /** Called when the pool goes down (a client lost its connection) or comes back (all connected). */
  onStatus?: (up: boolean) => void;
}

/** Channel of barrier publishes; no worker subscribes to it, so a broker relays them nowhere. */
const BARRIER_CHANNEL = 'scc-ts/barrier';

/** How long `subscribe()`'s promise waits for the broker's acknowledgement before giving up, ms. */
const SUBSCRIBE_ACK_WAIT_MS = 5000;

export class BrokerPool {
  readonly uri: string;
  private readonly clients: ClientSocket[] = [];
  private readonly options: BrokerPoolOptions;
  private closed = false;
  private up = false;

  constructor(options: BrokerPoolOptions) {
    this.options = options;
    this.uri = options.uri;
    const target = parseInstanceUri(options.uri);
    for (let poolIndex = 0; poolIndex < options.size; poolIndex++) {
      const client = socketClusterClient.create({
        hostname: target.hostname,
        port: target.port,
        secure: target.secure,
        // A fresh query object per client: the original shares one, so every client reports the last poolIndex.
        query: { authKey: options.authKey as string, poolIndex: String(poolIndex) },
        // The same JSON on the wire, without sc-formatter's per-value binary check (see codec.ts).
        codecEngine: internalCodec,
        autoReconnectOptions: {
          initialDelay: options.retryDelayMs,
          randomness: options.reconnectRandomnessMs,
          multiplier: 1,
          maxDelay: options.retryDelayMs + options.reconnectRandomnessMs,
        },
      });
      this.watch(client, poolIndex);
      this.receiveDirectly(client);
      this.clients.push(client);
    }
  }

  private watch(client: ClientSocket, poolIndex: number): void {
    const { logger } = this.options;
    void (async () => {
      for await (const { error } of client.listener('error')) {
        logger.warn(`broker ${this.uri} [${poolIndex}]: ${error.name}: ${error.message}`);
      }
    })();
    void (async () => {
      for await (const _ of client.listener('connect')) {
        logger.info(`connected to broker ${this.uri} [${poolIndex}]`);
        this.updateStatus();
      }
    })();
    void (async () => {
      for await (const _ of client.listener('close')) this.updateStatus();
    })();
  }

  /**
   * socketcluster-client hands each relayed packet to the channel's async stream (a promise and a
   * consumer step per packet, the largest cost of receiving); the pool takes every channel's packets
   * straight from the client's demultiplexer instead, synchronously and in arrival order. The
   * channels' streams are then never written to and need no consumer.
   */
  private receiveDirectly(client: ClientSocket): void {
    const demux = (client as unknown as { _channelDataDemux?: { write(channel: string, data: unknown): void } })._channelDataDemux;
    if (!demux || typeof demux.write !== 'function') throw new TypeError('socketcluster-client without a channel data demultiplexer: unsupported version');
    const { logger, onPacket } = this.options;
    demux.write = (channel, data) => {
      try {
        onPacket(channel, data);
      } catch (error) {
        // Never let a delivery problem unwind into the client's message handling.
        logger.error(`delivering a packet on ${channel} failed: ${(error as Error).stack ?? String(error)}`);
      }
    };
  }

  private updateStatus(): void {
    if (this.closed) return;
    const up = this.connected;
    if (up === this.up) return;
    this.up = up;
    this.options.onStatus?.(up);
  }

  private clientFor(channel: string): ClientSocket {
    return this.clients[hashToIndex(channel, this.clients.length)] as ClientSocket;
  }

  /** The channel's client, batching its frames for this turn when it is open. */
  private senderFor(channel: string): ClientSocket {
    const client = this.clientFor(channel);
    if (this.options.frames && client.state === client.OPEN) this.options.frames.touch(client);
    return client;
  }

  /** Whether every client of the pool is connected. */
  get connected(): boolean {
    return this.clients.every((c) => c.state === c.OPEN);
  }

  /** Whether the channel is subscribed (or pending) on this broker. */
  isSubscribed(channel: string): boolean {
    return this.clientFor(channel).isSubscribed(channel, true);
  }

  /**
   * Subscribes the channel on this broker (no-op if already subscribed). Resolves once the broker
   * has acknowledged the subscription, or after SUBSCRIBE_ACK_WAIT_MS (never rejects): callers use
   * it to know when packets published to this broker reach us.
   */
  subscribe(channel: string): Promise<void> {
    const client = this.clientFor(channel);
    if (client.isSubscribed(channel, false)) return Promise.resolve();
    if (!client.isSubscribed(channel, true)) client.subscribe(channel);
    const ag = client.channel(channel);
    return ag.listener('subscribe').once(SUBSCRIBE_ACK_WAIT_MS).then(
      () => undefined,
      () => undefined,
    );
  }

  /** Unsubscribes the channel here and ends its stream. */
  unsubscribe(channel: string): void {
    const client = this.clientFor(channel);
    void client.unsubscribe(channel);
    client.closeChannel(channel);
  }

  /** Channels subscribed or pending on this broker. */
  subscriptions(): string[] {
    return this.clients.flatMap((c) => c.subscriptions(true));
  }

  /** Publishes a packet; resolves when the broker acknowledges it (it has relayed the packet). */
  async publish(channel: string, packet: unknown): Promise<void> {
    await this.senderFor(channel).invokePublish(channel, packet);
  }

  /** Publishes a packet without asking for an acknowledgement (the broker sends no answer). */
  transmit(channel: string, packet: unknown): Promise<void> {
    return this.senderFor(channel).transmitPublish(channel, packet);
  }

  /**
   * Resolves once the broker has processed everything sent before on every client of the pool: an
   * acknowledged publish to a channel nobody subscribes, queued behind them on each connection.
   * Never rejects (a dead connection has nothing left to deliver).
   */
  barrier(): Promise<void> {
    return Promise.all(this.clients.map((client) => client.invokePublish(BARRIER_CHANNEL, null).catch(() => undefined))).then(() => undefined);
  }

  /** Disconnects every client and ends every channel stream. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const client of this.clients) {
      client.disconnect();
      client.closeAllChannels();
      client.closeAllListeners();
    }
  }
}
