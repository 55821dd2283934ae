/**
 * The worker's `sccStats` report for the state server's dashboard (payloads.ts, StatsReport), read
 * from what the plugin already keeps: the server's client count, the broker engine's channels, the
 * ClusterStats totals and the router's view of each broker link. Nothing here counts traffic.
 */
import { MAX_STATS_LINKS, processFigures, type StatsLinkReport, type StatsReport } from '@scc-ts/shared';
import type { ClusterStats } from './stats.js';

/** What a worker's report is read from. */
export interface WorkerStatsSources {
  stats: Readonly<ClusterStats>;
  /** Open client sockets. */
  connections: () => number;
  /** Channels with a local subscriber. */
  channels: () => readonly string[];
  /** The link to each broker in use (Router.links). */
  links: () => ReadonlyArray<Omit<StatsLinkReport, 'channels'>>;
  /** The owning broker of a channel under the newest list. */
  ownerOf: (channel: string) => string | null;
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
    links: sources.links().slice(0, MAX_STATS_LINKS).map((link) => ({ ...link, channels: owned.get(link.broker) ?? 0 })),
  };
}
