/**
 * The data path's counters, and the summarised warnings about what they count. One `ClusterStats`
 * object is made per worker and handed to each stage, which counts its own events in it; the
 * worker's /metrics reads it as it stands.
 */
import type { Logger } from '@scc-ts/shared';

/** Counters of the data path (exported as metrics by the worker). */
export interface ClusterStats {
  /** Packets sent to brokers. */
  packetsOut: number;
  /** Packets received from brokers (own packets included). */
  packetsIn: number;
  /** Messages delivered locally from other workers. */
  messagesDelivered: number;
  /** Packets a broker did not acknowledge or that had no broker; their messages may be lost. */
  publishFailures: number;
  /** Packets from brokers that failed the guard and were dropped. */
  malformedPackets: number;
  reshards: number;
  /** Messages this worker gave up sending (at-most-once failure, or at-least-once retries ran out). */
  messagesLost: number;
  /** Packets from other workers that never arrived (gaps in their numbering past the reorder window). */
  packetsMissed: number;
  /** Packets received twice and dropped. */
  duplicatesDropped: number;
  /** At-least-once re-sends. */
  publishRetries: number;
  /** Times publishing switched to a new broker list. */
  handovers: number;
  /** At-least-once packets re-sent because the state server withdrew the broker that acknowledged them. */
  withdrawalResends: number;
  /** Messages published by local clients (each handed to the outbound stage). */
  messagesPublished: number;
  /** History subscriptions with a position whose replay was complete (docs/history.md). */
  historyRecovered: number;
  /** History subscriptions that started without a complete replay (no position, epoch changed, too old, unavailable). */
  historyNotRecovered: number;
  /** Messages replayed from history to recovering subscribers. */
  historyReplayed: number;
  /** Subscriptions and history requests refused for a hostile position. */
  historyRefused: number;
}

/** A fresh set of counters, all 0. */
export function createClusterStats(): ClusterStats {
  return {
    packetsOut: 0,
    packetsIn: 0,
    messagesDelivered: 0,
    publishFailures: 0,
    malformedPackets: 0,
    reshards: 0,
    messagesLost: 0,
    packetsMissed: 0,
    duplicatesDropped: 0,
    publishRetries: 0,
    handovers: 0,
    withdrawalResends: 0,
    messagesPublished: 0,
    historyRecovered: 0,
    historyNotRecovered: 0,
    historyReplayed: 0,
    historyRefused: 0,
  };
}

/** Interval at which repeated warnings of one kind are summarised, ms. */
const WARN_INTERVAL_MS = 5000;

/**
 * Warnings about counted events (a lost packet, a malformed one), at most one per kind per
 * WARN_INTERVAL_MS: under a broker outage they come by the thousand, and the count is in the stats.
 */
export class ThrottledWarnings {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly logger: Logger) {}

  /** Logs `message` unless one of the same `kind` was logged in the last interval (then it is counted). */
  warn(kind: string, message: string): void {
    const now = Date.now();
    const entry = this.last.get(kind);
    if (entry && now - entry.at < WARN_INTERVAL_MS) {
      entry.suppressed += 1;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(kind, { at: now, suppressed: 0 });
    this.logger.warn(suppressed > 0 ? `${message} (+${suppressed} similar in the last ${WARN_INTERVAL_MS} ms)` : message);
  }
}
