/** The worker's `sccStats` report: figures read from the plugin's state, link health per broker. */
import { describe, expect, it } from 'vitest';
import { parseStatsReport } from '@scc-ts/shared';
import { workerStatsReport } from '../src/cluster/stats-report.js';
import { createClusterStats } from '../src/cluster/stats.js';

const B1 = 'ws://127.0.0.1:8888';
const B2 = 'ws://127.0.0.1:8889';

describe('workerStatsReport', () => {
  it("reads the plugin's counters and passes the state server's guard", () => {
    const stats = createClusterStats();
    stats.messagesDelivered = 12;
    stats.messagesPublished = 34;
    const report = workerStatsReport({
      stats,
      connections: () => 5,
      channels: () => ['a', 'b', 'c'],
      links: () => [
        { broker: B1, up: true, lastHeardAgoMs: 7 },
        { broker: B2, up: false, lastHeardAgoMs: null },
      ],
      ownerOf: (channel) => (channel === 'c' ? null : B1),
    });
    expect(report).toMatchObject({ connections: 5, channels: 3, messagesIn: 12, messagesOut: 34 });
    // Each link with the count of this worker's channels its broker owns.
    expect(report.links).toEqual([
      { broker: B1, up: true, lastHeardAgoMs: 7, channels: 2 },
      { broker: B2, up: false, lastHeardAgoMs: null, channels: 0 },
    ]);
    expect(parseStatsReport(report)).toEqual(report);
  });
});
