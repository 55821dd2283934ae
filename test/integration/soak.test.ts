/**
 * The 30-second version of `pnpm soak`: churn against a 1 state / 2 broker / 2 worker cluster while
 * stable subscribers count. Asserts no loss or duplicate on the stable subscriptions, no crash, and
 * a memory trend within a generous bound (30 s is too short to measure a slow leak: the 10-minute
 * `pnpm soak` does that; this catches a fast one and keeps the soak itself working).
 */
import { describe, expect, it } from 'vitest';
import { runSoak } from '../../harness/soak.js';

/** Generous bounds for a 20-second trend window, MB per minute. */
const MAX_HEAP_SLOPE_MB_PER_MIN = 20;
const MAX_RSS_SLOPE_MB_PER_MIN = 60;

describe('soak (CI size)', () => {
  it('30 s of churn: no message lost on stable subscriptions, no crash, memory flat within bounds', { timeout: 120_000 }, async () => {
    const report = await runSoak({ durationMs: 30_000, warmupMs: 10_000, sampleMs: 1000, churners: 8, stableChannels: 10, publishIntervalMs: 20 });
    expect(report.crashes.filter((c) => !c.alive || c.unhandled.length > 0)).toEqual([]);
    expect(report.churn.connections).toBeGreaterThan(100);
    expect(report.churn.errors).toBe(0);
    expect(report.stable.published).toBeGreaterThan(500);
    expect(report.stable.missing).toBe(0);
    expect(report.stable.duplicates).toBe(0);
    expect(report.stable.received).toBe(report.stable.expected);
    for (const p of report.processes) {
      expect(p.samples, p.name).toBeGreaterThanOrEqual(10);
      expect(p.heapSlopeMBPerMin, `${p.name} heap slope`).toBeLessThan(MAX_HEAP_SLOPE_MB_PER_MIN);
      expect(p.rssSlopeMBPerMin, `${p.name} rss slope`).toBeLessThan(MAX_RSS_SLOPE_MB_PER_MIN);
    }
  });
});
