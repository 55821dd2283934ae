/**
 * scc-broker's Prometheus series. Gauges read the relay's counts at scrape time; the relay
 * counters come from one synchronous listener of the relay's relayed-packet event.
 */
import { Counter } from 'prom-client';
import { SCC_TS_VERSION, createMetricsRegistry, drainingGauge, gaugeFrom, handshakeRefusalCounter, type MetricsRegistry } from '@scc-ts/shared';
import type { Relay } from './relay.js';

export interface BrokerMetrics {
  readonly registry: MetricsRegistry;
  handshakeRefused(error: Error): void;
  /** Stops listening to the relay. Safe to call twice. */
  close(): void;
}

export interface BrokerMetricsSources {
  relay: Relay;
  joined: () => boolean;
  draining: () => boolean;
}

/** Subscriptions held by every socket (one per worker connection and channel). */
export function subscriptionCount(relay: Relay): number {
  return relay.subscriptionCount;
}

/** Builds the broker's registry: default Node metrics plus the `scc_broker_*` series. */
export function createBrokerMetrics(sources: BrokerMetricsSources): BrokerMetrics {
  const { relay } = sources;
  const registry = createMetricsRegistry('scc-broker', SCC_TS_VERSION);
  gaugeFrom(registry, 'scc_broker_connections', 'Open worker connections (sockets)', () => relay.connectionCount);
  gaugeFrom(registry, 'scc_broker_subscriptions', 'Channel subscriptions held by worker sockets', () => relay.subscriptionCount);
  gaugeFrom(registry, 'scc_broker_channels', 'Channels with at least one subscriber on this broker', () => relay.channelCount);
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
  const stop = relay.onRelayed(({ data, subscribers }) => {
    packetsIn.inc();
    const messages = (data as { messages?: unknown } | null)?.messages;
    if (Array.isArray(messages)) messagesIn.inc(messages.length);
    if (subscribers > 0) packetsOut.inc(subscribers);
  });

  return {
    registry,
    handshakeRefused,
    close: () => {
      stop();
    },
  };
}
