/**
 * The chaos suite's CI version against our services (the same runs as `pnpm chaos --ci --systems ours`):
 * real processes, a separate load-generator process, 500 msg/s over 20 channels. Scenarios 1, 2, 3b, 4
 * and 5 must lose, duplicate and reorder nothing; scenario 3 (SIGKILL, default mode) may lose what was in
 * flight to the dead broker, and must report it with its time window.
 */
import { describe, expect, it } from 'vitest';
import { CI_PROFILE, profileOptions, runScenario, SCENARIOS, type ScenarioId, type ScenarioRun } from '../bench/lib/chaos-scenarios.js';

const options = profileOptions(CI_PROFILE, ['ours']);
/** One scenario's bound: above the harness's own bounds (30 s per cluster wait), so a stuck run reports its own error. */
const SCENARIO_TIMEOUT_MS = 120_000;

/** The figures a failure message should show. */
function summary(run: ScenarioRun): Record<string, unknown> {
  const c = run.check;
  return {
    status: run.status,
    error: run.error,
    lost: c?.lost,
    duplicated: c?.duplicated,
    outOfOrder: c?.outOfOrder,
    lostWindowMs: run.lostWindowMs,
    lostOnMovedOrOrphanedChannels: run.affected,
    lostByPath: c?.lostByPath,
    published: c?.published,
    expected: c?.expected,
  };
}

describe('chaos suite, CI version, our services', () => {
  for (const id of ['1', '2', '3b', '4', '5'] as ScenarioId[]) {
    it(`scenario ${id}: ${SCENARIOS[id].title}: nothing lost, duplicated or out of order`, async () => {
      const run = await runScenario('ours', id, options);
      expect(summary(run), JSON.stringify(summary(run))).toMatchObject({ status: 'ok', error: undefined, lost: 0, duplicated: 0, outOfOrder: 0 });
      // The run measured something: most of the offered load was acked and expected at both subscribers.
      expect(run.check!.published).toBeGreaterThan(options.rate * ((options.warmupMs + options.settleMs) / 1000) * 0.5);
      expect(run.check!.expected).toBeGreaterThan(run.check!.published);
    }, SCENARIO_TIMEOUT_MS);
  }

  it(`scenario 3: ${SCENARIOS['3'].title}: completes and reports any loss with its window`, async () => {
    const run = await runScenario('ours', '3', options);
    expect(summary(run), JSON.stringify(summary(run))).toMatchObject({ status: 'ok', error: undefined });
    const c = run.check!;
    expect(c.published).toBeGreaterThan(0);
    expect(c.lost).toBeLessThanOrEqual(c.expected);
    if (c.lost === 0) {
      expect(run.lostWindowMs).toBeNull();
    } else {
      // Lost messages were sent around the kill: not long before it, and not after the cluster settled.
      const w = run.lostWindowMs!;
      expect(w.first).toBeLessThanOrEqual(w.last);
      expect(w.first).toBeGreaterThan(-2000);
      expect(w.last).toBeLessThan(run.eventMs! + options.settleMs);
      expect(Object.values(c.lostByPath).reduce((a, b) => a + b, 0)).toBe(c.lost);
      // Only channels the killed broker owned can lose anything.
      expect(run.affected!.lost).toBe(c.lost);
    }
  }, SCENARIO_TIMEOUT_MS);
});
