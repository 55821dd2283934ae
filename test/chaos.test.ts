/**
 * The chaos suite's CI version against our services (the same runs as `pnpm chaos --ci --systems ours`):
 * real processes, a separate load-generator process, 500 msg/s over 20 channels. Scenarios 1, 2, 3b, 4
 * and 5 must lose, duplicate and reorder nothing; scenario 3 (SIGKILL, default mode) duplicates and
 * reorders nothing and may lose only what was in flight to the dead broker: on its channels, in the
 * window around the kill, at most that window's traffic, reported with its time window. Scenarios 6
 * and 7 run replicated state (three replicas, a real etcd): the leader SIGKILLed mid scale-out, and
 * etcd paused while a broker joins — nothing lost, duplicated or reordered, no partial list handed to
 * an original-style spy, never two leaders, failover within the bound.
 */
import { describe, expect, it } from 'vitest';
import { assertionFailures } from '../harness/chaos/assertions.js';
import { CI_PROFILE, profileOptions, runScenario, SCENARIOS, type ScenarioId, type ScenarioRun } from '../harness/chaos/scenarios.js';
import { FAILOVER_BOUND_MS } from '../harness/chaos/state-scenarios.js';

const options = profileOptions(CI_PROFILE, ['ours']);
/** One scenario's bound: above the harness's own bounds (30 s per cluster wait), so a stuck run reports its own error. */
const SCENARIO_TIMEOUT_MS = 120_000;
/** Subscriber sockets in a chaos run (one on each worker; each counts its own losses). */
const SUBSCRIBERS = 2;
/**
 * How long before the kill a lost message may have been sent, ms: the publish batch interval and a
 * loopback write, with room for a busy machine's event-loop stalls.
 */
const IN_FLIGHT_MS = 500;
/** The pacer's rate over a short window may run above its average when it catches up after a stall. */
const PACING_SLACK = 1.25;

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
    state: run.state,
    notes: run.notes,
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

  it(`scenario 3: ${SCENARIOS['3'].title}: nothing duplicated or out of order; loss only in flight to the dead broker, bounded`, async () => {
    const run = await runScenario('ours', '3', options);
    expect(summary(run), JSON.stringify(summary(run))).toMatchObject({ status: 'ok', error: undefined, duplicated: 0, outOfOrder: 0 });
    const c = run.check!;
    expect(c.published).toBeGreaterThan(options.rate * ((options.warmupMs + options.settleMs) / 1000) * 0.5);
    expect(c.expected).toBeGreaterThan(c.published);
    // The README's promise for this mode: what was in flight to the killed broker is lost, nothing
    // else. So the loss is on the channels it owned only, sent from just before the kill until the
    // workers had dropped it (eventMs: both hold the 2-broker list), and at most that window's
    // traffic on those channels at both subscribers.
    const affected = run.affected!;
    expect(affected.channels).toBeGreaterThan(0);
    const share = affected.channels / options.channels;
    const bound = Math.ceil(SUBSCRIBERS * options.rate * share * ((IN_FLIGHT_MS + run.eventMs!) / 1000) * PACING_SLACK);
    expect(c.lost, JSON.stringify(summary(run))).toBeLessThanOrEqual(bound);
    if (c.lost === 0) {
      expect(run.lostWindowMs).toBeNull();
    } else {
      const w = run.lostWindowMs!;
      expect(w.first).toBeLessThanOrEqual(w.last);
      expect(w.first).toBeGreaterThanOrEqual(-IN_FLIGHT_MS);
      expect(w.last).toBeLessThanOrEqual(run.eventMs!);
      expect(Object.values(c.lostByPath).reduce((a, b) => a + b, 0)).toBe(c.lost);
      // Only channels the killed broker owned can lose anything.
      expect(affected.lost).toBe(c.lost);
    }
  }, SCENARIO_TIMEOUT_MS);

  for (const id of ['6', '7'] as ScenarioId[]) {
    it(`scenario ${id}: ${SCENARIOS[id].title}: nothing lost, duplicated or out of order; no partial list; never two leaders`, async () => {
      const run = await runScenario('ours', id, options);
      const report = JSON.stringify(summary(run));
      expect(summary(run), report).toMatchObject({ status: 'ok', error: undefined, lost: 0, duplicated: 0, outOfOrder: 0 });
      expect(run.check!.published).toBeGreaterThan(options.rate * ((options.warmupMs + options.settleMs) / 1000) * 0.5);
      const state = run.state!;
      expect(state.spyLists, report).toBeGreaterThan(0);
      expect(state, report).toMatchObject({ partialLists: 0, doubleLeaders: 0 });
      if (id === '6') {
        expect(state.failoverMs, report).toBeGreaterThan(0);
        expect(state.failoverMs, report).toBeLessThanOrEqual(FAILOVER_BOUND_MS);
      } else {
        // The leader steps down within its lease once etcd is gone, and nobody leads until it is back.
        expect(state.stepDownMs, report).not.toBeNull();
        expect(state.stepDownMs!, report).toBeLessThanOrEqual(options.leaseTtlMs!);
        expect(state.leaderWhileStoreDown, report).toBe(0);
      }
      expect(assertionFailures([run])).toEqual([]);
    }, SCENARIO_TIMEOUT_MS);
  }
});
