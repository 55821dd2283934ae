/**
 * The `storm` workload, parent side. While a small paced flow runs between clients connected
 * beforehand (a generator process of its own: lib/gen-storm.ts Flow), N clients connect within
 * `spreadMs` (evenly spread, from G generator processes) in three phases:
 *   1. `one worker`   — all to worker B (the subscribers' worker);
 *   2. `both workers` — after those dropped and the servers settled, alternating worker A / B;
 *   3. `reconnect`    — all of phase 2's clients drop at once (terminate) and connect again at once.
 * Per phase: time until every client is handshaken and subscribed (each to one of `channels`), each
 * client's own time, failures by kind (the target is 0), peak CPU share and peak RSS of every server
 * process, and the flow's loss and latency for messages published during the phase.
 */
import { wallMs } from './clock.js';
import type { FlowFigures, StormSliceResult } from './gen-storm.js';
import type { LoadGenerator } from './loadgen-process.js';
import { ProcSampler } from './proc-sampler.js';
import { runQueueWaitSeconds } from './proc.js';
import { median, percentile, round } from './stats.js';
import type { RunningSystem, SystemName } from './systems.js';
import { SATURATED_SHARE } from './huge.js';

export interface StormSettings {
  clients: number;
  spreadMs: number;
  channels: number;
  /** The flow's messages per second (over FLOW_CHANNELS channels). */
  flowRate: number;
}

export const STORM_PHASES = ['one worker', 'both workers', 'reconnect'] as const;
export type StormPhase = (typeof STORM_PHASES)[number];

/** Channels of the paced flow (each with one subscriber on each worker). */
const FLOW_CHANNELS = 4;
/** Lead time given to every generator before client 0's scheduled start, ms. */
const START_LEAD_MS = 300;
/** Pause after dropping the clients before the next phase, so the servers have let them go, ms. */
const SETTLE_MS = 2_000;
/** Beyond the spread, the bound on a phase (every client's connect, handshake and subscribe are bounded too), ms. */
const PHASE_TIMEOUT_MS = 120_000;
/** Time the flow gets to deliver what is under way when the storm is over, ms. */
const FLOW_DRAIN_MS = 5_000;

export interface StormPhaseRecord {
  phase: StormPhase;
  attempted: number;
  subscribed: number;
  failed: number;
  failures: Record<string, number>;
  /** From client 0's scheduled start until the last client was subscribed, ms (NaN when none was). */
  allSubscribedMs: number;
  /** Each client from its own scheduled start to subscribed, ms. */
  clientP50Ms: number;
  clientP99Ms: number;
  peakCpuShare: Record<string, number>;
  peakRssMiB: Record<string, number>;
  /** The busiest storm generator's CPU share of one core over the phase, and its share waiting for a CPU. */
  generatorShare: number;
  generatorWaitShare: number;
  flow: FlowFigures;
}

export interface StormRecord {
  system: SystemName;
  round: number;
  clients: number;
  phases: StormPhaseRecord[];
  flow: FlowFigures;
  generatorSaturated: boolean;
}

/** `gens`: the storm generators then, last, the flow's own. */
export async function runStorm(sys: RunningSystem, gens: readonly LoadGenerator[], settings: StormSettings, roundNo: number): Promise<StormRecord> {
  const flowGen = gens[gens.length - 1]!;
  const stormGens = gens.slice(0, -1);
  const workerA = sys.publisherPorts[0]!;
  const workerB = sys.subscriberPorts[0]!;
  const both = [...new Set([workerA, workerB])];
  flowGen.send({ type: 'flow-start', protocol: sys.protocol, publisherPort: workerA, subscriberPorts: both, channels: FLOW_CHANNELS, rate: settings.flowRate });
  await flowGen.next('flow-ready', 60_000);

  const targets = sys.processes.map(({ role, process: p }) => ({ role, pid: p.pid }));
  const genTargets = stormGens.map((g, i) => ({ role: `generator-${i + 1}`, pid: g.pid }));
  const measured: Array<Omit<StormPhaseRecord, 'flow'>> = [];
  const windows: Array<{ name: string; from: number; to: number }> = [];
  for (const phase of STORM_PHASES) {
    if (phase !== 'one worker') {
      for (const g of stormGens) g.send({ type: 'storm-close' });
      await Promise.all(stormGens.map((g) => g.next('storm-closed', 30_000)));
      // Phase 3 reconnects at once; phase 2 starts once the servers let phase 1's sockets go.
      if (phase === 'both workers') await new Promise((r) => setTimeout(r, SETTLE_MS));
    }
    const ports = phase === 'one worker' ? [workerB] : both;
    const sampler = new ProcSampler(targets);
    const genSampler = new ProcSampler(genTargets);
    const waitBefore = genTargets.map((t) => runQueueWaitSeconds(t.pid));
    const startAt = wallMs() + START_LEAD_MS;
    stormGens.forEach((g, i) =>
      g.send({ type: 'storm-connect', protocol: sys.protocol, ports, first: i, step: stormGens.length, total: settings.clients, spreadMs: settings.spreadMs, startAt, channels: settings.channels }),
    );
    let results: StormSliceResult[];
    try {
      results = await Promise.all(stormGens.map((g) => g.next('storm-done', START_LEAD_MS + settings.spreadMs + PHASE_TIMEOUT_MS).then((m) => m.result)));
    } finally {
      sampler.close();
      genSampler.close();
    }
    const endAt = wallMs();
    windows.push({ name: phase, from: startAt, to: endAt });
    const peaks = sampler.close();
    const genFigures = genSampler.close();
    const waitShare = Math.max(...genTargets.map((t, i) => runQueueWaitSeconds(t.pid) - waitBefore[i]!));
    const failures: Record<string, number> = {};
    for (const r of results) for (const [kind, n] of Object.entries(r.failures)) failures[kind] = (failures[kind] ?? 0) + n;
    const durations = Float64Array.from(results.flatMap((r) => r.durationsMs)).sort();
    const last = Math.max(...results.map((r) => (Number.isNaN(r.lastSubscribedAt) ? -Infinity : r.lastSubscribedAt)));
    const seconds = (endAt - startAt) / 1000;
    measured.push({
      phase,
      attempted: results.reduce((n, r) => n + r.attempted, 0),
      subscribed: results.reduce((n, r) => n + r.subscribed, 0),
      failed: Object.values(failures).reduce((a, b) => a + b, 0),
      failures,
      allSubscribedMs: round(Number.isFinite(last) ? last - startAt : NaN),
      clientP50Ms: round(percentile(durations, 50)),
      clientP99Ms: round(percentile(durations, 99)),
      peakCpuShare: peaks.peakCpuShare,
      peakRssMiB: peaks.peakRssMiB,
      generatorShare: round(Math.max(...Object.values(genFigures.cpuS)) / seconds),
      generatorWaitShare: round(waitShare / seconds),
    });
  }
  for (const g of stormGens) g.send({ type: 'storm-close' });
  flowGen.send({ type: 'flow-stop', phases: windows, drainMs: FLOW_DRAIN_MS });
  const { figures } = await flowGen.next('flow-done', FLOW_DRAIN_MS + 30_000);
  const phases = measured.map((p) => ({ ...p, flow: figures[p.phase]! }));
  return {
    system: sys.name,
    round: roundNo,
    clients: settings.clients,
    phases,
    flow: figures['whole run']!,
    generatorSaturated: phases.some((p) => p.generatorShare + p.generatorWaitShare >= SATURATED_SHARE),
  };
}

export interface StormPhaseSummary {
  allSubscribedMs: number;
  clientP99Ms: number;
  /** Over every run. */
  failed: number;
  failures: Record<string, number>;
  peakCpuShare: Record<string, number>;
  peakRssMiB: Record<string, number>;
  flowLost: number;
  flowP99Ms: number;
  flowMaxMs: number;
  generatorShare: number;
  generatorWaitShare: number;
}

/** Per phase: medians over rounds (failures and flow loss summed). */
export function summarizeStorm(records: readonly StormRecord[]): Partial<Record<StormPhase, StormPhaseSummary>> {
  const out: Partial<Record<StormPhase, StormPhaseSummary>> = {};
  for (const phase of STORM_PHASES) {
    const ps = records.map((r) => r.phases.find((p) => p.phase === phase)).filter((p): p is StormPhaseRecord => p !== undefined);
    if (!ps.length) continue;
    const m = (f: (p: StormPhaseRecord) => number): number => round(median(ps.map(f)));
    const roles = [...new Set(ps.flatMap((p) => Object.keys(p.peakCpuShare)))];
    const failures: Record<string, number> = {};
    for (const p of ps) for (const [kind, n] of Object.entries(p.failures)) failures[kind] = (failures[kind] ?? 0) + n;
    out[phase] = {
      allSubscribedMs: m((p) => p.allSubscribedMs),
      clientP99Ms: m((p) => p.clientP99Ms),
      failed: ps.reduce((n, p) => n + p.failed, 0),
      failures,
      peakCpuShare: Object.fromEntries(roles.map((role) => [role, m((p) => p.peakCpuShare[role] ?? NaN)])),
      peakRssMiB: Object.fromEntries(roles.map((role) => [role, m((p) => p.peakRssMiB[role] ?? NaN)])),
      flowLost: ps.reduce((n, p) => n + p.flow.lost + p.flow.duplicated, 0),
      flowP99Ms: m((p) => p.flow.latencyMs.p99),
      flowMaxMs: m((p) => p.flow.latencyMs.max),
      generatorShare: m((p) => p.generatorShare),
      generatorWaitShare: m((p) => p.generatorWaitShare),
    };
  }
  return out;
}

/** One table row per system for one phase. */
export function stormTableRow(s: StormPhaseSummary): Record<string, string | number> {
  const ab = (values: Record<string, number>): string => (values['worker-a'] === undefined ? String(values['server']) : `${values['worker-a']} / ${values['worker-b']}`);
  return {
    'all subscribed ms': s.allSubscribedMs,
    'client p99 ms': s.clientP99Ms,
    failed: s.failed === 0 ? 0 : `${s.failed} (${Object.entries(s.failures).map(([k, n]) => `${k} ${n}`).join(', ')})`,
    'worker peak CPU a / b': ab(s.peakCpuShare),
    'worker peak RSS MiB a / b': ab(s.peakRssMiB),
    'flow lost+dup': s.flowLost,
    'flow p99 ms': s.flowP99Ms,
    'flow max ms': s.flowMaxMs,
    'loadgen CPU / wait share': `${s.generatorShare} / ${s.generatorWaitShare}${s.generatorShare + s.generatorWaitShare >= SATURATED_SHARE ? ' SATURATED' : ''}`,
  };
}
