/**
 * The cluster plugin: `attach(agServer, options)` makes a socketcluster-server one worker of an
 * SCC cluster. The data path, one step per file:
 *   local publish → brokerEngine 'publish' → (batcher) → router.publish → broker-pool → broker;
 *   broker → broker-pool packet → deliver() → brokerEngine.invokePublish → local subscribers.
 */
import { EventEmitter } from 'node:events';
import { consume, parsePublishPacket, type ListenerConsumer, type AGServer, type Readiness, LogEvent } from '@scc-ts/shared';
import { BrokerPool } from './broker-pool.js';
import { PublishBatcher } from './batcher.js';
import { resolveClusterOptions, type ClusterOptions, type ResolvedClusterOptions } from './options.js';
import { Publisher, type DeliveryMode } from './publisher.js';
import { Router, type Coordination, type ReshardSummary } from './router.js';
import { Sequencer } from './sequencer.js';
import { SubscribeGate } from './subscribe-gate.js';
import { WorkerStateLink } from './state-link.js';

/** Counters of the data path (exported as metrics by the worker). */
export interface ClusterStats {
  /** Packets sent to brokers. */
  packetsOut: number;
  /** Packets received from brokers (own packets included). */
  packetsIn: number;
  /** Messages delivered locally from other workers. */
  messagesDelivered: number;
  /** Packets a broker did not acknowledge or that had no broker; their messages may be lost. */
  publishFailures: number;
  /** Packets from brokers that failed the guard and were dropped. */
  malformedPackets: number;
  reshards: number;
  /** Messages this worker gave up sending (at-most-once failure, or at-least-once retries ran out). */
  messagesLost: number;
  /** Packets from other workers that never arrived (gaps in their numbering past the reorder window). */
  packetsMissed: number;
  /** Packets received twice and dropped. */
  duplicatesDropped: number;
  /** At-least-once re-sends. */
  publishRetries: number;
  /** Times publishing switched to a new broker list. */
  handovers: number;
}

export interface ClusterClientEvents {
  updateBrokers: [{ brokerURIs: string[] }];
  updateWorkers: [{ workerURIs: string[]; sourceWorkerURI: string | null }];
  reshard: [ReshardSummary];
}

/** Interval at which repeated warnings of one kind are summarised, ms. */
const WARN_INTERVAL_MS = 5000;
/** At-least-once: pause before re-sending a failed packet, ms (the router has routed around a dead broker by then). */
const PUBLISH_RETRY_DELAY_MS = 50;
/**
 * At-least-once: how long an acknowledged packet is kept for a re-send should its broker die, ms.
 * A broker acknowledges once it has queued the relay, not once the subscriber has it: under load its
 * outbound queue to a worker can hold seconds of traffic, which a kill throws away.
 */
const ACKED_PACKET_LINGER_MS = 5000;
/** At-least-once: most packets awaiting a re-send at once. */
const MAX_RETRYING_PACKETS = 100_000;

/** A worker's membership in the cluster; returned by `attach`. */
export class ClusterClient extends EventEmitter<ClusterClientEvents> {
  readonly instanceId: string;
  readonly stats: ClusterStats = {
    packetsOut: 0,
    packetsIn: 0,
    messagesDelivered: 0,
    publishFailures: 0,
    malformedPackets: 0,
    reshards: 0,
    messagesLost: 0,
    packetsMissed: 0,
    duplicatesDropped: 0,
    publishRetries: 0,
    handovers: 0,
  };
  private readonly options: Readonly<ResolvedClusterOptions>;
  private readonly agServer: AGServer;
  private readonly router: Router;
  private readonly link: WorkerStateLink;
  private readonly batcher: PublishBatcher | null;
  private readonly publisher: Publisher;
  private readonly sequencer: Sequencer;
  private readonly stopConsumers: Array<() => void> = [];
  private workers: string[] = [];
  private selfURI: string | null = null;
  private readonly warned = new Map<string, { at: number; suppressed: number }>();
  private closing: Promise<void> | undefined;
  private gate: SubscribeGate | undefined;

  constructor(agServer: AGServer, options: ClusterOptions) {
    super();
    this.options = resolveClusterOptions(options);
    this.agServer = agServer;
    this.instanceId = this.options.instanceId;
    const { logger } = this.options;
    if (this.options.holdSubscribeAcks) {
      this.gate = new SubscribeGate(agServer, {
        ready: (channel) => this.subscriptionReady(channel),
        abandoned: (channel) => this.router.unsubscribe(channel),
      });
      // First: a refusal (ConfigError) leaves nothing running.
      this.gate.install();
    }
    this.router = new Router({
      mappingEngine: this.options.mappingEngine,
      delayMs: this.options.handoverDelay,
      graceMs: this.options.handoverGrace,
      onPhase: (time, phase) => this.link.ackHandover(time, phase),
      onBrokerDown: (uri) => this.publisher.brokerDown(uri),
      onSwitch: (brokers) => {
        this.stats.handovers += 1;
        logger.info({ event: LogEvent.PublishingThrough, brokers: brokers.length }, `publishing through ${brokers.length} brokers of the new list`);
      },
      createPool: (uri) =>
        new BrokerPool({
          uri,
          size: this.options.clientPoolSize,
          authKey: this.options.authKey,
          retryDelayMs: this.options.brokerRetryDelay,
          reconnectRandomnessMs: this.options.stateServerReconnectRandomness,
          logger,
          onPacket: (channel, packet) => this.deliver(channel, packet),
          onStatus: (up) => {
            if (!up) logger.warn(`broker ${uri} is down: its channels go to the next broker until the state server decides`);
            this.router.setBrokerStatus(uri, up);
          },
        }),
    });
    const mode = this.options.deliveryMode;
    const modeFor = typeof mode === 'function' ? mode : (): DeliveryMode => mode;
    this.publisher = new Publisher({
      sender: this.instanceId,
      send: (channel, packet, strict) => {
        this.stats.packetsOut += 1;
        return this.router.publish(channel, packet, strict);
      },
      modeFor,
      retryDelayMs: PUBLISH_RETRY_DELAY_MS,
      retryTimeoutMs: this.options.publishRetryTimeout,
      lingerMs: ACKED_PACKET_LINGER_MS,
      maxRetrying: MAX_RETRYING_PACKETS,
      onRetry: () => {
        this.stats.publishRetries += 1;
      },
      onLost: (channel, count, err) => {
        this.stats.publishFailures += 1;
        this.stats.messagesLost += count;
        this.warnThrottled(`lost:${err.name}`, `publish to ${channel} failed, ${count} messages lost: ${err.name}: ${err.message}`);
      },
    });
    this.sequencer = new Sequencer({
      windowMs: this.options.reorderWindow,
      deliver: (channel, messages) => this.deliverMessages(channel, messages),
      onDuplicate: () => {
        this.stats.duplicatesDropped += 1;
      },
      onLoss: (channel, sender, from, to) => {
        this.stats.packetsMissed += to - from + 1;
        this.warnThrottled('missed', `missed ${to - from + 1} packets from worker ${sender} on ${channel} (seq ${from}..${to})`);
      },
    });
    const batchMs = this.options.pubSubBatchDuration;
    this.batcher =
      batchMs === null ? null : new PublishBatcher(batchMs, (channel, messages) => this.send(channel, messages), this.options.pubSubBatchInterval);
    this.link = new WorkerStateLink(this.options, {
      onBrokers: (uris, time, source, coordinated) => this.applyBrokers(uris, source, coordinated ? { time } : undefined),
      onHandoverSignal: (kind, time) => this.router.signal(kind, time),
      onWorkers: (uris, selfURI) => {
        if (uris.length !== this.workers.length) logger.info({ event: LogEvent.WorkerList, workers: uris.length }, `worker list: ${uris.length} workers`);
        this.workers = uris;
        this.selfURI = selfURI ?? this.selfURI;
        this.emit('updateWorkers', { workerURIs: uris, sourceWorkerURI: selfURI });
      },
    });

    const broker = agServer.brokerEngine;
    // Channels subscribed before attach() are carried upstream too.
    for (const channel of broker.subscriptions()) void this.router.subscribe(channel);
    this.consume(broker.listener('subscribe').createConsumer(), ({ channel }: { channel: string }) => void this.router.subscribe(channel));
    this.consume(broker.listener('unsubscribe').createConsumer(), ({ channel }: { channel: string }) => {
      this.router.unsubscribe(channel);
      this.sequencer.forgetChannel(channel);
    });
    this.consume(broker.listener('publish').createConsumer(), ({ channel, data: published }: { channel: string; data: unknown }) => {
      // A raw ArrayBuffer would encode as {} on the broker link (see internalCodec); a Buffer keeps its bytes.
      const data = published instanceof ArrayBuffer ? Buffer.from(published) : published;
      if (this.batcher) this.batcher.add(channel, data);
      else this.send(channel, [data]);
    });
    this.link.start();
  }

  // A consumer of our own (not `for await` over the shared listener) so close() can end exactly it.
  private consume<T>(consumer: ListenerConsumer<T>, handle: (value: T) => void): void {
    this.stopConsumers.push(consume(consumer, handle));
  }

  /**
   * Resolves once `channel` is subscribed on its brokers (never rejects; at once after close()).
   * The subscribe gate awaits it before acknowledging a client's subscription; a server with inbound
   * middleware of its own (`holdSubscribeAcks: false`) awaits it there.
   */
  subscriptionReady(channel: string): Promise<void> {
    return this.closing ? Promise.resolve() : this.router.subscribe(channel).then(() => undefined);
  }

  private applyBrokers(uris: string[], source: 'join' | 'push', coordination?: Coordination): void {
    const summary = this.router.setBrokers(uris, coordination);
    this.stats.reshards += 1;
    const { logger } = this.options;
    const changes = [
      summary.added.length ? `+${summary.added.join(', +')}` : '',
      summary.removed.length ? `-${summary.removed.join(', -')}` : '',
    ].filter(Boolean).join(' ');
    logger.info(
      { event: LogEvent.BrokerList, brokers: summary.brokers, source },
      `broker list from ${source}: ${summary.brokers} brokers${changes ? ` (${changes})` : ''}; ${summary.moved} of ${summary.channels} channels moved`,
    );
    this.emit('updateBrokers', { brokerURIs: uris });
    this.emit('reshard', summary);
  }

  /** Sends one packet of this worker's messages on a channel to its broker. */
  private send(channel: string, messages: unknown[]): void {
    this.publisher.publish(channel, messages);
  }

  /** Delivers a relayed packet to local subscribers, unless this worker sent it. */
  private deliver(channel: string, data: unknown): void {
    this.stats.packetsIn += 1;
    let packet;
    try {
      packet = parsePublishPacket(data);
    } catch (error) {
      this.stats.malformedPackets += 1;
      this.warnThrottled('malformed', `dropped a packet on ${channel}: ${(error as Error).message}`);
      return;
    }
    // Our own packets come back too (the broker relays to every subscriber); we delivered them locally already.
    if (packet.sender === this.instanceId) return;
    // Numbered packets (from our workers) go through the sequencer; an original worker's are delivered as they come.
    if (packet.seq !== undefined && packet.sender != null) this.sequencer.accept(channel, packet.sender, packet.seq, packet.messages);
    else this.deliverMessages(channel, packet.messages);
  }

  private deliverMessages(channel: string, messages: unknown[]): void {
    const broker = this.agServer.brokerEngine;
    for (const message of messages) {
      this.stats.messagesDelivered += 1;
      // suppressEvent: a relayed message must not be published upstream again.
      void broker.invokePublish(channel, message, true);
    }
  }

  private warnThrottled(key: string, message: string): void {
    const now = Date.now();
    const entry = this.warned.get(key);
    if (entry && now - entry.at < WARN_INTERVAL_MS) {
      entry.suppressed += 1;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.warned.set(key, { at: now, suppressed: 0 });
    this.options.logger.warn(suppressed > 0 ? `${message} (+${suppressed} similar in the last ${WARN_INTERVAL_MS} ms)` : message);
  }

  /** Broker URIs in use. */
  brokerURIs(): string[] {
    return this.router.brokerURIs();
  }

  /** Worker URIs from the last worker list. */
  workerURIs(): readonly string[] {
    return this.workers;
  }

  /** This worker's URI as the state server names it (known after the first join). */
  get uri(): string | null {
    return this.selfURI;
  }

  /** The broker URI that owns `channel` now, or null without brokers. */
  ownerOf(channel: string): string | null {
    return this.router.ownerOf(channel);
  }

  /** Whether the state server link is joined right now. */
  get stateConnected(): boolean {
    return this.link.connected;
  }

  /**
   * Ready once joined at least once with a broker list and every broker link is up. Losing the state
   * server does not make a worker unready: pub/sub carries on with the last broker list.
   */
  readiness(): Readiness {
    if (!this.link.hasJoined) return { ready: false, detail: 'not yet joined to the state server' };
    if (this.router.brokerURIs().length === 0) return { ready: false, detail: 'the cluster has no brokers' };
    if (!this.router.connected) return { ready: false, detail: 'broker links are not all up' };
    return { ready: true };
  }

  /** Flushes batches, leaves the cluster, closes every link. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const stop of this.stopConsumers) stop();
      this.gate?.close();
      this.batcher?.close();
      await this.link.leave();
      await this.link.close();
      this.publisher.close();
      this.sequencer.close();
      this.router.close();
    })();
    return this.closing;
  }
}

/** Makes `agServer` a worker of an SCC cluster. Throws ConfigError on invalid options. */
export function attach(agServer: AGServer, options: ClusterOptions): ClusterClient {
  return new ClusterClient(agServer, options);
}

export type { ClusterOptions, ResolvedClusterOptions } from './options.js';
export type { ReshardSummary } from './router.js';
export type { DeliveryMode } from './publisher.js';
