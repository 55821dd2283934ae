/**
 * The live side of the /cluster dashboard: server-sent events at `GET /cluster/events`. Each
 * watching browser gets the cluster view (ClusterSnapshot, as /cluster.json) at once and then every
 * `intervalMs`; the snapshot is built once per tick for all of them, and only while at least one
 * watches (no timer runs otherwise). At most `maxClients` watch at once; more are refused with 503
 * and the reason. A browser that cannot keep up (MAX_BUFFERED_BYTES unsent) is dropped; its
 * EventSource reconnects by itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@scc-ts/shared';

export const DASHBOARD_EVENTS_PATH = '/cluster/events';

/** What an EventSource waits before reconnecting after the stream ends, ms (sent as `retry:`). */
const RECONNECT_DELAY_MS = 2000;
/**
 * Unsent bytes past which a watching browser is dropped: a few snapshots (about 10 KiB for a small
 * cluster, 600 KiB for 20 brokers and 200 workers), so one slow tick is forgiven, a stalled reader is not.
 */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Seconds a refused browser is asked to wait (`Retry-After`). */
const RETRY_AFTER_S = 10;

export interface DashboardOptions {
  /** Time between two updates, ms (`SCC_STATE_DASHBOARD_INTERVAL`). */
  intervalMs: number;
  /** Most browsers watching at once (`SCC_STATE_DASHBOARD_MAX_CLIENTS`). */
  maxClients: number;
  /** The view to send (built once per tick). */
  snapshot: () => unknown;
  logger: Logger;
}

export class Dashboard {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: DashboardOptions) {}

  /** Browsers watching now. */
  get clientCount(): number {
    return this.clients.size;
  }

  /** Serves `/cluster/events`; returns false for other paths. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if ((req.url ?? '/').split('?', 1)[0] !== DASHBOARD_EVENTS_PATH) return false;
    const refuse = (status: number, reason: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
      res.end(reason);
    };
    if (req.method !== 'GET') {
      refuse(405, 'only GET is served here', { Allow: 'GET' });
      return true;
    }
    if (this.closed) {
      refuse(503, 'scc-state is shutting down');
      return true;
    }
    if (this.clients.size >= this.options.maxClients) {
      refuse(503, `too many dashboard clients: at most ${this.options.maxClients} may watch at once (SCC_STATE_DASHBOARD_MAX_CLIENTS)`, {
        'Retry-After': String(RETRY_AFTER_S),
      });
      return true;
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      Connection: 'keep-alive',
    });
    res.write(`retry: ${RECONNECT_DELAY_MS}\n\n`);
    this.clients.add(res);
    res.on('close', () => this.drop(res));
    this.send([res], this.event());
    this.timer ??= setInterval(() => this.tick(), this.options.intervalMs);
    return true;
  }

  private event(): string {
    return `data: ${JSON.stringify(this.options.snapshot())}\n\n`;
  }

  private tick(): void {
    if (this.clients.size === 0) return this.stop();
    this.send([...this.clients], this.event());
  }

  private send(targets: ServerResponse[], event: string): void {
    for (const res of targets) {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        this.options.logger.info(`dropped a dashboard client that did not keep up (${res.writableLength} bytes unsent)`);
        res.destroy();
        this.drop(res);
        continue;
      }
      res.write(event);
    }
  }

  private drop(res: ServerResponse): void {
    this.clients.delete(res);
    if (this.clients.size === 0) this.stop();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Ends every stream and stops the timer; later requests get 503. Safe to call twice. */
  close(): void {
    this.closed = true;
    this.stop();
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}
