/**
 * Prometheus metrics plumbing shared by the three services. Each service builds its own Registry
 * (never prom-client's global one), so several services or attach() calls in one process do not
 * clash. Series read the services' own counters at scrape time through `collect` callbacks: the
 * data path keeps plain numbers and pays nothing per message for metrics.
 */
import type { ServerResponse } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export type { Registry as MetricsRegistry } from 'prom-client';

/** Path of the Prometheus scrape endpoint every service serves on its HTTP port. */
export const METRICS_PATH = '/metrics';

/**
 * A fresh registry with the default Node.js metrics (`process_*`, `nodejs_*`, event-loop lag
 * included as `nodejs_eventloop_lag_seconds` and its percentiles) and `scc_info{service,version}`.
 */
export function createMetricsRegistry(service: string, version: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const info = new Gauge({
    name: 'scc_info',
    help: 'Always 1; labels name the service and its version',
    labelNames: ['service', 'version'] as const,
    registers: [registry],
  });
  info.set({ service, version }, 1);
  return registry;
}

/** A gauge whose value is read at scrape time. */
export function gaugeFrom(registry: Registry, name: string, help: string, read: () => number): Gauge {
  return new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** A counter mirrored from a monotonic number the service keeps (e.g. `ClusterClient.stats`), read at scrape time. */
export function counterFrom(registry: Registry, name: string, help: string, read: () => number): Counter {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** What a front server's ws engine refused (`WsEngine.counters`), read at scrape time. */
export interface LimitCounts {
  connectionsRefused: number;
  slowConsumersClosed: number;
  repeatedHandshakesRefused: number;
}

/**
 * `<prefix>_connections_refused_total` (upgrades refused at SCC_MAX_CONNECTIONS, HTTP 503),
 * `<prefix>_slow_consumers_closed_total` (sockets closed with 4100 past SCC_MAX_OUTBOUND_BUFFER) and
 * `<prefix>_repeated_handshakes_refused_total`, from the engine's own counters.
 */
export function limitCounters(registry: Registry, prefix: string, counts: Readonly<LimitCounts>): void {
  counterFrom(registry, `${prefix}_connections_refused_total`, 'Upgrades refused at SCC_MAX_CONNECTIONS (HTTP 503)', () => counts.connectionsRefused);
  counterFrom(registry, `${prefix}_slow_consumers_closed_total`, 'Sockets closed with 4100 SlowConsumerError past SCC_MAX_OUTBOUND_BUFFER', () => counts.slowConsumersClosed);
  counterFrom(registry, `${prefix}_repeated_handshakes_refused_total`, 'Second #handshake on an open socket, refused and closed with 4008', () => counts.repeatedHandshakesRefused);
}

/** Label value of `scc_handshake_refusals_total{reason}` for a refusal error. */
export function refusalReason(error: Error): string {
  switch (error.name) {
    case 'BadClusterAuthError':
      return 'auth';
    case 'CompatibilityError':
      return 'version';
    case 'InvalidHandshakeError':
      return 'invalid_handshake';
    default:
      return 'other';
  }
}

/**
 * `scc_handshake_refusals_total{reason}` (auth, version, invalid_handshake, other); returns the
 * function to call with each refusal error. Every reason starts at 0 so the series exist before
 * the first refusal.
 */
export function handshakeRefusalCounter(registry: Registry): (error: Error) => void {
  const counter = new Counter({
    name: 'scc_handshake_refusals_total',
    help: 'Peers refused at the WebSocket upgrade or SocketCluster handshake, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of ['auth', 'version', 'invalid_handshake']) counter.inc({ reason }, 0);
  return (error) => counter.inc({ reason: refusalReason(error) });
}

/** `scc_draining`: 1 from the first SIGTERM/SIGINT until exit. */
export function drainingGauge(registry: Registry, draining: () => boolean): Gauge {
  return gaugeFrom(registry, 'scc_draining', '1 while the service drains before exiting, else 0', () => (draining() ? 1 : 0));
}

/**
 * prom-client 15 writes a NaN sample value as `Nan` (e.g. the event-loop lag mean before the first
 * measurement); the text format spells it `NaN`. Prometheus' own parser takes either, stricter
 * ones do not.
 */
export function spellNaN(body: string): string {
  return body.replace(/ Nan$/gm, ' NaN');
}

/** Answers a scrape with the registry's text exposition (500 if a collect callback throws). */
export function serveMetrics(registry: Registry, res: ServerResponse): void {
  registry.metrics().then(
    (body) => {
      res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' });
      res.end(spellNaN(body));
    },
    (error: unknown) => {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`metrics collection failed: ${String(error)}`);
    },
  );
}
