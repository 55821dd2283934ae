/**
 * Which brokers of this worker's lists it cannot reach right now. A broker is unreachable when its
 * connection dropped (a crash, or a link silent past the link timeout: broker-link.ts) or when it
 * never connected within one link timeout of being named (a partition that predates the broker's
 * join). The set is what the worker reports to our state server (`sccWorkerLinks`), which withdraws
 * such a broker from everyone's list; each change is logged once, with a stable `event`.
 */
import { LogEvent, type Logger } from '@scc-ts/shared';

/** Why a broker that was never connected counts as unreachable. */
const NEVER_CONNECTED = 'never connected';

export interface ReachabilityOptions {
  /** How long a new broker may take to connect before it counts as unreachable, ms. */
  linkTimeoutMs: number;
  logger: Logger;
  /** The set changed: the brokers unreachable now. */
  onChange(unreachable: string[]): void;
  /** Whether the broker is connected right now (asked when its first link timeout ends). */
  isConnected(uri: string): boolean;
}

/** The unreachable brokers, with when each became so. */
export class Reachability {
  /**
   * Unreachable brokers: when they were found so (clock ms), and whether they had been heard before
   * (a lost connection) or never (no connection within the first link timeout).
   */
  private readonly unreachable = new Map<string, { since: number; heard: boolean }>();
  /** Brokers named but not yet connected, with the timer that gives them one link timeout. */
  private readonly firstConnect = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly options: ReachabilityOptions) {}

  /** A broker was named (its transport made): it has one link timeout to connect. */
  track(uri: string): void {
    if (this.closed || this.firstConnect.has(uri)) return;
    const timer = setTimeout(() => {
      this.firstConnect.delete(uri);
      if (!this.options.isConnected(uri)) this.down(uri, this.options.linkTimeoutMs, NEVER_CONNECTED);
    }, this.options.linkTimeoutMs);
    timer.unref();
    this.firstConnect.set(uri, timer);
  }

  /**
   * The broker's connection is gone; `silentMs`: how long it had heard nothing. `leaving`: the newest
   * list no longer names it (it drains or left), so this is expected and logged as info, not a warning.
   */
  down(uri: string, silentMs: number, why = 'connection lost', leaving = false): void {
    if (this.closed || this.unreachable.has(uri)) return;
    this.stopFirstConnect(uri);
    this.unreachable.set(uri, { since: Date.now(), heard: why !== NEVER_CONNECTED });
    const fields = { event: LogEvent.BrokerUnreachable, broker: uri, silentMs };
    const line = `broker ${uri} is unreachable (${why}, silent for ${silentMs} ms)`;
    if (leaving) this.options.logger.info(fields, `${line}; it is leaving the list`);
    else this.options.logger.warn(fields, line);
    this.options.onChange(this.list());
  }

  /** The broker's connections are all up. */
  up(uri: string): void {
    this.stopFirstConnect(uri);
    const entry = this.unreachable.get(uri);
    if (this.closed || entry === undefined) return;
    this.unreachable.delete(uri);
    const unreachableMs = Date.now() - entry.since;
    this.options.logger.info({ event: LogEvent.BrokerReachable, broker: uri, unreachableMs }, `broker ${uri} is reachable again after ${unreachableMs} ms`);
    this.options.onChange(this.list());
  }

  /** No list names the broker any more. */
  forget(uri: string): void {
    this.stopFirstConnect(uri);
    if (this.unreachable.delete(uri) && !this.closed) this.options.onChange(this.list());
  }

  /** The brokers unreachable now. */
  list(): string[] {
    return [...this.unreachable.keys()];
  }

  /** When the broker's connection was lost (clock ms), while it is; undefined when up or never connected. */
  lostAt(uri: string): number | undefined {
    const entry = this.unreachable.get(uri);
    return entry?.heard ? entry.since : undefined;
  }

  private stopFirstConnect(uri: string): void {
    clearTimeout(this.firstConnect.get(uri));
    this.firstConnect.delete(uri);
  }

  /** Stops every timer; nothing is reported afterwards. Safe to call twice. */
  close(): void {
    this.closed = true;
    for (const timer of this.firstConnect.values()) clearTimeout(timer);
    this.firstConnect.clear();
  }
}
