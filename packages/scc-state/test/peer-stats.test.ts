/** The state server's store of `sccStats` reports: rates from two reports, restarts, refusals. */
import { describe, expect, it } from 'vitest';
import { InvalidPayloadError, type StatsReport } from '@scc-ts/shared';
import { FIGURE_HISTORY_POINTS, PeerStats } from '../src/peer-stats.js';

const base: StatsReport = { uptimeMs: 10_000, cpuMicros: 1_000_000, rssBytes: 40_000_000, connections: 1, channels: 1, messagesIn: 100, messagesOut: 50 };

describe('PeerStats', () => {
  it("turns two reports into rates over the sender's uptime, and keeps a short history", () => {
    const stats = new PeerStats();
    stats.record('s1', base, 1000);
    expect(stats.figures('s1')!.rates).toBeNull();
    // 2 s later on the sender: +400 in, +100 out, 0.5 s of CPU.
    stats.record('s1', { ...base, uptimeMs: 12_000, cpuMicros: 1_500_000, messagesIn: 500, messagesOut: 150, connections: 4 }, 3000);
    const f = stats.figures('s1')!;
    expect(f.rates).toEqual({ messagesInPerSecond: 200, messagesOutPerSecond: 50, cpuPercent: 25 });
    expect(f.receivedAt).toBe(3000);
    expect(f.history.messagesInPerSecond).toEqual([200]);
    expect(f.history.connections).toEqual([1, 4]);
    expect(stats.figures('other')).toBeNull();
  });

  it('starts again after the sender restarted (uptime or totals fell)', () => {
    const stats = new PeerStats();
    stats.record('s1', base);
    stats.record('s1', { ...base, uptimeMs: 11_000, messagesIn: 200 });
    stats.record('s1', { ...base, uptimeMs: 500, messagesIn: 3 });
    const f = stats.figures('s1')!;
    expect(f.rates).toBeNull();
    expect(f.history.messagesInPerSecond).toEqual([]);
    expect(f.report.messagesIn).toBe(3);
  });

  it('refuses a malformed report with InvalidPayloadError, counts it, and keeps the last good figures', () => {
    const stats = new PeerStats();
    stats.record('s1', base, 1000);
    expect(() => stats.record('s1', { ...base, connections: -1 }, 2000)).toThrow(InvalidPayloadError);
    expect(() => stats.record('s1', 'junk', 2000)).toThrow(InvalidPayloadError);
    expect(stats.refused('s1')).toBe(2);
    expect(stats.figures('s1')!.report).toEqual(base);
    expect(stats.figures('s1')!.receivedAt).toBe(1000);
    stats.forget('s1');
    expect(stats.figures('s1')).toBeNull();
    expect(stats.refused('s1')).toBe(0);
  });

  it(`keeps at most ${FIGURE_HISTORY_POINTS} points per series`, () => {
    const stats = new PeerStats();
    for (let i = 0; i < FIGURE_HISTORY_POINTS + 10; i++) stats.record('s1', { ...base, uptimeMs: base.uptimeMs + i * 1000, connections: i });
    const { history } = stats.figures('s1')!;
    expect(history.connections).toHaveLength(FIGURE_HISTORY_POINTS);
    expect(history.connections.at(-1)).toBe(FIGURE_HISTORY_POINTS + 9);
    expect(history.messagesInPerSecond).toHaveLength(FIGURE_HISTORY_POINTS);
  });
});
