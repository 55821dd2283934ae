/**
 * The last good `sccStats` report of each joined broker and worker (our extension; payloads.ts,
 * StatsReport), turned into rates when the next one arrives: two reports' totals over the sender's
 * own uptime between them, so the hosts' clocks need not agree. A short history of the rates feeds
 * the dashboard's sparklines. A malformed report is refused (InvalidPayloadError) and changes
 * nothing but the peer's refusal count.
 */
import { parseStatsReport, type StatsReport } from '@scc-ts/shared';

/** Points kept per peer for the sparklines: with the default 2 s interval, the last two minutes. */
export const FIGURE_HISTORY_POINTS = 60;

/** Rates between two consecutive reports; null until a second report (or after the sender restarted). */
export interface Rates {
  messagesInPerSecond: number;
  messagesOutPerSecond: number;
  /** CPU time over wall time, % of one core (above 100 on several). */
  cpuPercent: number;
}

/** One peer's figures as the state server holds them. */
export interface PeerFigures {
  /** When the last good report arrived, ms since the epoch (state server's clock). */
  receivedAt: number;
  report: Readonly<StatsReport>;
  rates: Readonly<Rates> | null;
  /** Oldest first, at most FIGURE_HISTORY_POINTS. */
  history: {
    messagesInPerSecond: number[];
    messagesOutPerSecond: number[];
    connections: number[];
  };
}

interface Entry {
  figures: PeerFigures | null;
  /** Malformed reports refused from this peer. */
  refused: number;
}

/** Rounds to 0.1: figures for a person, not for arithmetic. */
const tenths = (value: number): number => Math.round(value * 10) / 10;

/** `sccStats` reports by the sender's state-server socket id. */
export class PeerStats {
  private readonly peers = new Map<string, Entry>();

  /**
   * Stores a report from `socketId`; throws InvalidPayloadError (counted, the last good figures
   * kept) when it is malformed.
   */
  record(socketId: string, data: unknown, now = Date.now()): void {
    const entry = this.peers.get(socketId) ?? { figures: null, refused: 0 };
    this.peers.set(socketId, entry);
    let report: StatsReport;
    try {
      report = parseStatsReport(data);
    } catch (error) {
      entry.refused += 1;
      throw error;
    }
    const previous = entry.figures;
    const rates = previous ? ratesBetween(previous.report, report) : null;
    const history = previous && rates ? previous.history : { messagesInPerSecond: [], messagesOutPerSecond: [], connections: [] };
    if (rates) {
      push(history.messagesInPerSecond, rates.messagesInPerSecond);
      push(history.messagesOutPerSecond, rates.messagesOutPerSecond);
    }
    push(history.connections, report.connections);
    entry.figures = { receivedAt: now, report, rates, history };
  }

  /** The peer's figures, or null before its first good report. */
  figures(socketId: string): PeerFigures | null {
    return this.peers.get(socketId)?.figures ?? null;
  }

  /** How many malformed reports the peer sent. */
  refused(socketId: string): number {
    return this.peers.get(socketId)?.refused ?? 0;
  }

  /** The peer's socket closed. */
  forget(socketId: string): void {
    this.peers.delete(socketId);
  }
}

function push(series: number[], value: number): void {
  series.push(value);
  if (series.length > FIGURE_HISTORY_POINTS) series.splice(0, series.length - FIGURE_HISTORY_POINTS);
}

/** Rates from `a` to `b`, or null when `b` does not follow `a` (same or earlier uptime, totals that fell: a restart). */
function ratesBetween(a: StatsReport, b: StatsReport): Rates | null {
  const elapsedMs = b.uptimeMs - a.uptimeMs;
  if (elapsedMs <= 0 || b.messagesIn < a.messagesIn || b.messagesOut < a.messagesOut || b.cpuMicros < a.cpuMicros) return null;
  const perSecond = (from: number, to: number) => tenths(((to - from) * 1000) / elapsedMs);
  return {
    messagesInPerSecond: perSecond(a.messagesIn, b.messagesIn),
    messagesOutPerSecond: perSecond(a.messagesOut, b.messagesOut),
    cpuPercent: tenths(((b.cpuMicros - a.cpuMicros) / 1000 / elapsedMs) * 100),
  };
}
