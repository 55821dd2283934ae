/**
 * scc-broker's Prometheus series. Gauges read the relay's counts at scrape time; the relay totals
 * (RelayTotals) are counted by one synchronous listener of the relay's relayed-packet event, and
 * both /metrics and the `sccStats` reports to the state server read them. The history series read
 * the relay's history store (all 0 when history is off).
 */
import { Counter } from 'prom-client';
import { SCC_TS_VERSION, counterFrom, createMetricsRegistry, drainingGauge, gaugeFrom, handshakeRefusalCounter, type MetricsRegistry } from '@scc-ts/shared';
import type { Relay } from './relay.js';

/** What the relay has carried since the broker started. */
export interface RelayTotals {
  /** Publish packets received from workers. */
  packetsIn: number;
  /** Messages inside those packets (a batching worker sends several per packet). */
  messagesIn: number;
  /** Packets relayed to subscribed worker sockets (one per subscriber per packet). */
  packetsOut: number;
  /** Messages inside the packets relayed (a packet's messages once per subscriber). */
  messagesOut: number;
}

export interface BrokerMetrics {
  readonly registry: MetricsRegistry;
  /** The relay's totals as they stand (read, not copied: do not modify). */
  readonly totals: Readonly<RelayTotals>;
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

  const totals: RelayTotals = { packetsIn: 0, messagesIn: 0, packetsOut: 0, messagesOut: 0 };
  counterFrom(registry, 'scc_broker_packets_in_total', 'Publish packets received from workers', () => totals.packetsIn);
  counterFrom(registry, 'scc_broker_messages_in_total', 'Messages inside the packets received (a batching worker sends several per packet)', () => totals.messagesIn);
  counterFrom(registry, 'scc_broker_packets_out_total', 'Packets relayed to subscribed worker sockets (one per subscriber per packet)', () => totals.packetsOut);
  counterFrom(registry, 'scc_broker_messages_out_total', 'Messages inside the packets relayed (once per subscriber)', () => totals.messagesOut);
  historyMetrics(registry, relay);
  const stop = relay.onRelayed(({ data, subscribers }) => {
    totals.packetsIn += 1;
    const messages = (data as { messages?: unknown } | null)?.messages;
    if (Array.isArray(messages)) {
      totals.messagesIn += messages.length;
      totals.messagesOut += messages.length * subscribers;
    }
    totals.packetsOut += subscribers;
  });

  return {
    registry,
    totals,
    handshakeRefused,
    close: () => {
      stop();
    },
  };
}

/** Eviction reasons, each a series from the start. */
const EVICTION_REASONS = ['size', 'bytes', 'total', 'ttl'] as const;

/** `scc_broker_history_*`: what the store holds, its byte bound, and what it evicted by reason. */
function historyMetrics(registry: MetricsRegistry, relay: Relay): void {
  const counts = () => relay.history?.counts;
  gaugeFrom(registry, 'scc_broker_history_channels', 'Channels with a history kept on this broker', () => counts()?.channels ?? 0);
  gaugeFrom(registry, 'scc_broker_history_messages', 'History messages kept on this broker', () => counts()?.messages ?? 0);
  gaugeFrom(registry, 'scc_broker_history_bytes', 'Bytes (encoded messages) of history kept on this broker', () => counts()?.bytes ?? 0);
  gaugeFrom(registry, 'scc_broker_history_limit_bytes', 'Most bytes of history kept over all channels (SCC_HISTORY_MAX_BYTES; 0 when history is off)', () => relay.history?.bounds.maxBytes ?? 0);
  new Counter({
    name: 'scc_broker_history_evicted_total',
    help: 'History messages evicted, by reason: size (SCC_HISTORY_SIZE), bytes (per channel), total (SCC_HISTORY_MAX_BYTES), ttl',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const evicted = counts()?.evicted;
      for (const reason of EVICTION_REASONS) this.inc({ reason }, evicted?.[reason] ?? 0);
    },
  });
}
