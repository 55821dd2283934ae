/**
 * The worker's `sccStats` report for the state server's dashboard (payloads.ts, StatsReport), read
 * from what the plugin already keeps: the server's client count, the broker engine's channels, the
 * ClusterStats totals and each broker pool's connection state. Nothing here counts traffic.
 */
import { MAX_STATS_LINKS, processFigures, type StatsLinkReport, type StatsReport } from '@scc-ts/shared';
import type { ClusterStats } from './stats.js';

/** What a link's health is read from (BrokerPool's public state). */
export interface HeardLink {
  /** Whether every connection to the broker is up. */
  readonly connected: boolean;
  /** When the broker was last heard, ms since the epoch. */
  readonly heardAt: number;
}

/** What one broker pool's health is read from. */
interface Tracked {
  pool: HeardLink;
  /** When the pool last went down, ms since the epoch; null while it has never been up. */
  downSince: number | null;
}

/** The up/down state and last-heard time of the worker's link to each broker. */
export class LinkHealth {
  private readonly pools = new Map<string, Tracked>();

  /** Starts following a pool the router just made (it replaces an older pool to the same URI). */
  track<T extends HeardLink>(uri: string, pool: T): T {
    this.pools.set(uri, { pool, downSince: null });
    return pool;
  }

  /** The pool's `onStatus`: notes when it went down. */
  status(uri: string, up: boolean): void {
    const tracked = this.pools.get(uri);
    if (tracked && !up) tracked.downSince = Date.now();
  }

  /**
   * One entry per broker in `uris` (the router's, in use), with the count of this worker's
   * channels each owns; pools of brokers no longer in use are forgotten.
   */
  report(uris: readonly string[], channelsOf: (uri: string) => number, now = Date.now()): StatsLinkReport[] {
    const inUse = new Set(uris);
    for (const uri of this.pools.keys()) if (!inUse.has(uri)) this.pools.delete(uri);
    return uris.map((broker) => {
      const tracked = this.pools.get(broker);
      const up = tracked?.pool.connected ?? false;
      // Up: the stalest link's last frame. Down: when it went down (a reconnect attempt is not news from the broker).
      const heard = !tracked ? null : up ? tracked.pool.heardAt : tracked.downSince;
      return { broker, up, lastHeardAgoMs: heard === null ? null : Math.max(0, now - heard), channels: channelsOf(broker) };
    });
  }
}

/** What a worker's report is read from. */
export interface WorkerStatsSources {
  stats: Readonly<ClusterStats>;
  /** Open client sockets. */
  connections: () => number;
  /** Channels with a local subscriber. */
  channels: () => readonly string[];
  /** Broker URIs in use. */
  brokers: () => readonly string[];
  /** The owning broker of a channel under the newest list. */
  ownerOf: (channel: string) => string | null;
  health: LinkHealth;
}

/** The worker's figures now. */
export function workerStatsReport(sources: WorkerStatsSources): StatsReport {
  const channels = sources.channels();
  const owned = new Map<string, number>();
  for (const channel of channels) {
    const owner = sources.ownerOf(channel);
    if (owner !== null) owned.set(owner, (owned.get(owner) ?? 0) + 1);
  }
  return {
    ...processFigures(),
    connections: sources.connections(),
    channels: channels.length,
    messagesIn: sources.stats.messagesDelivered,
    messagesOut: sources.stats.messagesPublished,
    // The first MAX_STATS_LINKS only: a report must stay small enough for the state link (see there).
    links: sources.health.report(sources.brokers(), (uri) => owned.get(uri) ?? 0).slice(0, MAX_STATS_LINKS),
  };
}
