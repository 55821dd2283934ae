/** The worker's `sccStats` report: figures read from the plugin's state, link health per broker. */
import { describe, expect, it } from 'vitest';
import { parseStatsReport } from '@scc-ts/shared';
import { LinkHealth, workerStatsReport, type HeardLink } from '../src/cluster/stats-report.js';
import { createClusterStats } from '../src/cluster/stats.js';

const B1 = 'ws://127.0.0.1:8888';
const B2 = 'ws://127.0.0.1:8889';

describe('LinkHealth', () => {
  it('reports up links by their last frame, down ones by when they went down, and forgets brokers no longer in use', () => {
    const health = new LinkHealth();
    const a: HeardLink & { connected: boolean } = { connected: true, heardAt: 9_000 };
    const b = { connected: false, heardAt: 9_900 };
    expect(health.track(B1, a)).toBe(a);
    health.track(B2, b);
    const channels = (uri: string) => (uri === B1 ? 3 : 0);
    expect(health.report([B1, B2], channels, 10_000)).toEqual([
      { broker: B1, up: true, lastHeardAgoMs: 1000, channels: 3 },
      // Never up yet: a reconnect attempt is no news from the broker.
      { broker: B2, up: false, lastHeardAgoMs: null, channels: 0 },
    ]);
    a.connected = false;
    health.status(B1, false);
    const [down] = health.report([B1], channels);
    expect(down).toMatchObject({ broker: B1, up: false });
    expect(down!.lastHeardAgoMs).toBeGreaterThanOrEqual(0);
    // B2 left the list: forgotten, and reported as unknown (down, never heard) if asked again.
    expect(health.report([B2], channels, 10_000)).toEqual([{ broker: B2, up: false, lastHeardAgoMs: null, channels: 0 }]);
  });
});

describe('workerStatsReport', () => {
  it("reads the plugin's counters and passes the state server's guard", () => {
    const stats = createClusterStats();
    stats.messagesDelivered = 12;
    stats.messagesPublished = 34;
    const health = new LinkHealth();
    health.track(B1, { connected: true, heardAt: Date.now() });
    const report = workerStatsReport({
      stats,
      connections: () => 5,
      channels: () => ['a', 'b', 'c'],
      brokers: () => [B1],
      ownerOf: (channel) => (channel === 'c' ? null : B1),
      health,
    });
    expect(report).toMatchObject({ connections: 5, channels: 3, messagesIn: 12, messagesOut: 34 });
    expect(report.links).toEqual([{ broker: B1, up: true, lastHeardAgoMs: expect.any(Number), channels: 2 }]);
    expect(parseStatsReport(report)).toEqual(report);
  });
});
