/**
 * Polls the front servers' health endpoints while a workload runs (GET /health-check everywhere,
 * /ready where served), one request in flight per endpoint, a new one every interval (at once when the
 * last took longer), and reports latency per endpoint. A request still unanswered when polling stops
 * counts with the time it has waited so far, so a starved event loop shows as a long latency, not as a
 * missing sample.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { HealthTarget } from './systems.js';
import { percentile, round } from './stats.js';

/** Poll period per endpoint, ms. */
export const HEALTH_POLL_INTERVAL_MS = 100;
/**
 * A request that takes longer is abandoned and counted as failed (with this latency), ms: long, so
 * that the max shows how long a starved event loop left the endpoint unanswered.
 */
const HEALTH_TIMEOUT_MS = 30_000;

export interface EndpointFigures {
  polls: number;
  /** Answers other than 200, errors and timeouts. */
  failures: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Keyed by `<role> <path>`, e.g. `worker-a /health-check`. */
export type HealthReport = Record<string, EndpointFigures>;

interface Endpoint {
  key: string;
  port: number;
  path: string;
  samples: number[];
  failures: number;
  inFlightSince?: number;
  done: Promise<void>;
}

export class HealthPoller {
  private running = true;
  private readonly endpoints: Endpoint[];
  /** Ends the pause or the request of each loop at once when polling stops. */
  private readonly wakers = new Set<() => void>();

  constructor(targets: readonly HealthTarget[]) {
    this.endpoints = targets.flatMap((t) => t.paths.map((path) => ({ key: `${t.role} ${path}`, port: t.port, path, samples: [], failures: 0, done: Promise.resolve() })));
    for (const e of this.endpoints) e.done = this.loop(e);
  }

  private async loop(e: Endpoint): Promise<void> {
    while (this.running) {
      const started = performance.now();
      e.inFlightSince = started;
      const ok = await this.get(e.port, e.path);
      e.inFlightSince = undefined;
      // Stopped meanwhile: stop() counted this request with its wait so far.
      if (!this.running) break;
      e.samples.push(performance.now() - started);
      if (!ok.status) e.failures += 1;
      const wait = HEALTH_POLL_INTERVAL_MS - (performance.now() - started);
      if (wait > 0 && this.running) {
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            clearTimeout(timer);
            this.wakers.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, wait);
          this.wakers.add(wake);
        });
      }
    }
  }

  private get(port: number, path: string): Promise<{ status: boolean }> {
    return new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: HEALTH_TIMEOUT_MS }, (res) => {
        res.resume();
        res.once('end', () => resolve({ status: res.statusCode === 200 }));
      });
      req.once('timeout', () => req.destroy(new Error('timeout')));
      const abort = (): void => void req.destroy();
      this.wakers.add(abort);
      req.once('error', () => resolve({ status: false }));
      // After 'end' this changes nothing; after an abort mid-response it settles the request.
      req.once('close', () => {
        this.wakers.delete(abort);
        resolve({ status: false });
      });
    });
  }

  /** Stops polling and reports; safe to call twice (the second report is the same). */
  async stop(): Promise<HealthReport> {
    if (this.running) {
      this.running = false;
      const now = performance.now();
      for (const e of this.endpoints) {
        if (e.inFlightSince !== undefined) {
          e.samples.push(now - e.inFlightSince);
          e.failures += 1;
        }
      }
      for (const wake of [...this.wakers]) wake();
      await Promise.all(this.endpoints.map((e) => e.done));
    }
    return Object.fromEntries(
      this.endpoints.map((e) => {
        const sorted = Float64Array.from(e.samples).sort();
        return [e.key, { polls: e.samples.length, failures: e.failures, p50Ms: round(percentile(sorted, 50)), p99Ms: round(percentile(sorted, 99)), maxMs: round(sorted.length ? sorted[sorted.length - 1]! : NaN) }];
      }),
    );
  }
}
