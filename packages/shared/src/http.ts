/** Liveness and readiness endpoints every service serves on its HTTP port. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HEALTH_CHECK_PATH, READY_PATH } from './protocol.js';
import { METRICS_PATH, serveMetrics, type MetricsRegistry } from './metrics.js';

/** Readiness as a service reports it: `ready` plus a short reason when not. */
export interface Readiness {
  ready: boolean;
  detail?: string;
}

/**
 * Answers `GET /health-check` (200 `OK` while the process serves HTTP, as the originals do) and
 * `GET /ready` (200 when `readiness()` says so, 503 with the reason otherwise) and, given a
 * registry, `GET /metrics` (Prometheus text exposition). Returns false for any other request so the
 * caller can route it.
 */
export function handleHealthRequest(
  req: IncomingMessage,
  res: ServerResponse,
  readiness?: () => Readiness,
  metrics?: MetricsRegistry,
): boolean {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path === HEALTH_CHECK_PATH) {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('OK');
    return true;
  }
  if (path === READY_PATH) {
    const state = readiness ? readiness() : { ready: true };
    res.writeHead(state.ready ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify(state));
    return true;
  }
  if (path === METRICS_PATH && metrics) {
    serveMetrics(metrics, res);
    return true;
  }
  return false;
}

/** Sends a plain 404. */
export function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('Not found');
}
