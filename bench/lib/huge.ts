/**
 * The `huge` workload, parent side: one channel with N subscribers split over both workers
 * (subscriber connections alternate worker A / worker B), one publisher on worker A, B broadcasts at a
 * fixed rate. The subscribers are spread over G generator processes (lib/gen-huge.ts) so that the
 * generator is not the bottleneck, and the publisher has a process of its own; each reports per broadcast when its last subscriber got it, and the
 * time to the LAST subscriber is the latest of those minus the publish time (lib/clock.ts). Measured
 * alongside: CPU of every server process (and per delivery), peak RSS per process, each generator's own
 * CPU (saturated at ≥ 90% of a core), and /health-check and /ready latency (lib/health-poller.ts) on
 * the main port and, for a system that has one (ours: SCC_HEALTH_PORT), on the health port.
 */
import type { HugeSliceResult } from './gen-huge.js';
import { HealthPoller, type HealthReport } from './health-poller.js';
import type { LoadGenerator } from './loadgen-process.js';
import { cpuSeconds, memoryKiB, runQueueWaitSeconds } from './proc.js';
import { median, percentile, round } from './stats.js';
import type { RunningSystem, SystemName } from './systems.js';

export interface HugeVariant {
  /** e.g. `huge-20/s-100B` */
  name: string;
  subscribers: number;
  broadcasts: number;
  /** Broadcasts per second. */
  rate: number;
  /** Approximate JSON size of one message, bytes. */
  size: number;
}

/** The channel every subscriber of the workload listens to. */
const HUGE_CHANNEL = 'huge';
/** Bound on connecting and subscribing every subscriber, ms. */
const SUBSCRIBE_TIMEOUT_MS = 300_000;
/** Bound on priming (every subscriber got a marker), and the period of the markers, ms. */
const PRIME_TIMEOUT_MS = 60_000;
const PRIME_INTERVAL_MS = 250;
/**
 * ms without any delivery, after the last broadcast was due, that ends a run: what has not arrived by
 * then counts as lost. Long, because a system overwhelmed by a huge channel can starve its event loop
 * for many seconds and still deliver afterwards (late is not lost).
 */
const STALL_MS = 30_000;
/**
 * A generator process that ran or waited for a CPU this share of the time or more is reported
 * saturated: it had work all along, so its delays are in the figures (on a shared machine it may be
 * starved, waiting, rather than running).
 */
export const SATURATED_SHARE = 0.9;

export interface GeneratorFigures {
  pid: number;
  subscribers: number;
  cpuS: number;
  /** CPU seconds ÷ wall seconds of the measured phase (1 = one core busy). */
  share: number;
  /** Seconds waited on a run queue ÷ wall seconds (starved, not idle). */
  waitShare: number;
}

export interface HugeRecord {
  system: SystemName;
  workload: string;
  round: number;
  subscribers: number;
  /** Broadcasts planned and actually published. */
  planned: number;
  published: number;
  /** First to last publish, ms: (broadcasts - 1) / rate when the publisher kept its pace. */
  publishSpanMs: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  /** Broadcasts that did not reach every subscriber (their time to last is unknown). */
  incomplete: number;
  /** Publish to the last subscriber, over the complete broadcasts, ms. */
  timeToLastMs: { p50: number; p99: number; max: number };
  /** The same per broadcast in publish order (null: not every subscriber got it), ms. */
  timeToLastByBroadcastMs: Array<number | null>;
  seconds: number;
  cpuS: Record<string, number>;
  systemCpuS: number;
  cpuUsPerDelivery: number;
  /** VmHWM at the end of the run (peak since start), MiB, by role. */
  peakRssMiB: Record<string, number>;
  generators: GeneratorFigures[];
  generatorSaturated: boolean;
  /** The main ports' endpoints. */
  health: HealthReport;
  /** The health ports' endpoints, keyed as `health` (`worker-a /ready`); empty for a system without one. */
  healthPort: HealthReport;
}

/** Subscriber slices: as even as possible, the publisher with the first. */
function slices(total: number, generators: number): Array<{ first: number; count: number }> {
  const out: Array<{ first: number; count: number }> = [];
  let first = 0;
  for (let g = 0; g < generators; g++) {
    const count = Math.floor(total / generators) + (g < total % generators ? 1 : 0);
    out.push({ first, count });
    first += count;
  }
  return out;
}

/**
 * `gens`: the subscribers' generators then, last, the publisher's own (so that its pacing does not
 * wait behind thousands of deliveries to subscribers in the same process).
 */
export async function runHuge(sys: RunningSystem, gens: readonly LoadGenerator[], variant: HugeVariant, roundNo: number): Promise<HugeRecord> {
  const publisherAt = gens.length - 1;
  // The publisher's process holds no subscriber.
  const parts = [...slices(variant.subscribers, gens.length - 1), { first: variant.subscribers, count: 0 }];
  const ports = [...new Set([...sys.publisherPorts, ...sys.subscriberPorts])];
  gens.forEach((gen, g) =>
    gen.send({
      type: 'huge-subscribe',
      protocol: sys.protocol,
      channel: HUGE_CHANNEL,
      ports,
      first: parts[g]!.first,
      count: parts[g]!.count,
      ...(g === publisherAt && { publisherPort: sys.publisherPorts[0]! }),
    }),
  );
  await Promise.all(gens.map((gen) => gen.next('huge-subscribed', SUBSCRIBE_TIMEOUT_MS)));

  // Prime until every slice saw a marker on every subscriber: the upstream subscriptions are in place.
  const primed = new Set<number>();
  const primeDeadline = Date.now() + PRIME_TIMEOUT_MS;
  while (primed.size < gens.length) {
    if (Date.now() > primeDeadline) throw new Error(`huge: ${primed.size}/${gens.length} generator slices primed within ${PRIME_TIMEOUT_MS} ms`);
    gens[publisherAt]!.send({ type: 'huge-prime' });
    await new Promise((r) => setTimeout(r, PRIME_INTERVAL_MS));
    gens.forEach((gen, g) => {
      if (gen.take('huge-primed')) primed.add(g);
    });
  }

  // Every slice records before any broadcast goes out (a slice told late would take one for a marker).
  const go = { broadcasts: variant.broadcasts, rate: variant.rate, size: variant.size, stallMs: STALL_MS };
  for (const gen of gens) gen.send({ type: 'huge-arm', go });
  await Promise.all(gens.map((gen) => gen.next('huge-armed', 30_000)));

  const pids = sys.processes.map(({ role, process: p }) => ({ role, pid: p.pid }));
  const before = pids.map(({ pid }) => cpuSeconds(pid));
  const gensBefore = gens.map((gen) => cpuSeconds(gen.pid));
  const gensWaitBefore = gens.map((gen) => runQueueWaitSeconds(gen.pid));
  const poller = new HealthPoller(sys.health);
  const portPoller = new HealthPoller(sys.healthPort);
  const startedAt = Date.now();
  for (const gen of gens) gen.send({ type: 'huge-go' });
  const limitMs = (variant.broadcasts / variant.rate) * 1000 + STALL_MS + 120_000;
  let results: HugeSliceResult[];
  try {
    results = await Promise.all(gens.map((gen) => gen.next('huge-done', limitMs).then((m) => m.result)));
  } finally {
    await Promise.all([poller.stop(), portPoller.stop()]);
  }
  const seconds = (Date.now() - startedAt) / 1000;
  const health = await poller.stop();
  const healthPort = await portPoller.stop();
  const cpuS = Object.fromEntries(pids.map(({ role, pid }, i) => [role, round(cpuSeconds(pid) - before[i]!)]));
  const systemCpuS = Object.values(cpuS).reduce((a, b) => a + b, 0);
  const peakRssMiB = Object.fromEntries(pids.map(({ role, pid }) => [role, round(memoryKiB(pid).hwm / 1024)]));
  const generators = gens.map((gen, g) => {
    const used = cpuSeconds(gen.pid) - gensBefore[g]!;
    const waited = runQueueWaitSeconds(gen.pid) - gensWaitBefore[g]!;
    return { pid: gen.pid, subscribers: parts[g]!.count, cpuS: round(used), share: round(used / seconds), waitShare: round(waited / seconds) };
  });

  const sentAt = results[publisherAt]!.sentAt ?? [];
  const published = sentAt.length;
  const timeToLast: number[] = [];
  const byBroadcast: Array<number | null> = [];
  let incomplete = 0;
  for (let b = 0; b < published; b++) {
    const complete = results.every((r, g) => r.received[b] === parts[g]!.count);
    if (!complete) {
      incomplete += 1;
      byBroadcast.push(null);
      continue;
    }
    // A slice without subscribers has no last delivery to count.
    const ms = Math.max(...results.map((r, g) => (parts[g]!.count === 0 ? -Infinity : r.lastAt[b]!))) - sentAt[b]!;
    timeToLast.push(ms);
    byBroadcast.push(round(ms));
  }
  const sorted = Float64Array.from(timeToLast).sort();
  const sum = (f: (r: HugeSliceResult) => number): number => results.reduce((n, r) => n + f(r), 0);
  const delivered = sum((r) => r.delivered);
  // What each slice counted as lost includes broadcasts never published; count only the published ones.
  const expected = published * variant.subscribers;
  return {
    system: sys.name,
    workload: variant.name,
    round: roundNo,
    subscribers: variant.subscribers,
    planned: variant.broadcasts,
    published,
    publishSpanMs: round(published > 1 ? sentAt[published - 1]! - sentAt[0]! : 0),
    expected,
    delivered,
    lost: expected - delivered,
    duplicated: sum((r) => r.duplicated),
    outOfOrder: sum((r) => r.outOfOrder),
    incomplete,
    timeToLastMs: { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted.length ? sorted[sorted.length - 1]! : NaN) },
    timeToLastByBroadcastMs: byBroadcast,
    seconds: round(seconds),
    cpuS,
    systemCpuS: round(systemCpuS),
    cpuUsPerDelivery: round((systemCpuS * 1e6) / Math.max(1, delivered)),
    peakRssMiB,
    generators,
    generatorSaturated: generators.some((g) => g.share + g.waitShare >= SATURATED_SHARE),
    health,
    healthPort,
  };
}

export interface HugeSummary {
  timeToLastP50Ms: number;
  timeToLastP99Ms: number;
  timeToLastMaxMs: number;
  cpuUsPerDelivery: number;
  /** Peak RSS of each process (median over rounds), MiB. */
  peakRssMiB: Record<string, number>;
  /** Per endpoint (`worker-a /health-check` …): the median over rounds of each run's max and p99, ms. */
  healthMaxMs: Record<string, number>;
  healthP99Ms: Record<string, number>;
  /** Health polls that failed or timed out, over every run. */
  healthFailures: number;
  /** As healthMaxMs / healthP99Ms / healthFailures, on the health port (empty / 0 for a system without one). */
  healthPortMaxMs: Record<string, number>;
  healthPortP99Ms: Record<string, number>;
  healthPortFailures: number;
  /** The busiest generator process's CPU share of one core, and its share waiting for one (medians over rounds). */
  generatorShare: number;
  generatorWaitShare: number;
  generatorSaturated: boolean;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  unsent: number;
  runs: number;
}

/** Medians over rounds (sums for lost / duplicated / out of order / unsent). */
export function summarizeHuge(records: readonly HugeRecord[]): HugeSummary {
  const m = (f: (r: HugeRecord) => number): number => round(median(records.map(f)));
  const keys = (f: (r: HugeRecord) => Record<string, unknown>): string[] => [...new Set(records.flatMap((r) => Object.keys(f(r))))];
  const perKey = (names: string[], f: (r: HugeRecord, key: string) => number): Record<string, number> => Object.fromEntries(names.map((k) => [k, m((r) => f(r, k))]));
  const endpoints = keys((r) => r.health);
  const portEndpoints = keys((r) => r.healthPort);
  return {
    timeToLastP50Ms: m((r) => r.timeToLastMs.p50),
    timeToLastP99Ms: m((r) => r.timeToLastMs.p99),
    timeToLastMaxMs: m((r) => r.timeToLastMs.max),
    cpuUsPerDelivery: m((r) => r.cpuUsPerDelivery),
    peakRssMiB: perKey(keys((r) => r.peakRssMiB), (r, k) => r.peakRssMiB[k] ?? NaN),
    healthMaxMs: perKey(endpoints, (r, k) => r.health[k]?.maxMs ?? NaN),
    healthP99Ms: perKey(endpoints, (r, k) => r.health[k]?.p99Ms ?? NaN),
    healthFailures: records.reduce((n, r) => n + Object.values(r.health).reduce((k, e) => k + e.failures, 0), 0),
    healthPortMaxMs: perKey(portEndpoints, (r, k) => r.healthPort[k]?.maxMs ?? NaN),
    healthPortP99Ms: perKey(portEndpoints, (r, k) => r.healthPort[k]?.p99Ms ?? NaN),
    healthPortFailures: records.reduce((n, r) => n + Object.values(r.healthPort).reduce((k, e) => k + e.failures, 0), 0),
    generatorShare: m((r) => Math.max(...r.generators.map((g) => g.share))),
    generatorWaitShare: m((r) => Math.max(...r.generators.map((g) => g.waitShare))),
    generatorSaturated: records.some((r) => r.generatorSaturated),
    lost: records.reduce((n, r) => n + r.lost, 0),
    duplicated: records.reduce((n, r) => n + r.duplicated, 0),
    outOfOrder: records.reduce((n, r) => n + r.outOfOrder, 0),
    unsent: records.reduce((n, r) => n + r.planned - r.published, 0),
    runs: records.length,
  };
}

/** `a / b` of two figures keyed by role or endpoint, in the table. */
function pair(values: Record<string, number>, a: string, b: string): string {
  const one = values[a];
  const two = values[b];
  if (one === undefined && two === undefined) return 'n/a';
  return two === undefined ? String(one) : `${one ?? 'n/a'} / ${two}`;
}

/** One table row per system. */
export function hugeTableRow(s: HugeSummary): Record<string, string | number> {
  const a = (path: string): string => (s.healthMaxMs[`worker-a ${path}`] === undefined ? `server ${path}` : `worker-a ${path}`);
  return {
    'to last p50 ms': s.timeToLastP50Ms,
    'to last p99 ms': s.timeToLastP99Ms,
    'to last max ms': s.timeToLastMaxMs,
    'CPU µs/delivery': s.cpuUsPerDelivery,
    'worker RSS MiB a / b': pair(s.peakRssMiB, s.peakRssMiB['worker-a'] === undefined ? 'server' : 'worker-a', 'worker-b'),
    'health-check max ms a / b': pair(s.healthMaxMs, a('/health-check'), 'worker-b /health-check'),
    'health-check p99 ms a / b': pair(s.healthP99Ms, a('/health-check'), 'worker-b /health-check'),
    'ready max ms a / b': pair(s.healthMaxMs, a('/ready'), 'worker-b /ready'),
    'health port: health-check max ms a / b': pair(s.healthPortMaxMs, a('/health-check'), 'worker-b /health-check'),
    'health port: ready max ms a / b': pair(s.healthPortMaxMs, a('/ready'), 'worker-b /ready'),
    'loadgen CPU / wait share': `${s.generatorShare} / ${s.generatorWaitShare}${s.generatorSaturated ? ' SATURATED' : ''}`,
    lost: s.lost,
    dup: s.duplicated,
    'out of order': s.outOfOrder,
    unsent: s.unsent,
  };
}

/** The worst /health-check (or /ready) max over a system's front servers, ms. */
export function worstHealthMs(s: HugeSummary, path: string): number {
  const xs = Object.entries(s.healthMaxMs)
    .filter(([k]) => k.endsWith(` ${path}`))
    .map(([, v]) => v);
  return xs.length ? Math.max(...xs) : NaN;
}
