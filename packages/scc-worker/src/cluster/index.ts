/**
 * The cluster plugin: `attach(agServer, options)` makes a socketcluster-server one worker of an
 * SCC cluster. This file only wires the stages together and closes them; each stage holds the next
 * one and a publish enters each file once:
 *
 *   local publish → broker engine 'publish' → outbound.ts (batch per channel, number `seq`,
 *   at-least-once re-sends) → router.ts (the owning broker; handover.ts decides the phases) →
 *   transport.ts (BrokerPool, broker-pool.ts) → broker relay → transport → inbound.ts (guard, skip
 *   own packets) → sequencer.ts → local-delivery.ts (broker engine `invokePublish`) → local subscribers.
 *
 * The control path: state-link.ts (the state server) → router.setBrokers / router.signal, and the
 * handover phases back to the state server. Counters live in one ClusterStats (stats.ts).
 *
 * History channels (docs/history.md) add recovery.ts between the engine and client sockets, and
 * positions.ts after the sequencer; they need the worker's own broker engine.
 */

/** Logged once by attach() when history channels are configured on a server without our broker engine. */
export const HISTORY_ENGINE_WARNING =
  'attach(): historyChannels needs the WorkerBrokerEngine of @scc-ts/scc-worker as the server\'s brokerEngine; history channels are served as plain channels';

function isRecoveryEngine(engine: unknown): engine is RecoveryEngine {
  const e = engine as Partial<RecoveryEngine> | null;
  return e !== null && typeof e === 'object' && 'history' in e && typeof e.addPlainSubscriber === 'function' && typeof e.encodePublish === 'function' && typeof e.sendEncoded === 'function';
}
import { EventEmitter } from 'node:events';
import {
  HistoryNotEnabledError,
  consume,
  historyMatcher,
  isServedByWsEngine,
  type HistoryPage,
  type ListenerConsumer,
  type AGServer,
  type Position,
  type Readiness,
  LogEvent,
} from '@scc-ts/shared';
import { onEnginePublish } from '../broker-engine.js';
import { BrokerPool } from './broker-pool.js';
import { Inbound } from './inbound.js';
import { resolveClusterOptions, type ClusterOptions, type ResolvedClusterOptions } from './options.js';
import { Outbound, type DeliveryMode } from './outbound.js';
import { Recovery, type RecoveryEngine } from './recovery.js';
import { Router, type ReshardSummary } from './router.js';
import type { Coordination } from './handover.js';
import { SubscribeGate } from './subscribe-gate.js';
import { WorkerStateLink, type AppliedList } from './state-link.js';
import { createClusterStats, type ClusterStats } from './stats.js';
import { workerStatsReport } from './stats-report.js';

export interface ClusterClientEvents {
  updateBrokers: [{ brokerURIs: string[] }];
  updateWorkers: [{ workerURIs: string[]; sourceWorkerURI: string | null }];
  reshard: [ReshardSummary];
}

/**
 * Logged once by attach() on a server not built with `workerServerOptions()` (its `httpServer` has
 * none of our ws engines).
 */
export const UNHARDENED_SERVER_WARNING =
  'attach(): this socketcluster-server was not built with workerServerOptions(), so it lacks the hardening and limits of scc-worker ' +
  '(refusal of prototype channel and event names, payload, connection and outbound-buffer limits); ' +
  'build it with socketClusterServer.attach(httpServer, workerServerOptions()) from @scc-ts/scc-worker';

/** A worker's membership in the cluster; returned by `attach`. */
export class ClusterClient extends EventEmitter<ClusterClientEvents> {
  readonly instanceId: string;
  readonly stats: ClusterStats = createClusterStats();
  private readonly options: Readonly<ResolvedClusterOptions>;
  private readonly outbound: Outbound;
  private readonly router: Router;
  private readonly inbound: Inbound;
  private readonly link: WorkerStateLink;
  private readonly stopConsumers: Array<() => void> = [];
  private workers: string[] = [];
  private selfURI: string | null = null;
  /** The broker list `updateBrokers` last announced (sorted, joined): a join reply and the push after it often carry the same one. */
  private announcedBrokers: string | null = null;
  private closing: Promise<void> | undefined;
  private readonly gate: SubscribeGate | undefined;
  private readonly recovery: Recovery | null = null;

  constructor(agServer: AGServer, options: ClusterOptions) {
    super();
    this.options = resolveClusterOptions(options);
    this.instanceId = this.options.instanceId;
    const { logger } = this.options;
    // Warned, not refused: an app switching from scc-broker-client by changing an import keeps
    // working, and is told once what its server lacks (the limits cannot be added after construction).
    if (!isServedByWsEngine(agServer.httpServer)) logger.warn(UNHARDENED_SERVER_WARNING);
    if (this.options.holdSubscribeAcks) {
      this.gate = new SubscribeGate(agServer, {
        ready: (channel) => this.subscriptionReady(channel),
        abandoned: (channel) => this.router.unsubscribe(channel),
      });
      // First: a refusal (ConfigError) leaves nothing running.
      this.gate.install();
    }
    const { stats } = this;
    const broker = agServer.brokerEngine;
    const wantsHistory = this.options.historyChannels.length > 0;
    const recoveryEngine = wantsHistory && isRecoveryEngine(broker) ? broker : null;
    if (wantsHistory && recoveryEngine === null) logger.warn(HISTORY_ENGINE_WARNING);
    const isHistory = recoveryEngine === null ? undefined : historyMatcher(this.options.historyChannels);

    // Built from the end of the path backwards, so each stage is given the next one.
    const inbound = new Inbound({
      instanceId: this.instanceId,
      engine: broker,
      reorderWindowMs: this.options.reorderWindow,
      ...(isHistory ? { isHistory } : {}),
      stats,
      logger,
    });
    const router = new Router({
      mappingEngine: this.options.mappingEngine,
      delayMs: this.options.handoverDelay,
      graceMs: this.options.handoverGrace,
      stats,
      logger,
      linkTimeoutMs: this.options.linkTimeout,
      onReachability: (unreachable) => this.link.reportLinks(unreachable),
      ...(isHistory ? { isHistory, carriesHistory: () => this.carriesHistory() } : {}),
      createTransport: (uri, onStatus) =>
        new BrokerPool({
          uri,
          size: this.options.clientPoolSize,
          authKey: this.options.authKey,
          retryDelayMs: this.options.brokerRetryDelay,
          reconnectRandomnessMs: this.options.stateServerReconnectRandomness,
          linkTimeoutMs: this.options.linkTimeout,
          logger,
          onPacket: inbound.receive,
          onStatus,
        }),
    });
    const mode = this.options.deliveryMode;
    const outbound = new Outbound({
      sender: this.instanceId,
      route: router,
      modeFor: typeof mode === 'function' ? mode : (): DeliveryMode => mode,
      batchMs: this.options.pubSubBatchDuration,
      batchIntervalMs: this.options.pubSubBatchInterval,
      retryTimeoutMs: this.options.publishRetryTimeout,
      stats,
      logger,
    });
    this.inbound = inbound;
    this.router = router;
    this.outbound = outbound;
    if (recoveryEngine !== null && isHistory) {
      this.recovery = new Recovery(agServer, recoveryEngine, { isHistory, fetch: (channel, since, limit) => router.historyPage(channel, since, limit), stats, logger });
      this.recovery.install();
    }
    this.link = new WorkerStateLink(this.options, {
      onBrokers: (uris, list) => this.applyBrokers(uris, list),
      currentBrokers: () => router.newestURIs(),
      unreachable: () => router.unreachable(),
      onHandoverSignal: (kind, time) => {
        void router.signal(kind, time).then((switched) => {
          if (switched) this.link.ackHandover(time, 'switched');
        });
      },
      onWorkers: (uris, selfURI) => {
        if (uris.length !== this.workers.length) logger.info({ event: LogEvent.WorkerList, workers: uris.length }, `worker list: ${uris.length} workers`);
        this.workers = uris;
        this.selfURI = selfURI ?? this.selfURI;
        this.emit('updateWorkers', { workerURIs: uris, sourceWorkerURI: selfURI });
      },
    }, () =>
      workerStatsReport({
        stats,
        connections: () => agServer.clientsCount,
        channels: () => broker.subscriptions(),
        links: () => router.links(),
        ownerOf: (channel) => router.ownerOf(channel),
      }),
    );

    // Channels subscribed before attach() are carried upstream too.
    for (const channel of broker.subscriptions()) void this.carry(channel);
    this.consume(broker.listener('subscribe').createConsumer(), ({ channel }: { channel: string }) => void this.carry(channel));
    this.consume(broker.listener('unsubscribe').createConsumer(), ({ channel }: { channel: string }) => {
      router.unsubscribe(channel);
      inbound.forgetChannel(channel);
    });
    // Our worker's engine calls back synchronously; any other engine through its publish stream.
    this.stopConsumers.push(
      onEnginePublish(broker, (channel, data) => {
        stats.messagesPublished += 1;
        outbound.publish(channel, data);
      }),
    );
    this.link.start();
  }

  /** Carries a locally subscribed channel upstream; a name the router refuses is logged, not thrown. */
  private carry(channel: string): Promise<void> {
    return this.router.subscribe(channel).catch((error: unknown) => {
      const err = error as Error;
      this.options.logger.warn(`channel not carried upstream: ${err.name}: ${err.message}`);
    });
  }

  // A consumer of our own (not `for await` over the shared listener) so close() can end exactly it.
  private consume<T>(consumer: ListenerConsumer<T>, handle: (value: T) => void): void {
    this.stopConsumers.push(consume(consumer, handle));
  }

  private applyBrokers(uris: string[], list: AppliedList): void {
    const { source } = list;
    const coordination: Coordination | undefined = list.coordinated ? { time: list.time } : undefined;
    const { summary, subscribed } = this.router.setBrokers(uris, {
      ...(coordination ? { coordination } : {}),
      withdrawn: list.withdrawn,
      coordinatedServer: list.ourStateServer,
    });
    if (list.withdrawn.length > 0) this.options.logger.info(`the state server withdrew ${list.withdrawn.join(', ')}: some worker cannot reach it`);
    if (coordination) {
      void subscribed.then((current) => {
        if (current) this.link.ackHandover(coordination.time, 'subscribed');
      });
    }
    const changes = [
      summary.added.length ? `+${summary.added.join(', +')}` : '',
      summary.removed.length ? `-${summary.removed.join(', -')}` : '',
    ].filter(Boolean).join(' ');
    this.options.logger.info(
      { event: LogEvent.BrokerList, brokers: summary.brokers, source },
      `broker list from ${source}: ${summary.brokers} brokers${changes ? ` (${changes})` : ''}; ${summary.moved} of ${summary.channels} channels moved`,
    );
    const announced = [...uris].sort().join(' ');
    if (announced !== this.announcedBrokers) {
      this.announcedBrokers = announced;
      this.emit('updateBrokers', { brokerURIs: uris });
    }
    this.emit('reshard', summary);
  }

  /**
   * Whether this worker carries history to new owners at a handover's release: the first of the
   * sorted worker list does (any worker that does not know the list or itself yet, too).
   */
  private carriesHistory(): boolean {
    if (this.selfURI === null || this.workers.length === 0) return true;
    return [...this.workers].sort()[0] === this.selfURI;
  }

  /**
   * A page of a history channel's history from its owner broker (docs/history.md): the last
   * `limit` messages (default 100, at most 1000), or those after `since`. Rejects with
   * HistoryNotEnabledError for a channel that keeps none, InvalidPositionError for a bad `since`,
   * HistoryUnavailableError when its broker keeps none.
   */
  history(channel: string, query: { limit?: number; since?: Position } = {}): Promise<HistoryPage> {
    if (this.recovery === null) return Promise.reject(new HistoryNotEnabledError('this worker has no history channels (historyChannels / SCC_HISTORY_CHANNELS)'));
    return this.recovery.history(channel, query);
  }

  /** Brokers of the list in use this worker cannot reach now (it reports them to our state server). */
  unreachableBrokers(): string[] {
    return this.router.unreachable();
  }

  /**
   * Resolves once `channel` is subscribed on every broker it needs (the brokers acknowledged), so a
   * subscription a client sees confirmed already hears messages published on any other worker.
   * Never rejects (at once after close(); a name the router refuses is logged and not carried). The
   * subscribe gate awaits it before acknowledging a client's subscription; a server with inbound
   * middleware of its own (`holdSubscribeAcks: false`) awaits it there.
   */
  subscriptionReady(channel: string): Promise<void> {
    return this.closing ? Promise.resolve() : this.carry(channel);
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
      this.recovery?.close();
      this.outbound.flush();
      await this.link.leave();
      await this.link.close();
      this.outbound.close();
      this.inbound.close();
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
export type { DeliveryMode } from './outbound.js';
export type { ClusterStats } from './stats.js';
