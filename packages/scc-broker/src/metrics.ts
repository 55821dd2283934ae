/**
 * scc-broker's Prometheus series. Gauges read socketcluster-server at scrape time; the relay
 * counters come from one extra consumer of the broker engine's `publish` event, so the relay path
 * itself is untouched.
 */
import { Counter } from 'prom-client';
import {
  SCC_TS_VERSION,
  consume,
  createMetricsRegistry,
  drainingGauge,
  gaugeFrom,
  handshakeRefusalCounter,
  type AGServer,
  type MetricsRegistry,
} from '@scc-ts/shared';

export interface BrokerMetrics {
  readonly registry: MetricsRegistry;
  handshakeRefused(error: Error): void;
  /** Ends the publish consumer. Safe to call twice. */
  close(): void;
}

export interface BrokerMetricsSources {
  agServer: AGServer;
  joined: () => boolean;
  draining: () => boolean;
}

/** The broker engine's per-channel subscriber counts (ag-simple-broker keeps them; absent elsewhere). */
type SubscriberCounts = { _clientSubscribersCounter?: Record<string, number> };

/** Subscriptions held by every socket (one per worker connection and channel). */
export function subscriptionCount(agServer: AGServer): number {
  let total = 0;
  for (const socket of Object.values(agServer.clients)) total += (socket as { channelSubscriptionsCount?: number }).channelSubscriptionsCount ?? 0;
  return total;
}

/** Builds the broker's registry: default Node metrics plus the `scc_broker_*` series. */
export function createBrokerMetrics(sources: BrokerMetricsSources): BrokerMetrics {
  const { agServer } = sources;
  const registry = createMetricsRegistry('scc-broker', SCC_TS_VERSION);
  const engine = agServer.brokerEngine;
  gaugeFrom(registry, 'scc_broker_connections', 'Open worker connections (sockets)', () => agServer.clientsCount);
  gaugeFrom(registry, 'scc_broker_subscriptions', 'Channel subscriptions held by worker sockets', () => subscriptionCount(agServer));
  gaugeFrom(registry, 'scc_broker_channels', 'Channels with at least one subscriber on this broker', () => engine.subscriptions().length);
  gaugeFrom(registry, 'scc_broker_joined', '1 while joined to the state server, else 0', () => (sources.joined() ? 1 : 0));
  drainingGauge(registry, sources.draining);
  const handshakeRefused = handshakeRefusalCounter(registry);

  const packetsIn = new Counter({ name: 'scc_broker_packets_in_total', help: 'Publish packets received from workers', registers: [registry] });
  const messagesIn = new Counter({
    name: 'scc_broker_messages_in_total',
    help: 'Messages inside the packets received (a batching worker sends several per packet)',
    registers: [registry],
  });
  const packetsOut = new Counter({
    name: 'scc_broker_packets_out_total',
    help: 'Packets relayed to subscribed worker sockets (one per subscriber per packet)',
    registers: [registry],
  });
  const counts = engine as unknown as SubscriberCounts;
  const stop = consume(engine.listener('publish').createConsumer(), (value) => {
    const { channel, data } = value as { channel: string; data: unknown };
    packetsIn.inc();
    const messages = (data as { messages?: unknown } | null)?.messages;
    if (Array.isArray(messages)) messagesIn.inc(messages.length);
    // Read a tick after the relay: a subscriber that left in between is not counted.
    packetsOut.inc(counts._clientSubscribersCounter?.[channel] ?? 0);
  });

  return {
    registry,
    handshakeRefused,
    close: stop,
  };
}
