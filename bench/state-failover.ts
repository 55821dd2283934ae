/**
 * Failover of replicated scc-state under load: 3 replicas electing through a real etcd, 2 brokers,
 * workers A and B (ours), the chaos load generator publishing on both workers. Each round SIGKILLs the
 * leader and restarts it at once on its port, and measures
 *   leader   kill → a leader of a higher term answers /ready as leader (every replica polled every 20 ms);
 *   rejoined kill → every worker logged `re-joined the cluster` (the first time after the kill);
 *   listed   kill → the leader's /cluster.json (through replica 0, the address peers dial) lists every
 *            broker and worker again and has settled (polled every 20 ms);
 * and counts the workers' re-joins in the round (2 = one each; more: a peer was dropped again after it
 * re-joined). At the end the checker (harness/chaos/checker.ts) counts what the load lost, duplicated
 * or got out of order over all the kills. Prints a table (per kill, then median and max) and one JSON
 * line; `--out` also writes bench/results/state-failover.{txt,json}.
 *
 *   pnpm bench:state-failover [--kills 10] [--rate 5000] [--channels 100] [--lease-ttl ms] [--gap-ms 2000] [--out]
 *
 * --lease-ttl sets SCC_STATE_SERVER_LEASE_TTL; unset, the replicas run with the service's default (3000 ms).
 */
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkChaosLog } from '../harness/chaos/checker.js';
import { LoadClient } from '../harness/chaos/load-client.js';
import { FULL_PROFILE, startChaosCluster } from '../harness/chaos/scenarios.js';
import type { Cluster } from '../harness/cluster.js';
import { startEtcd, type Etcd } from '../harness/etcd.js';
import { clusterSnapshot } from '../harness/ready.js';
import { replicaId } from '../harness/state-replicas.js';
import { RESULTS_DIR } from './lib/command-line.js';
import { median } from './lib/stats.js';

/** How often the leader and the cluster view are polled, ms. */
const POLL_MS = 20;
/** Bound on each round's waits, ms. */
const ROUND_TIMEOUT_MS = 30_000;
const REPLICAS = 3;
const WORKERS_REJOINED = /^re-joined the cluster/;

function fail(message: string): never {
  process.stderr.write(`state-failover: ${message}\n`);
  process.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        kills: { type: 'string', default: '10' },
        rate: { type: 'string', default: '5000' },
        channels: { type: 'string', default: '100' },
        'lease-ttl': { type: 'string' },
        'gap-ms': { type: 'string', default: '2000' },
        'warmup-ms': { type: 'string', default: '2000' },
        out: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    return fail((error as Error).message);
  }
})();

function int(flag: string, value: string, min: number): number {
  const v = Number(value);
  if (!Number.isInteger(v) || v < min) fail(`--${flag} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  return v;
}

const KILLS = int('kills', values.kills, 1);
const RATE = int('rate', values.rate, 1);
const CHANNELS = int('channels', values.channels, 1);
const GAP_MS = int('gap-ms', values['gap-ms'], 0);
const WARMUP_MS = int('warmup-ms', values['warmup-ms'], 0);
const LEASE_TTL_MS = values['lease-ttl'] === undefined ? null : int('lease-ttl', values['lease-ttl'], 1);

/** One kill's figures, ms after the kill. */
interface Round {
  kill: number;
  killed: string;
  oldTerm: number;
  leader: string;
  newTerm: number;
  leaderMs: number;
  rejoinedMs: number;
  listedMs: number;
  /** `re-joined` lines of both workers from this kill until the next one (or the end). */
  rejoins: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls replica 0's /cluster.json until it lists `brokers` and `workers` members and is not settling; resolves with when. */
async function waitListed(cluster: Cluster, brokers: number, workers: number): Promise<number> {
  const deadline = Date.now() + ROUND_TIMEOUT_MS;
  for (;;) {
    const view = (await clusterSnapshot(cluster.statePort).catch(() => null)) as (Awaited<ReturnType<typeof clusterSnapshot>> & { replication?: { settling?: boolean } }) | null;
    if (view && view.brokers.length === brokers && view.workers.length === workers && view.replication?.settling !== true) return Date.now();
    if (Date.now() > deadline) throw new Error(`the cluster view did not list ${brokers} brokers and ${workers} workers within ${ROUND_TIMEOUT_MS} ms`);
    await sleep(POLL_MS);
  }
}

/** Counts the workers' `re-joined` lines from `marks` on. */
function rejoinsSince(cluster: Cluster, marks: readonly number[]): number {
  return cluster.workers.reduce((n, w, i) => n + w.logs.slice(marks[i] ?? 0).filter((l) => WORKERS_REJOINED.test(l.msg)).length, 0);
}

async function round(cluster: Cluster, kill: number): Promise<{ round: Omit<Round, 'rejoins'>; marks: number[] }> {
  const marks = cluster.workerMarks();
  const k = await cluster.killLeader();
  const rejoined = Promise.all(cluster.workers.map((w, i) => w.waitForLog(WORKERS_REJOINED, ROUND_TIMEOUT_MS, marks[i])));
  rejoined.catch(() => undefined);
  const next = await cluster.waitForLeader(k.term, ROUND_TIMEOUT_MS, POLL_MS);
  const listedAt = await waitListed(cluster, cluster.brokers.length, cluster.workers.length);
  const lines = await rejoined;
  await k.restarted;
  return {
    marks,
    round: {
      kill,
      killed: replicaId(k.index),
      oldTerm: k.term,
      leader: replicaId(next.index),
      newTerm: next.term,
      leaderMs: next.at - k.killedAt,
      rejoinedMs: Math.max(...lines.map((l) => Number(l['time']))) - k.killedAt,
      listedMs: listedAt - k.killedAt,
    },
  };
}

/** Waits until every replica is ready (the restarted one knows the leader again). */
async function waitReplicasReady(cluster: Cluster): Promise<void> {
  const deadline = Date.now() + ROUND_TIMEOUT_MS;
  for (;;) {
    const ready = await Promise.all(cluster.replicas.map((r) => fetch(`http://127.0.0.1:${r.port}/ready`, { signal: AbortSignal.timeout(500) }).then((x) => x.ok, () => false)));
    if (ready.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`not every replica ready within ${ROUND_TIMEOUT_MS} ms`);
    await sleep(POLL_MS);
  }
}

const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) };
let etcd: Etcd | undefined;
let cluster: Cluster | undefined;
let load: LoadClient | undefined;
const rounds: Round[] = [];
let check: ReturnType<typeof checkChaosLog> | undefined;
try {
  load = LoadClient.spawn();
  etcd = await startEtcd();
  const timings = {
    scaleOutDelayMs: FULL_PROFILE.scaleOutMs,
    scaleBackDelayMs: FULL_PROFILE.scaleBackMs,
    startupDelayMs: FULL_PROFILE.startupDelayMs,
    retryDelayMs: FULL_PROFILE.retryDelayMs,
    waitTimeoutMs: FULL_PROFILE.waitTimeoutMs,
  };
  cluster = await startChaosCluster('ours', 2, timings, {}, {
    count: REPLICAS,
    etcdEndpoint: etcd.endpoint,
    prefix: `/state-failover-${randomUUID()}/`,
    env: LEASE_TTL_MS === null ? {} : { SCC_STATE_SERVER_LEASE_TTL: String(LEASE_TTL_MS) },
  });
  await load.init({ ports: cluster.workerPorts, ids: ['A', 'B'], channels: CHANNELS, rate: RATE, setupTimeoutMs: timings.waitTimeoutMs, lateMs: 0 });
  await load.startLoad();
  await sleep(WARMUP_MS); // a duration of load, not a wait for an event
  let previous: { round: Omit<Round, 'rejoins'>; marks: number[] } | undefined;
  for (let i = 1; i <= KILLS; i++) {
    const r = await round(cluster, i);
    if (previous) rounds.push({ ...previous.round, rejoins: rejoinsSince(cluster, previous.marks) - rejoinsSince(cluster, r.marks) });
    previous = r;
    process.stderr.write(`kill ${i}/${KILLS}: leader ${r.round.leaderMs} ms, re-joined ${r.round.rejoinedMs} ms, listed ${r.round.listedMs} ms\n`);
    await waitReplicasReady(cluster);
    await sleep(GAP_MS); // steady load between kills
  }
  if (previous) rounds.push({ ...previous.round, rejoins: rejoinsSince(cluster, previous.marks) });
  check = checkChaosLog(await load.stop());
} finally {
  await load?.close();
  await cluster?.close();
  await etcd?.stop();
}

const FIGURES = ['leaderMs', 'rejoinedMs', 'listedMs', 'rejoins'] as const;
const summary = Object.fromEntries(FIGURES.map((f) => [f, { median: median(rounds.map((r) => r[f])), max: Math.max(...rounds.map((r) => r[f])) }]));
const columns: Array<[string, (r: Round) => string]> = [
  ['kill', (r) => String(r.kill)],
  ['killed (term)', (r) => `${r.killed} (${r.oldTerm})`],
  ['new leader (term)', (r) => `${r.leader} (${r.newTerm})`],
  ['leader ms', (r) => String(r.leaderMs)],
  ['re-joined ms', (r) => String(r.rejoinedMs)],
  ['listed ms', (r) => String(r.listedMs)],
  ['worker re-joins', (r) => String(r.rejoins)],
];
const table = [columns.map(([h]) => h), ...rounds.map((r) => columns.map(([, f]) => f(r)))];
for (const stat of ['median', 'max'] as const) table.push([stat, '', '', ...FIGURES.map((f) => String(summary[f]![stat]))]);
const widths = columns.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
const text = [
  `State-server failover: ${REPLICAS} replicas through etcd, 2 brokers, 2 workers (ours); lease TTL ${LEASE_TTL_MS ?? 'default (3000)'} ms; ` +
    `${KILLS} leader SIGKILLs (restarted at once), ${GAP_MS} ms apart; load ${RATE} msg/s over ${CHANNELS} channels`,
  `machine: ${machine.cpus} × ${machine.model ?? '?'}, node ${machine.node}, load average ${machine.loadavg.join(' ')}`,
  '',
  ...table.map((row) => row.map((v, c) => (c < 3 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ')),
  '',
  `load over all kills: ${check!.published} published, ${check!.expected} expected deliveries, ${check!.lost} lost, ${check!.duplicated} duplicated, ${check!.outOfOrder} out of order`,
].join('\n');
const json = {
  bench: 'state-failover',
  kills: KILLS,
  rate: RATE,
  channels: CHANNELS,
  leaseTtlMs: LEASE_TTL_MS,
  gapMs: GAP_MS,
  machine,
  rounds,
  summary,
  load: { published: check!.published, expected: check!.expected, lost: check!.lost, duplicated: check!.duplicated, outOfOrder: check!.outOfOrder, unacked: check!.unacked },
};
console.log(text);
console.log(JSON.stringify(json));
if (values.out) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'state-failover.txt'), `${text}\n`);
  writeFileSync(join(RESULTS_DIR, 'state-failover.json'), `${JSON.stringify(json, null, 2)}\n`);
}
process.exit(0);
