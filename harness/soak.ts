/**
 * The soak behind `pnpm soak` and test/integration/soak.test.ts: a local cluster (1 state, 2 brokers,
 * 2 workers as child processes) under connect / subscribe / publish / disconnect churn, while stable
 * subscribers on both workers receive numbered messages on stable channels. Samples every process's
 * RSS (from /proc/<pid>/status) and live heap (a preloaded sampler logs process.memoryUsage() after a
 * full GC), then reports the trend after warm-up and the loss on the stable subscriptions.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import socketClusterClient from 'socketcluster-client';
import { Collector, type Client } from './clients.js';
import { primeChannels } from './clients.js';
import { startCluster } from './cluster.js';
import { stopAll, type ServiceProcess } from './service-process.js';
import { crashReport, type CrashReport } from './fuzz-campaign.js';
import { RawSocket, scUrl } from './raw.js';

const SAMPLER = fileURLToPath(new URL('./heap-sampler.cjs', import.meta.url));

export interface SoakOptions {
  durationMs: number;
  /** Samples before this (from the start of churn) are not used for the trend, ms. */
  warmupMs: number;
  sampleMs: number;
  /** Churning clients running at once. */
  churners: number;
  stableChannels: number;
  /** Each stable publisher (one per worker) publishes one message every this many ms. */
  publishIntervalMs: number;
  log?: (line: string) => void;
}

export interface MemorySample {
  /** ms since churn started */
  t: number;
  rssMB: number;
  heapMB: number | null;
}

export interface ProcessTrend {
  name: string;
  pid: number;
  samples: number;
  rssSlopeMBPerMin: number;
  heapSlopeMBPerMin: number;
  rssRangeMB: number;
  heapRangeMB: number;
  rssStartMB: number;
  rssEndMB: number;
  heapStartMB: number;
  heapEndMB: number;
}

export interface SoakReport {
  durationMs: number;
  warmupMs: number;
  processes: ProcessTrend[];
  churn: { connections: number; subscriptions: number; publishes: number; errors: number };
  stable: { channels: number; subscribers: number; published: number; expected: number; received: number; missing: number; duplicates: number };
  crashes: CrashReport[];
  crashCount: number;
}

const MB = 1024 * 1024;

/** RSS of a live process in MB, from /proc (Linux). */
export function rssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** Least-squares slope of y over x. */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function latestHeapMB(service: ServiceProcess, since: number): number | null {
  for (let i = service.logs.length - 1; i >= 0; i--) {
    const line = service.logs[i]!;
    if (line.msg === 'heap-sample') return typeof line['t'] === 'number' && line['t'] >= since ? (line['heapUsed'] as number) / MB : null;
  }
  return null;
}

function trend(name: string, service: ServiceProcess, samples: MemorySample[], warmupMs: number): ProcessTrend {
  const used = samples.filter((s) => s.t >= warmupMs);
  const minutes = used.map((s) => s.t / 60_000);
  const rss = used.map((s) => s.rssMB);
  const heapSamples = used.filter((s) => s.heapMB !== null);
  const heap = heapSamples.map((s) => s.heapMB!);
  const range = (v: number[]): number => (v.length ? Math.max(...v) - Math.min(...v) : 0);
  return {
    name,
    pid: service.pid,
    samples: used.length,
    rssSlopeMBPerMin: slope(minutes, rss),
    heapSlopeMBPerMin: slope(heapSamples.map((s) => s.t / 60_000), heap),
    rssRangeMB: range(rss),
    heapRangeMB: range(heap),
    rssStartMB: rss[0] ?? 0,
    rssEndMB: rss.at(-1) ?? 0,
    heapStartMB: heap[0] ?? 0,
    heapEndMB: heap.at(-1) ?? 0,
  };
}

function createClient(port: number): Client {
  return socketClusterClient.create({ hostname: '127.0.0.1', port, autoReconnect: false, connectTimeout: 5000 });
}

function destroy(client: Client): void {
  client.disconnect();
  client.closeAllChannels();
  client.closeAllListeners();
  client.closeAllReceivers();
  client.closeAllProcedures();
}

/** Churn counts, shared by every churner. */
interface Churn {
  connections: number;
  subscriptions: number;
  publishes: number;
  errors: number;
}

/** Bound on each raw call of a dropping client, ms. */
const RAW_CALL_TIMEOUT_MS = 5000;

/** A churn client that handshakes, subscribes, publishes over a raw socket and then drops the TCP connection. */
async function droppingClient(port: number, channels: string[], n: number, churn: Churn): Promise<void> {
  const raw = new RawSocket(scUrl(port));
  try {
    if ((await raw.handshake(RAW_CALL_TIMEOUT_MS)).kind !== 'replied') throw new Error('handshake failed');
    churn.connections += 1;
    for (const channel of channels) {
      if ((await raw.outcome(raw.invoke('#subscribe', { channel }), RAW_CALL_TIMEOUT_MS)).kind !== 'replied') throw new Error('subscribe failed');
      churn.subscriptions += 1;
    }
    for (let k = 0; k < 1 + (n % 5); k++) {
      const outcome = await raw.outcome(raw.invoke('#publish', { channel: channels[k % channels.length]!, data: { churn: n, k, pad: 'x'.repeat(n % 512) } }), RAW_CALL_TIMEOUT_MS);
      if (outcome.kind !== 'replied') throw new Error('publish failed');
      churn.publishes += 1;
    }
    await new Promise((r) => setTimeout(r, 20 + (n % 10) * 30));
  } catch {
    churn.errors += 1;
  } finally {
    raw.terminate();
  }
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const env = { NODE_OPTIONS: `--require ${SAMPLER}`, SCC_SOAK_SAMPLE_MS: String(options.sampleMs) };
  const cluster = await startCluster({ brokers: 2, workers: 2, stateEnv: env, brokerEnv: env, workerEnv: env });
  const named: [string, ServiceProcess][] = [
    ['state', cluster.state],
    ['broker1', cluster.brokers[0]!],
    ['broker2', cluster.brokers[1]!],
    ['worker1', cluster.workers[0]!],
    ['worker2', cluster.workers[1]!],
  ];
  const ports = cluster.workers.map((w) => w.port);
  const stableClients: Client[] = [];
  try {
    // Stable subscribers: one per worker, on every stable channel, for the whole run.
    const channels = Array.from({ length: options.stableChannels }, (_, i) => `soak/stable/${i}`);
    const collector = new Collector();
    const labels = ports.map((_, i) => `S${i}`);
    for (const [i, port] of ports.entries()) {
      const client = createClient(port);
      stableClients.push(client);
      await client.listener('connect').once(5000);
      for (const c of channels) await collector.subscribe(labels[i]!, client, c);
    }
    const publishers = ports.map((port) => createClient(port));
    stableClients.push(...publishers);
    await Promise.all(publishers.map((p) => p.listener('connect').once(5000)));
    await primeChannels(publishers[0]!, collector, labels, channels);
    await primeChannels(publishers[1]!, collector, labels, channels);
    collector.clear();

    const start = Date.now();
    const deadline = start + options.durationMs;
    const samples = new Map<string, MemorySample[]>(named.map(([n]) => [n, []]));
    const sampler = setInterval(() => {
      const t = Date.now() - start;
      for (const [name, service] of named) {
        if (!service.alive) continue;
        samples.get(name)!.push({ t, rssMB: rssMB(service.pid), heapMB: latestHeapMB(service, Date.now() - options.sampleMs * 2) });
      }
    }, options.sampleMs);

    // Stable traffic: each publisher sends a numbered message round-robin over the stable channels.
    let published = 0;
    let publishErrors = 0;
    /** Ids whose publish was acknowledged: what every stable subscriber must receive. */
    const acked = new Set<string>();
    const stableTraffic = publishers.map(async (publisher, p) => {
      for (let n = 0; Date.now() < deadline && n < 10_000_000; n++) {
        try {
          const id = `p${p}-${n}`;
          await publisher.invokePublish(channels[n % channels.length]!, { id });
          acked.add(id);
          published += 1;
        } catch {
          publishErrors += 1;
        }
        await new Promise((r) => setTimeout(r, options.publishIntervalMs));
      }
    });

    // Churn: short-lived clients connect, subscribe, publish, and leave in different ways.
    const churn: Churn = { connections: 0, subscriptions: 0, publishes: 0, errors: 0 };
    let seq = 0;
    const churner = async (lane: number): Promise<void> => {
      for (let round = 0; Date.now() < deadline && round < 1_000_000; round++) {
        const n = seq++;
        const port = ports[(lane + round) % ports.length]!;
        const mine = Array.from({ length: 1 + (n % 3) }, (_, k) => `soak/churn/${(n * 7 + k * 13) % 200}`);
        if (n % 4 === 0) {
          // Some drop the TCP connection without a close: a raw SocketCluster socket, since the
          // client library has no public way to do that.
          await droppingClient(port, mine, n, churn);
          continue;
        }
        const client = createClient(port);
        try {
          await client.listener('connect').once(5000);
          churn.connections += 1;
          const subs = mine.map((c) => client.subscribe(c));
          await Promise.all(subs.map((s) => s.listener('subscribe').once(5000)));
          churn.subscriptions += subs.length;
          for (let k = 0; k < 1 + (n % 5); k++) {
            await client.invokePublish(mine[k % mine.length]!, { churn: n, k, pad: 'x'.repeat(n % 512) });
            churn.publishes += 1;
          }
          await new Promise((r) => setTimeout(r, 20 + (n % 10) * 30));
          if (n % 3 === 0) for (const s of subs) s.unsubscribe();
        } catch {
          churn.errors += 1;
        } finally {
          // The rest leave cleanly (after unsubscribing, for every third).
          destroy(client);
        }
      }
    };
    const progress = setInterval(() => {
      log(`${Math.round((Date.now() - start) / 1000)} s: ${churn.connections} connections, ${published} stable messages`);
    }, 30_000);
    await Promise.all([...stableTraffic, ...Array.from({ length: options.churners }, (_, i) => churner(i))]);
    clearInterval(progress);
    clearInterval(sampler);

    const ids = (label: string): string[] => channels.flatMap((c) => collector.messages(label, c).map((m) => m.id));
    // Per subscriber, the acknowledged ids it lacks: a message it got whose publish failed (or a
    // duplicate) must not make up for one it missed, so nothing here is a count difference.
    const missingAt = (label: string): number => {
      const got = new Set(ids(label));
      let n = 0;
      for (const id of acked) if (!got.has(id)) n += 1;
      return n;
    };
    await collector.until(() => labels.every((l) => missingAt(l) === 0), 15_000, 'stable messages').catch(() => undefined);
    let received = 0;
    let missing = 0;
    let duplicates = 0;
    for (const label of labels) {
      const list = ids(label);
      received += list.length;
      duplicates += list.length - new Set(list).size;
      missing += missingAt(label);
    }
    const crashes = named.map(([n, s]) => crashReport(n, s));
    return {
      durationMs: options.durationMs,
      warmupMs: options.warmupMs,
      processes: named.map(([n, s]) => trend(n, s, samples.get(n)!, options.warmupMs)),
      churn: { ...churn, errors: churn.errors + publishErrors },
      stable: { channels: channels.length, subscribers: labels.length, published, expected: published * labels.length, received, missing, duplicates },
      crashes,
      crashCount: crashes.filter((c) => !c.alive || c.unhandled.length > 0).length,
    };
  } finally {
    for (const c of stableClients) destroy(c);
    await stopAll();
  }
}

/** A fixed-width table of the trends. */
export function formatSoak(report: SoakReport): string {
  const rows = report.processes.map(
    (p) =>
      `  ${p.name.padEnd(8)} rss ${p.rssStartMB.toFixed(1)} → ${p.rssEndMB.toFixed(1)} MB (slope ${p.rssSlopeMBPerMin.toFixed(2)} MB/min, range ${p.rssRangeMB.toFixed(1)})   ` +
      `heap ${p.heapStartMB.toFixed(1)} → ${p.heapEndMB.toFixed(1)} MB (slope ${p.heapSlopeMBPerMin.toFixed(2)} MB/min, range ${p.heapRangeMB.toFixed(1)})   ${p.samples} samples`,
  );
  const s = report.stable;
  return [
    `soak ${report.durationMs / 1000} s (trend after ${report.warmupMs / 1000} s warm-up):`,
    ...rows,
    `  churn: ${report.churn.connections} connections, ${report.churn.subscriptions} subscriptions, ${report.churn.publishes} publishes, ${report.churn.errors} errors`,
    `  stable: ${s.published} published on ${s.channels} channels to ${s.subscribers} subscribers: ${s.received}/${s.expected} received, ${s.missing} missing, ${s.duplicates} duplicates`,
    `  crashes: ${report.crashCount}`,
  ].join('\n');
}
