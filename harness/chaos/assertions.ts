/**
 * What fails `pnpm chaos --ci --assert` (and the CI test's cross-check) for our system's loopback
 * runs: the guarantees each scenario holds ours to.
 */
import type { ScenarioRun } from './scenarios.js';
import { FAILOVER_BOUND_MS } from './state-scenarios.js';

/** Problems of a state-server scenario of ours: a partial list, two leaders, a leader while etcd is down, a slow failover. */
function stateFailures(run: ScenarioRun): string[] {
  const f = run.state ?? {};
  const failures: string[] = [];
  if ((f.partialLists ?? 0) > 0) failures.push(`scenario ${run.scenario}: the spy was handed ${f.partialLists} partial broker lists`);
  if ((f.doubleLeaders ?? 0) > 0) failures.push(`scenario ${run.scenario}: two leaders at once in ${f.doubleLeaders} polls`);
  if ((f.leaderWhileStoreDown ?? 0) > 0) failures.push(`scenario ${run.scenario}: a replica led while etcd was down (${f.leaderWhileStoreDown} polls)`);
  if (run.scenario === '7' && f.stepDownMs === null) failures.push('scenario 7: the leader never stepped down while etcd was down');
  if (run.scenario === '6' && !(f.failoverMs !== undefined && f.failoverMs <= FAILOVER_BOUND_MS)) failures.push(`scenario 6: failover ${f.failoverMs ?? '(not measured)'} ms, above ${FAILOVER_BOUND_MS} ms`);
  return failures;
}

/**
 * Problems that fail `--ci --assert` for our system: any error; any loss outside scenarios 3 and 6s
 * (6s reports what the single state server loses); any duplicate or reordering; in 6 and 7 a partial
 * list, two leaders, or a failover above FAILOVER_BOUND_MS.
 */
export function assertionFailures(runs: readonly ScenarioRun[]): string[] {
  const failures: string[] = [];
  for (const run of runs) {
    if (run.system !== 'ours' || run.status === 'n/a') continue;
    if (run.status === 'error' || !run.check) {
      failures.push(`scenario ${run.scenario}: ${run.error?.split('\n', 1)[0] ?? 'error'}`);
      continue;
    }
    const c = run.check!;
    if (run.scenario === '6s') continue;
    if (run.scenario === '6' || run.scenario === '7') failures.push(...stateFailures(run));
    if (run.scenario === '3') {
      // A loss is allowed here (in flight to the killed broker); duplicates and reordering never are.
      if (c.lost > 0 && run.lostWindowMs === null) failures.push('scenario 3: loss without a window');
      if (c.duplicated + c.outOfOrder > 0) failures.push(`scenario 3: ${c.duplicated} duplicated, ${c.outOfOrder} out of order`);
      continue;
    }
    if (c.lost + c.duplicated + c.outOfOrder > 0) {
      failures.push(`scenario ${run.scenario}: ${c.lost} lost, ${c.duplicated} duplicated, ${c.outOfOrder} out of order`);
    }
  }
  return failures;
}
