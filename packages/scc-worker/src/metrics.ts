/**
 * scc-worker's Prometheus series. Everything is read at scrape time: client counts from
 * socketcluster-server, data-path counters from `ClusterClient.stats`, channel owners from the
 * plugin's public `ownerOf`. The only live hook is one listener of the broker engine's publishes
 * (`onEnginePublish`: messages published by local clients); the data-path files are not touched.
 */
import { Gauge } from 'prom-client';
import {
  SCC_TS_VERSION,
  counterFrom,
  createMetricsRegistry,
  drainingGauge,
  gaugeFrom,
  limitCounters,
  type AGServer,
  type LimitCounts,
  type MetricsRegistry,
} from '@scc-ts/shared';
import { onEnginePublish } from './broker-engine.js';
import type { ClusterClient } from './cluster/index.js';

export interface WorkerMetrics {
  readonly registry: MetricsRegistry;
  /** Ends the publish consumer. Safe to call twice. */
  close(): void;
}

export interface WorkerMetricsSources {
  agServer: AGServer;
  /** The cluster plugin; null in standalone mode. */
  cluster: () => ClusterClient | null;
  draining: () => boolean;
  /** What the server's ws engine refused (`hardenedServerOptions().wsEngine.counters`); without it, no limit series. */
  limits?: Readonly<LimitCounts>;
  /** Sockets the ws engine's heartbeat closed (`wsEngine.counters.pingTimeouts`); absent when socketcluster-server keeps the pings. */
  pingTimeouts?: () => number;
}

/** Builds the worker's registry: default Node metrics plus the `scc_worker_*` series. */
export function createWorkerMetrics(sources: WorkerMetricsSources): WorkerMetrics {
  const { agServer } = sources;
  const registry = createMetricsRegistry('scc-worker', SCC_TS_VERSION);
  const engine = agServer.brokerEngine;
  const stat = (key: keyof ClusterClient['stats']) => () => sources.cluster()?.stats[key] ?? 0;

  gaugeFrom(registry, 'scc_worker_client_connections', 'Open client sockets', () => agServer.clientsCount);
  gaugeFrom(registry, 'scc_worker_subscriptions', 'Channel subscriptions held by client sockets', () => {
    let total = 0;
    for (const socket of Object.values(agServer.clients)) total += socket.subscriptions().length;
    return total;
  });
  gaugeFrom(registry, 'scc_worker_channels', 'Channels with at least one local subscriber (carried upstream in cluster mode)', () => engine.subscriptions().length);
  new Gauge({
    name: 'scc_worker_broker_channels',
    help: 'Channels with local subscribers, by the broker that owns them under the current broker list',
    labelNames: ['broker'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const cluster = sources.cluster();
      if (!cluster) return;
      const counts = new Map<string, number>(cluster.brokerURIs().map((uri) => [uri, 0]));
      for (const channel of engine.subscriptions()) {
        const owner = cluster.ownerOf(channel);
        if (owner !== null) counts.set(owner, (counts.get(owner) ?? 0) + 1);
      }
      for (const [broker, n] of counts) this.set({ broker }, n);
    },
  });
  gaugeFrom(registry, 'scc_worker_brokers', 'Brokers in the broker list in use', () => sources.cluster()?.brokerURIs().length ?? 0);
  gaugeFrom(registry, 'scc_worker_workers', 'Workers in the last worker list', () => sources.cluster()?.workerURIs().length ?? 0);
  new Gauge({
    name: 'scc_worker_unreachable_brokers',
    help: 'Brokers of the list in use this worker cannot reach (1 per broker; reported to the state server)',
    labelNames: ['broker'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const broker of sources.cluster()?.unreachableBrokers() ?? []) this.set({ broker }, 1);
    },
  });
  gaugeFrom(registry, 'scc_worker_state_connected', '1 while joined to the state server, else 0', () => (sources.cluster()?.stateConnected ? 1 : 0));
  gaugeFrom(registry, 'scc_worker_ready', '1 while /ready answers 200, else 0', () => {
    const cluster = sources.cluster();
    return !sources.draining() && (cluster === null || cluster.readiness().ready) ? 1 : 0;
  });
  drainingGauge(registry, sources.draining);
  if (sources.limits) limitCounters(registry, 'scc_worker', sources.limits);
  if (sources.pingTimeouts) counterFrom(registry, 'scc_worker_ping_timeouts_total', 'Client sockets closed with 4001: nothing heard from them for the ping timeout', sources.pingTimeouts);

  // In cluster mode the plugin counts local publishes (ClusterStats.messagesPublished, also in its
  // sccStats reports); standalone, nobody else does, so this counts them.
  let standalonePublished = 0;
  counterFrom(
    registry,
    'scc_worker_messages_out_total',
    'Messages published by local clients (each is sent to the owning broker in cluster mode)',
    () => sources.cluster()?.stats.messagesPublished ?? standalonePublished,
  );
  counterFrom(registry, 'scc_worker_messages_in_total', 'Messages from other workers delivered to local subscribers', stat('messagesDelivered'));
  counterFrom(registry, 'scc_worker_packets_out_total', 'Packets published to brokers (one per message, or per batch)', stat('packetsOut'));
  counterFrom(registry, 'scc_worker_packets_in_total', 'Packets received from brokers (own packets included)', stat('packetsIn'));
  counterFrom(registry, 'scc_worker_publish_failures_total', 'Packets a broker did not acknowledge or that had no broker', stat('publishFailures'));
  counterFrom(registry, 'scc_worker_malformed_packets_total', 'Packets from brokers that failed the guard and were dropped', stat('malformedPackets'));
  counterFrom(registry, 'scc_worker_reshards_total', 'Broker lists applied (join replies and pushes)', stat('reshards'));
  counterFrom(registry, 'scc_worker_handovers_total', 'Switches of publishing to a new broker list', stat('handovers'));
  counterFrom(registry, 'scc_worker_messages_lost_total', 'Messages this worker gave up sending (at-most-once failure, or at-least-once retries exhausted)', stat('messagesLost'));
  counterFrom(registry, 'scc_worker_packets_missed_total', 'Packets from other workers that never arrived (gaps in their numbering past the reorder window)', stat('packetsMissed'));
  counterFrom(registry, 'scc_worker_duplicates_dropped_total', 'Packets received twice and dropped', stat('duplicatesDropped'));
  counterFrom(registry, 'scc_worker_publish_retries_total', 'At-least-once re-sends of packets', stat('publishRetries'));
  counterFrom(
    registry,
    'scc_worker_withdrawal_resends_total',
    'At-least-once packets re-sent because the state server withdrew the broker that acknowledged them',
    stat('withdrawalResends'),
  );
  counterFrom(registry, 'scc_worker_history_recovered_total', 'History subscriptions with a position whose replay was complete', stat('historyRecovered'));
  counterFrom(
    registry,
    'scc_worker_history_not_recovered_total',
    'History subscriptions that started without a complete replay (no position, epoch changed, too old, no history at the broker)',
    stat('historyNotRecovered'),
  );
  counterFrom(registry, 'scc_worker_history_replayed_messages_total', 'Messages replayed from history to recovering subscribers', stat('historyReplayed'));
  counterFrom(registry, 'scc_worker_history_refused_total', 'History subscriptions refused for a hostile position', stat('historyRefused'));

  const stop = onEnginePublish(engine, () => {
    if (sources.cluster() === null) standalonePublished += 1;
  });
  return { registry, close: stop };
}
