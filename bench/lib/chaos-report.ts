/** Formats chaos-suite results: per scenario, one column per system, one row per figure. */
import type { SystemName } from '../../harness/chaos/scenarios.js';
import { SCENARIOS, type ScenarioId, type ScenarioRun } from '../../harness/chaos/scenarios.js';
import { DELAYED_MS, MULTI_HOST_SCENARIOS, type MultiHostId, type MultiHostRun } from '../../harness/chaos/multi-host.js';
import type { BedSystem } from '../../harness/netns/bed-cluster.js';

type Row = [label: string, value: (run: ScenarioRun) => string];

const n = (v: number | undefined): string => (v === undefined ? '-' : String(v));

const ROWS: Row[] = [
  ['published (acked)', (r) => n(r.check?.published)],
  ['expected deliveries', (r) => n(r.check?.expected)],
  ['lost', (r) => n(r.check?.lost)],
  ['duplicated', (r) => n(r.check?.duplicated)],
  ['out of order', (r) => n(r.check?.outOfOrder)],
  ['unexpected (info)', (r) => n(r.check?.unexpected)],
  ['unacked publishes', (r) => n(r.check?.unacked)],
  ['lost, arrived after the drain', (r) => n(r.check?.lostArrivedLate)],
  ['lost window vs event (ms)', (r) => (r.lostWindowMs ? `${r.lostWindowMs.first}…${r.lostWindowMs.last}` : r.check ? 'none' : '-')],
  ['lost on moved/orphaned channels', (r) => (r.affected ? `${r.affected.lost} (${r.affected.channels} channels)` : '-')],
  ['lost by path', (r) => (r.check ? Object.entries(r.check.lostByPath).map(([k, v]) => `${k} ${v}`).join(', ') || 'none' : '-')],
  ['offered / achieved msg/s', (r) => (r.offeredRate === undefined ? '-' : `${r.offeredRate} / ${n(r.achievedRate)}`)],
  ['skipped by pacer', (r) => n(r.skipped)],
  ['event until stable (ms)', (r) => n(r.eventMs)],
];

const ms = (v: number | null | undefined): string => (v === undefined ? '-' : v === null ? 'never' : String(v));
/** Rows of the state-server scenarios (6, 6s, 7), shown when a run has them. */
const STATE_ROWS: Row[] = [
  ['kill → new leader serving (ms)', (r) => ms(r.state?.failoverMs)],
  ['etcd paused → leader stepped down (ms)', (r) => ms(r.state?.stepDownMs)],
  ['etcd back → new leader serving (ms)', (r) => ms(r.state?.reelectedMs)],
  ['event → 3 brokers applied (ms)', (r) => ms(r.state?.scaleOutMs)],
  ['spy: partial lists / lists', (r) => (r.state?.spyLists === undefined ? '-' : `${r.state.partialLists} / ${r.state.spyLists}`)],
  ['polls with two leaders', (r) => ms(r.state?.doubleLeaders)],
  ['polls with a leader, etcd down', (r) => ms(r.state?.leaderWhileStoreDown)],
];

/** The table of one scenario, systems side by side. */
export function formatScenario(id: ScenarioId, runs: readonly ScenarioRun[], systems: readonly SystemName[]): string {
  const bySystem = systems.map((s) => runs.find((r) => r.scenario === id && r.system === s));
  const rows = bySystem.some((r) => r?.state) ? [...ROWS, ...STATE_ROWS] : ROWS;
  const columns = bySystem.map((run) => (run === undefined ? rows.map(() => '-') : run.check || run.state ? rows.map(([, f]) => f(run)) : rows.map(() => run.status)));
  const labelWidth = Math.max(...rows.map(([l]) => l.length));
  const widths = systems.map((s, i) => Math.max(s.length, ...columns[i]!.map((v) => v.length)));
  const line = (label: string, values: string[]): string => `  ${label.padEnd(labelWidth)}  ${values.map((v, i) => v.padStart(widths[i]!)).join('  ')}`;
  const out = [`Scenario ${id}: ${SCENARIOS[id].title}`, line('', [...systems]), ...rows.map(([label], r) => line(label, columns.map((c) => c[r]!)))];
  for (const [i, run] of bySystem.entries()) {
    if (run?.status === 'error') out.push(`  ${systems[i]} error: ${run.error}`);
    for (const note of run?.notes ?? []) out.push(`  ${systems[i]}: ${note}`);
  }
  return out.join('\n');
}

type MultiHostRow = [label: string, value: (run: MultiHostRun) => string];
const window = (w: { first: number; last: number } | null | undefined): string => (w ? `${w.first}…${w.last}` : w === null ? 'none' : '-');
const perWorker = (m: Record<string, number | null> | undefined): string => (m ? Object.entries(m).sort().map(([k, v]) => `${k} ${v ?? '-'}`).join(', ') : '-');

const MULTI_HOST_ROWS: MultiHostRow[] = [
  ['published (acked)', (r) => n(r.check?.published)],
  ['expected deliveries', (r) => n(r.check?.expected)],
  ['lost', (r) => n(r.check?.lost)],
  ['duplicated', (r) => n(r.check?.duplicated)],
  ['out of order', (r) => n(r.check?.outOfOrder)],
  ['unexpected (info)', (r) => n(r.check?.unexpected)],
  ['unacked publishes', (r) => n(r.check?.unacked)],
  ['lost, arrived after the drain', (r) => n(r.check?.lostArrivedLate)],
  ['lost by path', (r) => (r.check ? Object.entries(r.check.lostByPath).map(([k, v]) => `${k} ${v}`).join(', ') || 'none' : '-')],
  ['fault lasted (ms)', (r) => n(r.faultMs)],
  ['detection (ms)', (r) => (r.detectionMs === undefined ? '-' : r.detectionMs === null ? 'not seen' : `${r.detectionMs} (${r.detectedBy})`)],
  [`disrupted: lost or >${DELAYED_MS} ms late, sent (ms)`, (r) => window(r.disruptedMs)],
  ['recovery after the fault (ms)', (r) => n(r.recoveryMs)],
  ['max delivery delay (ms)', (r) => n(r.maxDelayMs)],
  ['broker lists applied (reshards)', (r) => perWorker(r.reshards)],
  ['brokers at the end', (r) => perWorker(r.brokersAtEnd)],
  ['workers agree on owners (m1)', (r) => (r.owners === undefined ? '-' : String(r.owners.agreed))],
  ['offered / achieved msg/s', (r) => (r.offeredRate === undefined ? '-' : `${r.offeredRate} / ${n(r.achievedRate)}`)],
  ['skipped by pacer', (r) => n(r.skipped)],
];

/** The table of one multi-host scenario, systems side by side. */
export function formatMultiHostScenario(id: MultiHostId, runs: readonly MultiHostRun[], systems: readonly BedSystem[]): string {
  const bySystem = systems.map((s) => runs.find((r) => r.scenario === id && r.system === s));
  const columns = bySystem.map((run) => (run === undefined ? MULTI_HOST_ROWS.map(() => '-') : run.check ? MULTI_HOST_ROWS.map(([, f]) => f(run)) : MULTI_HOST_ROWS.map(() => run.status)));
  const labelWidth = Math.max(...MULTI_HOST_ROWS.map(([l]) => l.length));
  const widths = systems.map((s, i) => Math.max(s.length, ...columns[i]!.map((v) => v.length)));
  const line = (label: string, values: string[]): string => `  ${label.padEnd(labelWidth)}  ${values.map((v, i) => v.padStart(widths[i]!)).join('  ')}`;
  const out = [`Scenario ${id} (multi-host): ${MULTI_HOST_SCENARIOS[id].title}`, line('', [...systems]), ...MULTI_HOST_ROWS.map(([label], r) => line(label, columns.map((c) => c[r]!)))];
  for (const [i, run] of bySystem.entries()) {
    if (run?.status === 'error') out.push(`  ${systems[i]} error: ${run.error}`);
    for (const note of run?.notes ?? []) out.push(`  ${systems[i]}: ${note}`);
  }
  return out.join('\n');
}
