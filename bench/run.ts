/**
 * Side-by-side throughput / latency / CPU / memory benchmark: ours vs the original SCC data path vs one
 * socketcluster-server (the ceiling) vs Socket.IO + Redis vs the bare-ws reference relay (a lower
 * bound, servers/reference-*.mjs). Every run starts the system afresh, runs one workload from separate
 * load-generator processes (loadgen.ts), and stops it; runs alternate between systems (A B C D A B C D …)
 * and the tables show medians. Writes JSON with the ratios. Workloads: hop and fanout (below), huge
 * (lib/huge.ts: one channel, 10,000 subscribers) and storm (lib/storm.ts: 10,000 clients within 1 s);
 * idle memory per connection after them. Asked for by name, on ours only (lib/history.ts): recover (a
 * reconnecting subscriber's replay of N missed messages) and history-memory (broker memory per 1,000
 * retained messages); and the system ours-history (history on every channel) beside ours for its cost.
 *
 *   pnpm bench [--systems ours,reference,original,ceiling,socketio] [--workloads hop,fanout,huge,storm] [--rounds 3]
 *              [--hop-channels 200] [--hop-messages 50000] [--window 2000]
 *              [--fan-channels 20] [--fan-subscribers 10] [--fan-rate 5000] [--fan-duration 10]
 *              [--huge-subscribers 10000] [--huge-rates 1,20] [--huge-sizes 100,10000] [--huge-broadcasts 40] [--huge-generators 2]
 *              [--storm-clients 10000] [--storm-spread 1000] [--storm-channels 100] [--storm-flow-rate 200] [--storm-generators 2]
 *              [--recover-messages 1000,10000] [--memory-messages 100000] [--memory-channels 100]
 *              [--size 100] [--publishers 4] [--idle 10000] [--idle-systems …] [--out FILE] [--smoke]
 *              [--cpu-prof worker,broker] [--ours-env KEY=VALUE,…] [--baseline DIR]
 *
 * `--baseline DIR` adds the system `baseline`: OUR services run from the checkout DIR (built already),
 * e.g. `pnpm bench --systems baseline,ours,original,socketio --baseline ../baseline` measures before
 * and after side by side, alternating like any other system; the ratios include ours ÷ baseline.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { LoadConfig, LoadResult } from './loadgen.js';
import { selfTimes } from './lib/cpuprofile.js';
import { LoadGenerator } from './lib/loadgen-process.js';
import { heapUsedBytes } from './lib/heap-metrics.js';
import { cpuSeconds, memoryKiB } from './lib/proc.js';
import { median, round } from './lib/stats.js';
import { runHuge, SATURATED_SHARE, summarizeHuge, hugeTableRow, worstHealthMs, type HugeRecord, type HugeSummary } from './lib/huge.js';
import { runStorm, STORM_PHASES, stormTableRow, summarizeStorm, type StormPhaseSummary, type StormRecord } from './lib/storm.js';
import { FLOW_WORKLOADS, readCommandLine, RESULTS_DIR, type FlowWorkload } from './lib/command-line.js';
import { HISTORY_EVERYWHERE_ENV, isOurs, startSystem, type RunningSystem, type SystemName } from './lib/systems.js';
import { memoryPerThousand, recoverEnv, runHistoryMemory, runRecover, type MemoryRecord, type RecoverRecord } from './lib/history.js';

const { smoke, out: outFlag, systems, workloads, idleSystems, settings, hugeVariants, oursEnv, connectionLimit, cpuProf, baselineRoot, stamp, cpuProfDir, openFiles, ports, connectionsAtOnce } = readCommandLine();

function loadConfig(workload: FlowWorkload, sys: RunningSystem): LoadConfig {
  const common = { protocol: sys.protocol, publisherPorts: sys.publisherPorts, subscriberPorts: sys.subscriberPorts, publishers: settings.publishers, size: settings.size, stallMs: 5_000 };
  return workload === 'hop'
    ? { ...common, channels: settings.hopChannels, subscribersPerChannel: 1, mode: 'burst', messages: settings.hopMessages, window: settings.window, rate: 0, durationS: 0 }
    : { ...common, channels: settings.fanChannels, subscribersPerChannel: settings.fanSubscribers, mode: 'paced', messages: 0, window: 0, rate: settings.fanRate, durationS: settings.fanDurationS };
}

interface RunRecord {
  system: SystemName;
  workload: FlowWorkload;
  round: number;
  load: LoadResult;
  /** CPU seconds used during the measured phase, by role */
  cpuS: Record<string, number>;
  systemCpuS: number;
  loadgenCpuS: number;
  cpuUsPerDelivery: number;
  /** VmHWM at the end of the run (peak since start), MiB, by role */
  peakRssMiB: Record<string, number>;
}

interface IdleRecord {
  system: SystemName;
  round: number;
  connections: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  kibPerConnection: number;
  /** V8 heapUsed delta per connection from the server's /metrics (no forced GC), or null where it serves none. */
  heapKibPerConnection: number | null;
}

async function withSystem<T>(name: SystemName, body: (sys: RunningSystem, gen: LoadGenerator, gens: LoadGenerator[]) => Promise<T>, generators = 1, extraEnv: Record<string, string> = {}): Promise<T> {
  // The generators fork (and compile under tsx) while the system starts.
  const gens = Array.from({ length: generators }, () => new LoadGenerator());
  const gen = gens[0]!;
  const closeGens = async (): Promise<void> => void (await Promise.all(gens.map((g) => g.close())));
  const ourKind = isOurs(name);
  const sys = await startSystem(name, { cpuProf: ourKind ? cpuProf : new Set(), cpuProfDir, oursEnv: { ...oursEnv, ...extraEnv }, ...(baselineRoot !== undefined && { baselineRoot }) }).catch(async (error: unknown) => {
    await closeGens();
    throw error;
  });
  try {
    return await body(sys, gen, gens);
  } finally {
    await closeGens();
    await sys.close();
  }
}

function runOnce(name: SystemName, workload: FlowWorkload, roundNo: number): Promise<RunRecord> {
  return withSystem(name, async (sys, gen) => {
    const config = loadConfig(workload, sys);
    gen.send({ type: 'run', config });
    await gen.next('ready', 60_000);
    const pids = sys.processes.map(({ role, process: p }) => ({ role, pid: p.pid }));
    const before = pids.map(({ pid }) => cpuSeconds(pid));
    const genBefore = cpuSeconds(gen.pid);
    gen.send({ type: 'go' });
    const limit = workload === 'hop' ? 300_000 : settings.fanDurationS * 1000 + 60_000;
    const { result } = await gen.next('done', limit);
    const cpuS = Object.fromEntries(pids.map(({ role, pid }, i) => [role, round(cpuSeconds(pid) - before[i]!)]));
    const systemCpuS = Object.values(cpuS).reduce((a, b) => a + b, 0);
    const peakRssMiB = Object.fromEntries(pids.map(({ role, pid }) => [role, round(memoryKiB(pid).hwm / 1024)]));
    return {
      system: name,
      workload,
      round: roundNo,
      load: result,
      cpuS,
      systemCpuS: round(systemCpuS),
      loadgenCpuS: round(cpuSeconds(gen.pid) - genBefore),
      cpuUsPerDelivery: round((systemCpuS * 1e6) / Math.max(1, result.delivered)),
      peakRssMiB,
    };
  });
}

/** Bound on opening every idle connection (20,000 on a shared machine take a while), ms. */
const IDLE_CONNECT_TIMEOUT_MS = 300_000;

function idleOnce(name: SystemName, roundNo: number): Promise<IdleRecord> {
  return withSystem(name, async (sys, gen) => {
    const target = sys.idleTarget;
    const rssBefore = memoryKiB(target.pid).rss;
    const heapBefore = sys.heapMetrics ? await heapUsedBytes(target.port) : undefined;
    gen.send({ type: 'idle', protocol: sys.protocol, port: target.port, count: settings.idle });
    const { connected } = await gen.next('idle-ready', IDLE_CONNECT_TIMEOUT_MS);
    // Let handshakes' garbage settle before reading RSS (a measurement protocol, not a synchronisation).
    await new Promise((r) => setTimeout(r, 2_000));
    const rssAfter = memoryKiB(target.pid).rss;
    const heapAfter = heapBefore === undefined ? undefined : await heapUsedBytes(target.port);
    return {
      system: name,
      round: roundNo,
      connections: connected,
      rssBeforeMiB: round(rssBefore / 1024),
      rssAfterMiB: round(rssAfter / 1024),
      kibPerConnection: round((rssAfter - rssBefore) / connected),
      heapKibPerConnection: heapBefore === undefined || heapAfter === undefined ? null : round((heapAfter - heapBefore) / 1024 / connected),
    };
  });
}

const machine = {
  cpuModel: os.cpus()[0]?.model ?? '?',
  cpus: os.cpus().length,
  memoryGiB: round(os.totalmem() / 2 ** 30),
  node: process.version,
  os: `${os.type()} ${os.release()}`,
  loadAverageAtStart: os.loadavg().map((x) => round(x)),
  openFiles,
  ephemeralPorts: ports,
};
console.log(`bench: ${systems.join(', ')} × ${workloads.join(', ')}, ${settings.rounds} round(s)${smoke ? ' (smoke)' : ''}`);
console.log(`machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, node ${machine.node}, load ${machine.loadAverageAtStart.join(' ')}`);
console.log(
  `open files: ulimit -n ${openFiles.limit}${openFiles.raisedFrom === undefined ? '' : ` (raised from ${openFiles.raisedFrom} for the bench and every process it starts)`}; ` +
    `ephemeral ports ${ports === undefined ? 'unknown' : `${ports.low}–${ports.high} (${ports.count} per destination port)`}`,
);
if (connectionLimit !== undefined) console.log(`ours: SCC_MAX_CONNECTIONS=${connectionLimit} for this run (its default limit a worker would refuse ${connectionsAtOnce} connections at once on one worker with HTTP 503)`);
if (ports !== undefined && connectionsAtOnce > ports.count) console.log(`warning: ${connectionsAtOnce} connections to one port exceed the ${ports.count} ephemeral ports of 127.0.0.1`);

const flowWorkloads = FLOW_WORKLOADS.filter((w) => workloads.includes(w));
const runs: RunRecord[] = [];
const idles: IdleRecord[] = [];
const hugeRuns: HugeRecord[] = [];
const stormRuns: StormRecord[] = [];
const recoverRuns: RecoverRecord[] = [];
const memoryRuns: MemoryRecord[] = [];
/** The hop generator's burst for history-memory: every message retained (SCC_HISTORY_SIZE = messages per channel). */
const memoryPerChannel = Math.ceil(settings.memoryMessages / settings.memoryChannels);
const signed = (x: number): string => `${x >= 0 ? '+' : ''}${x}`;
const memoryConfig = (sys: RunningSystem): LoadConfig => ({
  ...loadConfig('hop', sys),
  channels: settings.memoryChannels,
  messages: settings.memoryMessages,
});
if ((workloads.includes('recover') || workloads.includes('history-memory')) && !systems.includes('ours')) console.log('recover and history-memory run on ours only: add ours to --systems');
for (let r = 1; r <= settings.rounds; r++) {
  // Alternate systems inside each round so drift on a busy machine hits all of them alike.
  for (const workload of flowWorkloads) {
    for (const name of systems) {
      const record = await runOnce(name, workload, r);
      runs.push(record);
      const l = record.load;
      console.log(
        `round ${r} ${workload.padEnd(6)} ${name.padEnd(8)} ${round(l.deliveriesPerS)} deliveries/s, p99 ${round(l.latencyMs.p99)} ms, ` +
          `${record.cpuUsPerDelivery} µs CPU/delivery, lost ${l.lost}, dup ${l.duplicated}${l.misrouted ? `, misrouted ${l.misrouted}` : ''}` +
          `${l.published < l.planned ? `, SENT ONLY ${l.published} OF ${l.planned}` : ''}`,
      );
    }
  }
  if (workloads.includes('huge')) {
    for (const variant of hugeVariants) {
      for (const name of systems) {
        // The subscribers' generators, then the publisher's own.
        const record = await withSystem(name, (sys, _gen, gens) => runHuge(sys, gens, variant, r), settings.hugeGenerators + 1);
        hugeRuns.push(record);
        const t = record.timeToLastMs;
        console.log(
          `round ${r} ${variant.name} ${name.padEnd(9)} to last subscriber p50 ${t.p50} / p99 ${t.p99} / max ${t.max} ms, ${record.cpuUsPerDelivery} µs CPU/delivery, ` +
            `published over ${record.publishSpanMs} ms (paced: ${round(((variant.broadcasts - 1) / variant.rate) * 1000)}), ` +
            `health max ${Object.entries(record.health).map(([k, v]) => `${k} ${v.maxMs}`).join(', ')} ms` +
            `${Object.keys(record.healthPort).length ? `, health port max ${Object.entries(record.healthPort).map(([k, v]) => `${k} ${v.maxMs}`).join(', ')} ms` : ''}, lost ${record.lost}, dup ${record.duplicated}, out of order ${record.outOfOrder}` +
            `${record.published < record.planned ? `, SENT ONLY ${record.published} OF ${record.planned}` : ''}${record.generatorSaturated ? ', LOAD GENERATOR SATURATED' : ''}`,
        );
      }
    }
  }
  if (workloads.includes('storm')) {
    for (const name of systems) {
      // The storm's generators, then the flow's own.
      const storm = { clients: settings.stormClients, spreadMs: settings.stormSpreadMs, channels: settings.stormChannels, flowRate: settings.stormFlowRate };
      const record = await withSystem(name, (sys, _gen, gens) => runStorm(sys, gens, storm, r), settings.stormGenerators + 1);
      stormRuns.push(record);
      for (const p of record.phases) {
        console.log(
          `round ${r} storm ${p.phase.padEnd(12)} ${name.padEnd(9)} ${p.subscribed}/${p.attempted} subscribed in ${p.allSubscribedMs} ms (client p99 ${p.clientP99Ms} ms), ` +
            `failed ${p.failed}${p.failed ? ` ${JSON.stringify(p.failures)}` : ''}; flow lost ${p.flow.lost}, dup ${p.flow.duplicated}, p99 ${p.flow.latencyMs.p99} ms` +
            `${p.generatorShare + p.generatorWaitShare >= SATURATED_SHARE ? ', LOAD GENERATOR SATURATED' : ''}`,
        );
      }
    }
  }
  if (workloads.includes('recover') && systems.includes('ours')) {
    // One system per round; each N on a channel of its own.
    const env = recoverEnv(Math.max(...settings.recoverMessages), settings.size);
    await withSystem('ours', async (sys) => {
      for (const missed of settings.recoverMessages) {
        const record = await runRecover(sys, missed, settings.size, r);
        recoverRuns.push(record);
        console.log(`round ${r} recover-${missed} ours notice after ${record.noticeMs} ms, last missed message after ${record.recoverMs} ms (publishing them took ${record.publishMs} ms), ${record.exactlyOnce ? 'exactly once in order' : `PROBLEMS: ${record.problems.join('; ')}`}`);
      }
    }, 1, env);
  }
  if (workloads.includes('history-memory') && systems.includes('ours')) {
    // History on, then the control (the same burst, history off), back to back.
    for (const historySize of [memoryPerChannel, 0]) {
      const env: Record<string, string> = historySize > 0 ? { ...HISTORY_EVERYWHERE_ENV, SCC_HISTORY_SIZE: String(historySize) } : {};
      const record = await withSystem('ours', (sys, gen) => runHistoryMemory(sys, gen, memoryConfig(sys), historySize, r), 1, env);
      memoryRuns.push(record);
      console.log(`round ${r} history-memory ${record.history ? 'on ' : 'off'} ${record.published} published over ${record.channels} channels, ${record.retained} retained: brokers RSS ${signed(record.rssDeltaMiB)} MiB, heap ${record.heapDeltaMiB === null ? 'n/a' : signed(record.heapDeltaMiB)} MiB, lost ${record.lost}, dup ${record.duplicated}`);
    }
  }
  if (settings.idle > 0) {
    for (const name of idleSystems) {
      const record = await idleOnce(name, r);
      idles.push(record);
      console.log(`round ${r} idle   ${name.padEnd(8)} ${record.connections} connections: ${record.kibPerConnection} KiB RSS each, heap ${record.heapKibPerConnection ?? 'n/a'} KiB each`);
    }
  }
}

interface Summary {
  deliveriesPerS: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  cpuUsPerDelivery: number;
  peakRssMiB: number;
  loadgenCpuUsPerDelivery: number;
  lost: number;
  duplicated: number;
  /** Planned messages never sent (a stalled run), over every run. */
  unsent: number;
  runs: number;
}
const summary: Partial<Record<FlowWorkload, Partial<Record<SystemName, Summary>>>> = {};
for (const workload of flowWorkloads) {
  const bySystem: Partial<Record<SystemName, Summary>> = {};
  for (const name of systems) {
    const rs = runs.filter((r) => r.system === name && r.workload === workload);
    const m = (f: (r: RunRecord) => number): number => round(median(rs.map(f)));
    bySystem[name] = {
      deliveriesPerS: m((r) => r.load.deliveriesPerS),
      p50Ms: m((r) => r.load.latencyMs.p50),
      p95Ms: m((r) => r.load.latencyMs.p95),
      p99Ms: m((r) => r.load.latencyMs.p99),
      maxMs: m((r) => r.load.latencyMs.max),
      cpuUsPerDelivery: m((r) => r.cpuUsPerDelivery),
      peakRssMiB: m((r) => Math.max(...Object.values(r.peakRssMiB))),
      loadgenCpuUsPerDelivery: m((r) => (r.loadgenCpuS * 1e6) / Math.max(1, r.load.delivered)),
      lost: rs.reduce((n, r) => n + r.load.lost, 0),
      duplicated: rs.reduce((n, r) => n + r.load.duplicated + r.load.misrouted, 0),
      unsent: rs.reduce((n, r) => n + (r.load.planned - r.load.published), 0),
      runs: rs.length,
    };
  }
  summary[workload] = bySystem;
}
const idleSummary: Partial<Record<SystemName, number>> = {};
for (const name of systems) {
  const xs = idles.filter((i) => i.system === name).map((i) => i.kibPerConnection);
  if (xs.length) idleSummary[name] = round(median(xs));
}
/** Heap (V8 heapUsed from /metrics) per idle connection, KiB; null where the system serves no /metrics. */
const idleHeapSummary: Partial<Record<SystemName, number | null>> = {};
for (const name of systems) {
  const rs = idles.filter((i) => i.system === name);
  if (rs.length) idleHeapSummary[name] = rs.some((i) => i.heapKibPerConnection === null) ? null : round(median(rs.map((i) => i.heapKibPerConnection!)));
}
/** Per huge variant and system: medians over rounds. */
const hugeSummary: Record<string, Partial<Record<SystemName, HugeSummary>>> = {};
for (const variant of workloads.includes('huge') ? hugeVariants : []) {
  const bySystem: Partial<Record<SystemName, HugeSummary>> = {};
  for (const name of systems) {
    const rs = hugeRuns.filter((r) => r.system === name && r.workload === variant.name);
    if (rs.length) bySystem[name] = summarizeHuge(rs);
  }
  hugeSummary[variant.name] = bySystem;
}

const stormSummary: Partial<Record<SystemName, Partial<Record<(typeof STORM_PHASES)[number], StormPhaseSummary>>>> = {};
for (const name of systems) {
  const rs = stormRuns.filter((r) => r.system === name);
  if (rs.length) stormSummary[name] = summarizeStorm(rs);
}

/** Per recover size: the time to the last missed message over rounds, and whether every run was exactly once. */
const recoverSummary: Record<string, { medianMs: number; minMs: number; maxMs: number; noticeMedianMs: number; runs: number; exactlyOnce: boolean }> = {};
for (const missed of workloads.includes('recover') ? settings.recoverMessages : []) {
  const rs = recoverRuns.filter((x) => x.missed === missed);
  if (!rs.length) continue;
  const ms = rs.map((x) => x.recoverMs);
  recoverSummary[`recover-${missed}`] = { medianMs: round(median(ms)), minMs: Math.min(...ms), maxMs: Math.max(...ms), noticeMedianMs: round(median(rs.map((x) => x.noticeMs))), runs: rs.length, exactlyOnce: rs.every((x) => x.exactlyOnce) };
}
const historyMemory = memoryRuns.length
  ? { perThousandRetained: memoryPerThousand(memoryRuns.filter((x) => x.history), memoryRuns.filter((x) => !x.history), median), messageBytes: settings.size }
  : undefined;

/** The systems ours is divided by, baseline first (before/after), then the others. */
const RATIO_BASES = ['baseline', 'reference', 'original', 'socketio', 'ceiling'] as const;
/** [numerator, denominator] of every ratio: ours ÷ each base, and ours with history everywhere ÷ ours (its cost). */
const RATIO_PAIRS: ReadonlyArray<readonly [SystemName, SystemName]> = [
  ...RATIO_BASES.map((b) => ['ours', b] as const),
  ['ours-history', 'ours'],
  ['ours-history-elsewhere', 'ours'],
];

/** ours ÷ other for each figure (throughput > 1 is better for ours; latency, CPU and memory < 1 are). */
const ratios: Record<string, Record<string, number>> = {};
for (const [num, other] of RATIO_PAIRS) {
  if (!systems.includes(num) || !systems.includes(other)) continue;
  const r: Record<string, number> = {};
  for (const workload of flowWorkloads) {
    const ours = summary[workload]![num]!;
    const them = summary[workload]![other]!;
    r[`${workload}.throughput`] = round(ours.deliveriesPerS / them.deliveriesPerS);
    r[`${workload}.p99`] = round(ours.p99Ms / them.p99Ms);
    r[`${workload}.cpuPerDelivery`] = round(ours.cpuUsPerDelivery / them.cpuUsPerDelivery);
  }
  for (const [variant, bySystem] of Object.entries(hugeSummary)) {
    const ours = bySystem[num];
    const them = bySystem[other];
    if (ours === undefined || them === undefined) continue;
    r[`${variant}.timeToLastP99`] = round(ours.timeToLastP99Ms / them.timeToLastP99Ms);
    r[`${variant}.cpuPerDelivery`] = round(ours.cpuUsPerDelivery / them.cpuUsPerDelivery);
    r[`${variant}.healthCheckMax`] = round(worstHealthMs(ours, '/health-check') / worstHealthMs(them, '/health-check'));
  }
  for (const phase of STORM_PHASES) {
    const ours = stormSummary[num]?.[phase];
    const them = stormSummary[other]?.[phase];
    if (ours === undefined || them === undefined) continue;
    r[`storm.${phase}.allSubscribed`] = round(ours.allSubscribedMs / them.allSubscribedMs);
    r[`storm.${phase}.flowP99`] = round(ours.flowP99Ms / them.flowP99Ms);
  }
  const idleOurs = idleSummary[num];
  if (idleOurs !== undefined && idleSummary[other] !== undefined) r['idle.memoryPerConnection'] = round(idleOurs / idleSummary[other]);
  const heapOurs = idleHeapSummary[num];
  const heapThem = idleHeapSummary[other];
  if (typeof heapOurs === 'number' && typeof heapThem === 'number') r['idle.heapPerConnection'] = round(heapOurs / heapThem);
  ratios[`${num}/${other}`] = r;
}

/**
 * The same ratios taken round by round (ours in round r ÷ the other in round r, whose runs were
 * back to back) and then the median: steadier than a ratio of medians when the machine's load drifts.
 */
const pairedRatios: Record<string, Record<string, number>> = {};
for (const [num, other] of RATIO_PAIRS) {
  if (!systems.includes(num) || !systems.includes(other)) continue;
  const r: Record<string, number> = {};
  for (const workload of flowWorkloads) {
    const pairs = Array.from({ length: settings.rounds }, (_, i) => {
      const find = (name: SystemName): RunRecord | undefined => runs.find((x) => x.system === name && x.workload === workload && x.round === i + 1);
      return [find(num), find(other)] as const;
    }).filter((p): p is readonly [RunRecord, RunRecord] => p[0] !== undefined && p[1] !== undefined);
    const m = (f: (x: RunRecord) => number): number => round(median(pairs.map(([a, b]) => f(a) / f(b))));
    r[`${workload}.throughput`] = m((x) => x.load.deliveriesPerS);
    r[`${workload}.p99`] = m((x) => x.load.latencyMs.p99);
    r[`${workload}.cpuPerDelivery`] = m((x) => x.cpuUsPerDelivery);
  }
  pairedRatios[`${num}/${other}`] = r;
}

const descriptions: Record<FlowWorkload, string> = {
  hop: `hop-bound: ${settings.hopChannels} channels × 1 subscriber, burst of ${settings.hopMessages} messages (≤ ${settings.window} in flight)`,
  fanout: `fan-out: ${settings.fanChannels} channels × ${settings.fanSubscribers} subscribers, ${settings.fanRate} publishes/s = ${settings.fanRate * settings.fanSubscribers} deliveries/s for ${settings.fanDurationS} s`,
};
for (const workload of flowWorkloads) {
  console.log(`\n${descriptions[workload]}, ${settings.size}-byte messages, medians of ${settings.rounds}`);
  console.table(
    Object.fromEntries(
      Object.entries(summary[workload]!).map(([name, s]) => [
        name,
        { 'deliveries/s': s.deliveriesPerS, 'p50 ms': s.p50Ms, 'p95 ms': s.p95Ms, 'p99 ms': s.p99Ms, 'max ms': s.maxMs, 'CPU µs/delivery': s.cpuUsPerDelivery, 'peak RSS MiB': s.peakRssMiB, 'loadgen µs/delivery': s.loadgenCpuUsPerDelivery, lost: s.lost, dup: s.duplicated, unsent: s.unsent },
      ]),
    ),
  );
}
for (const variant of workloads.includes('huge') ? hugeVariants : []) {
  console.log(
    `\n${variant.name}: one channel, ${variant.subscribers} subscribers alternating worker A / B, ${variant.broadcasts} broadcasts of ${variant.size} B at ${variant.rate}/s from worker A, ` +
      `${settings.hugeGenerators} generator process(es); time from publish to the LAST subscriber over broadcasts, health polled every 100 ms; medians of ${settings.rounds}`,
  );
  console.table(Object.fromEntries(Object.entries(hugeSummary[variant.name]!).map(([name, s]) => [name, hugeTableRow(s)])));
}
if (stormRuns.length) {
  for (const phase of STORM_PHASES) {
    const where = phase === 'one worker' ? 'to worker B' : phase === 'both workers' ? 'alternating worker A / B' : 'after all dropped at once, again alternating A / B';
    console.log(
      `\nstorm, ${phase}: ${settings.stormClients} clients connect within ${settings.stormSpreadMs} ms ${where}, each subscribing to one of ${settings.stormChannels} channels; ` +
        `a flow of ${settings.stormFlowRate} msg/s between clients connected before keeps going; medians of ${settings.rounds} (failures summed)`,
    );
    console.table(Object.fromEntries(Object.entries(stormSummary).flatMap(([name, byPhase]) => (byPhase[phase] ? [[name, stormTableRow(byPhase[phase])]] : []))));
  }
}
if (Object.keys(idleSummary).length) {
  console.log(`\nidle memory: ${settings.idle} connections on one worker, RSS delta (/proc) and heapUsed delta (the worker's /metrics, no forced GC; n/a without /metrics) per connection, median of ${settings.rounds}`);
  console.table(Object.fromEntries(Object.entries(idleSummary).map(([name, kib]) => [name, { 'RSS KiB/connection': kib, 'heap KiB/connection': idleHeapSummary[name as SystemName] ?? 'n/a' }])));
}
if (Object.keys(recoverSummary).length) {
  console.log(`\nrecover: a subscriber away while N messages of ${settings.size} B went by subscribes again with its position on the other worker; from that subscribe to the last missed message, over ${settings.rounds} round(s)`);
  console.table(Object.fromEntries(Object.entries(recoverSummary).map(([k, s]) => [k, { 'median ms': s.medianMs, 'min ms': s.minMs, 'max ms': s.maxMs, 'notice median ms': s.noticeMedianMs, 'exactly once': s.exactlyOnce }])));
}
if (historyMemory) {
  const p = historyMemory.perThousandRetained;
  console.log(`\nhistory-memory: ${settings.memoryMessages} messages of ${settings.size} B over ${settings.memoryChannels} channels, ${p.retained} retained; both brokers' growth with history minus without (no forced GC), median of ${settings.rounds}`);
  console.table({ 'per 1,000 retained': { 'RSS KiB': p.rssKiB, 'heap KiB': p.heapKiB ?? 'n/a' } });
}
if (Object.keys(ratios).length) {
  // One row per figure, one column per system divided by (the figures outnumber the systems).
  const byFigure = (table: Record<string, Record<string, number>>): Record<string, Record<string, number>> => {
    const out: Record<string, Record<string, number>> = {};
    for (const [column, figures] of Object.entries(table)) for (const [figure, value] of Object.entries(figures)) (out[figure] ??= {})[column] = value;
    return out;
  };
  console.log('\nratios, column ÷ other (ours ÷ each system, ours-history and ours-history-elsewhere ÷ ours; throughput: higher is better; latency, CPU, memory, health latency: lower is better)');
  console.table(byFigure(ratios));
  if (flowWorkloads.length) {
    console.log('\nhop and fan-out, round by round then the median (each pair ran back to back)');
    console.table(byFigure(pairedRatios));
  }
}

let profiles: Record<string, ReturnType<typeof selfTimes>> | undefined;
if (cpuProf.size) {
  profiles = {};
  const files = readdirSync(cpuProfDir).filter((f) => f.endsWith('.cpuprofile'));
  for (const kind of ['ours', 'ours-history', 'ours-history-elsewhere', 'baseline'] as const) {
    for (const role of cpuProf) {
      const mine = files.filter((f) => f.startsWith(`${kind}-${role}-`)).map((f) => join(cpuProfDir, f));
      if (!mine.length) continue;
      // Ours keep their bare role as the key (as before); the baseline's are prefixed.
      const key = kind === 'ours' ? role : `${kind}-${role}`;
      profiles[key] = selfTimes(mine);
      console.log(`\n${kind} ${role}: top self time over ${mine.length} profile(s) in ${cpuProfDir} (${profiles[key].totalMs} ms busy)`);
      console.table(profiles[key].functions.map((f) => ({ 'self ms': f.ms, share: f.share, function: f.fn })));
    }
  }
}

// A run that stalled before sending every planned message is not loss-free: what it never sent was
// never counted as lost.
const lossFree =
  runs.every((r) => r.load.lost === 0 && r.load.duplicated === 0 && r.load.misrouted === 0 && r.load.published > 0 && r.load.published === r.load.planned) &&
  hugeRuns.every((r) => r.lost === 0 && r.duplicated === 0 && r.outOfOrder === 0 && r.published > 0 && r.published === r.planned) &&
  stormRuns.every((r) => r.flow.lost === 0 && r.flow.duplicated === 0 && r.flow.outOfOrder === 0 && r.flow.published > 0) &&
  recoverRuns.every((r) => r.exactlyOnce) &&
  memoryRuns.every((r) => r.lost === 0 && r.duplicated === 0 && r.published === settings.memoryMessages);
/** Storm clients that failed to connect, handshake or subscribe, or were dropped (the target is 0). */
const stormFailures = stormRuns.reduce((n, r) => n + r.phases.reduce((k, p) => k + p.failed, 0), 0);
const report = { bench: 'throughput', date: new Date().toISOString(), command: process.argv.slice(2).join(' '), machine, settings, oursEnv, baselineRoot, systems, workloads, lossFree, summary, huge: hugeSummary, storm: stormSummary, stormFailures, recover: recoverSummary, historyMemory, idle: idleSummary, idleHeap: idleHeapSummary, ratios, pairedRatios, profiles, runs, hugeRuns, stormRuns, recoverRuns, memoryRuns, idleRuns: idles };
const out = outFlag ?? join(RESULTS_DIR, `bench-${stamp}${smoke ? '-smoke' : ''}.json`);
mkdirSync(join(out, '..'), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(
  `\n${lossFree ? 'every planned message sent; none lost or duplicated' : 'MESSAGES LOST, DUPLICATED OR NEVER SENT (see lost/dup/unsent above)'}` +
    `${stormRuns.length ? (stormFailures === 0 ? '; no storm client failed' : `; ${stormFailures} STORM CLIENT FAILURES`) : ''}; JSON written to ${out}`,
);
