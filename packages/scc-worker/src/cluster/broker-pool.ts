/**
 * The worker's connections to one broker: `size` links (broker-link.ts, our own SocketCluster
 * client on `ws`) with query `authKey` and `poolIndex`. A channel always uses the same link,
 * chosen by `hashToIndex` as the original does, so its subscribe and its publishes share one
 * ordered connection.
 */
import { BARRIER_CHANNEL, BrokerQuery, NO_AUTH_KEY_QUERY_VALUE, SOCKETCLUSTER_PATH, ScEvent, hashToIndex, parseInstanceUri, type Logger } from '@scc-ts/shared';
import { BrokerLink } from './broker-link.js';

export interface BrokerPoolOptions {
  uri: string;
  size: number;
  authKey: string | null;
  retryDelayMs: number;
  reconnectRandomnessMs: number;
  logger: Logger;
  /** Receives every packet the broker relays on a channel this pool subscribed. */
  onPacket: (channel: string, packet: unknown) => void;
  /** Called when the pool goes down (a link lost its connection) or comes back (all connected). */
  onStatus?: (up: boolean) => void;
  /** How long a publish or barrier waits for the broker's answer, ms; default DEFAULT_LINK_ACK_TIMEOUT_MS (10000). */
  ackTimeoutMs?: number;
  /** Silence after which a link counts as dead, ms (see broker-link.ts). */
  linkTimeoutMs: number;
}

export class BrokerPool {
  readonly uri: string;
  private readonly links: BrokerLink[] = [];
  private readonly options: BrokerPoolOptions;
  private closed = false;
  private up = false;

  constructor(options: BrokerPoolOptions) {
    this.options = options;
    this.uri = options.uri;
    const target = parseInstanceUri(options.uri);
    const base = `${target.secure ? 'wss' : 'ws'}://${target.hostname}:${target.port}${SOCKETCLUSTER_PATH}`;
    for (let poolIndex = 0; poolIndex < options.size; poolIndex++) {
      // Each link its own poolIndex (the original shares one query object, so all report the last).
      const query = new URLSearchParams([
        [BrokerQuery.AuthKey, options.authKey ?? NO_AUTH_KEY_QUERY_VALUE],
        [BrokerQuery.PoolIndex, String(poolIndex)],
      ]);
      this.links.push(
        new BrokerLink({
          url: `${base}?${query.toString()}`,
          label: `broker ${options.uri} [${poolIndex}]`,
          retryDelayMs: options.retryDelayMs,
          reconnectRandomnessMs: options.reconnectRandomnessMs,
          linkTimeoutMs: options.linkTimeoutMs,
          ...(options.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: options.ackTimeoutMs }),
          logger: options.logger,
          onPacket: options.onPacket,
          onChange: () => this.updateStatus(),
        }),
      );
    }
  }

  /** A link opened or lost its connection: reports changes of the whole pool. */
  private updateStatus(): void {
    if (this.closed) return;
    const up = this.connected;
    if (up === this.up) return;
    this.up = up;
    this.options.onStatus?.(up);
  }

  /** The poolIndex of the link that carries `channel` (hashToIndex, as the original's pool). */
  poolIndexFor(channel: string): number {
    return hashToIndex(channel, this.links.length);
  }

  private linkFor(channel: string): BrokerLink {
    return this.links[this.poolIndexFor(channel)] as BrokerLink;
  }

  /** Whether every link of the pool is connected (handshake done). */
  get connected(): boolean {
    return this.links.every((link) => link.open);
  }

  /** Whether the channel is subscribed (or pending) on this broker. */
  isSubscribed(channel: string): boolean {
    return this.linkFor(channel).isSubscribed(channel, true);
  }

  /**
   * Subscribes the channel on this broker (no-op if already subscribed). Resolves once the broker
   * has acknowledged the subscription, or after SUBSCRIBE_ACK_WAIT_MS (never rejects): callers use
   * it to know when packets published to this broker reach us.
   */
  subscribe(channel: string): Promise<void> {
    return this.linkFor(channel).subscribe(channel);
  }

  /** Unsubscribes the channel here; its packets are no longer delivered. */
  unsubscribe(channel: string): void {
    this.linkFor(channel).unsubscribe(channel);
  }

  /** Channels subscribed or pending on this broker. */
  subscriptions(): string[] {
    return this.links.flatMap((link) => [...link.subscriptions.keys()]);
  }

  /** Whether the broker keeps channel history (it said so when the channel's link connected). */
  keepsHistory(channel: string): boolean {
    const link = this.linkFor(channel);
    return link.open && link.keepsHistory;
  }

  /** Calls one of the broker's procedures on the link that carries `channel`; resolves with its answer. */
  request(channel: string, procedure: string, data: unknown): Promise<unknown> {
    return this.linkFor(channel).invoke(procedure, data);
  }

  /** Publishes a packet; resolves when the broker acknowledges it (it has relayed the packet). */
  async publish(channel: string, packet: unknown): Promise<void> {
    await this.linkFor(channel).invoke(ScEvent.Publish, { channel, data: packet });
  }

  /** Publishes a packet without asking for an acknowledgement (the broker sends no answer). */
  transmit(channel: string, packet: unknown): Promise<void> {
    this.linkFor(channel).transmit(ScEvent.Publish, { channel, data: packet });
    return Promise.resolve();
  }

  /**
   * Resolves once the broker has processed everything sent before on every link of the pool: an
   * acknowledged publish to a channel nobody subscribes, queued behind them on each connection.
   * Never rejects, and does not wait for a link that is down: a lost connection has nothing left to
   * deliver (what it had queued is dropped with it), and a partitioned one would hold the barrier
   * for a whole ack timeout.
   */
  barrier(): Promise<void> {
    const acks = this.links.filter((link) => link.open).map((link) => link.invoke(ScEvent.Publish, { channel: BARRIER_CHANNEL, data: null }).catch(() => undefined));
    return Promise.all(acks).then(() => undefined);
  }

  /** How long the pool has been silent: the longest silence of its links (see BrokerLink.heardAt), ms. */
  silentMs(now: number): number {
    return Math.max(0, now - Math.min(...this.links.map((link) => link.heardAt)));
  }

  /** Disconnects every link and stops every timer. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links) link.close();
  }
}
