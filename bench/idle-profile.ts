/**
 * Where an idle connection's memory goes on one of our cluster workers (issue 17): starts our
 * cluster (2 brokers, 2 workers) with a profiling preload in worker B only, opens N idle
 * SocketCluster connections to it from the load generator, and prints RSS and heap per connection:
 * RSS after settling (what `bench/run.ts --idle` reads) and heapUsed/external after a forced GC.
 * With --snapshot it writes heap snapshots at 0 and N connections and prints the per-constructor
 * difference (count and bytes per connection). A profiling tool: it prints figures, asserts nothing.
 *
 *   npx tsx bench/idle-profile.ts [--system ours|plain|socketio] [--idle 5000] [--first 0] [--settle 2]
 *                                 [--snapshot] [--top 40] [--dump FILE] [--env K=V]… [--node-arg ARG]…
 *
 * --system socketio profiles one Socket.IO server (servers/socketio-server.mjs, in-memory adapter)
 * the same way, for comparison; --system plain one socketcluster-server 20 without any of our code
 * (harness/original-worker.mjs standalone, the bench's `ceiling`).
 *
 * --first K opens K connections before the measured N (the marginal cost of N more, without what a
 * process grows once, e.g. its young generation).
 * --settle S follows RSS for S seconds after the connections are open (no forced GC), every 4 s.
 * --dump FILE writes the whole per-connection difference as JSON (to compare two systems).
 * --env K=V and --node-arg ARG (repeatable) go to the measured process only, e.g.
 * --env SCC_MAX_CONNECTIONS=30000 (ours refuses past 10,000 by default) or --node-arg=--max-semi-space-size=1.
 * The forced GCs happen in a preload written to a temporary folder (removed at the end), never in shipped code.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Cluster } from '../harness/cluster.js';
import { spawnProcess } from '../harness/service-process.js';
import { awaitListening, startOriginalWorker } from '../harness/services.js';
import { LoadGenerator } from './lib/loadgen-process.js';
import { memoryKiB } from './lib/proc.js';

const { values: flags } = parseArgs({
  options: {
    system: { type: 'string' },
    idle: { type: 'string' },
    first: { type: 'string' },
    settle: { type: 'string' },
    snapshot: { type: 'boolean' },
    top: { type: 'string' },
    dump: { type: 'string' },
    env: { type: 'string', multiple: true },
    'node-arg': { type: 'string', multiple: true },
  },
});
const N = Number(flags.idle ?? 5000);
const TOP = Number(flags.top ?? 40);
/** Connections opened before the measured N (--first K; 0: none). */
const FIRST = Number(flags.first ?? 0);
/** Time after the last handshake before RSS is read, ms (as bench/run.ts). */
const SETTLE_MS = 2_000;
const PROBE_WAIT_MS = 60_000;
/** How long RSS is followed after the connections are open, ms (--settle SECONDS). */
const LONG_SETTLE_MS = Number(flags.settle ?? 2) * 1000;
const SAMPLE_MS = 4_000;

const dir = mkdtempSync(join(tmpdir(), 'idle-profile-'));
const probe = join(dir, 'probe.cjs');
writeFileSync(
  probe,
  `'use strict';
const fs = require('node:fs'); const v8 = require('node:v8'); const vm = require('node:vm');
v8.setFlagsFromString('--expose-gc'); const gc = vm.runInNewContext('gc'); let n = 0;
process.on('SIGUSR2', () => { const i = n++; gc(); gc(); const m = process.memoryUsage();
  const snapshot = process.env.PROBE_SNAPSHOT === '1' ? v8.writeHeapSnapshot(${JSON.stringify(dir)} + '/' + process.pid + '-' + i + '.heapsnapshot') : null;
  fs.writeFileSync(${JSON.stringify(dir)} + '/' + process.pid + '-' + i + '.json', JSON.stringify({ ...m, snapshot, spaces: v8.getHeapSpaceStatistics() })); });
`,
);

interface Space { space_name: string; space_size: number; space_used_size: number; physical_space_size: number }
interface Probe { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number; snapshot: string | null; spaces: Space[] }
let probes = 0;
async function probeOf(pid: number): Promise<Probe> {
  const i = probes++;
  process.kill(pid, 'SIGUSR2');
  const file = join(dir, `${pid}-${i}.json`);
  const deadline = Date.now() + PROBE_WAIT_MS;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error('probe did not answer');
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 100));
  return JSON.parse(readFileSync(file, 'utf8')) as Probe;
}

const extraEnv = Object.fromEntries((flags.env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const SERVERS = fileURLToPath(new URL('./servers/', import.meta.url));
const snapshotEnv: Record<string, string> = flags.snapshot ? { PROBE_SNAPSHOT: '1' } : {};
const system = flags.system ?? 'ours';
const cluster = system !== 'ours' ? null : await Cluster.start({
  brokers: 2,
  workers: 2,
  workerEnv: { ...extraEnv, ...snapshotEnv },
  nodeArgs: (role, name) => (role === 'worker' && name.endsWith('b') ? ['--require', probe, ...(flags['node-arg'] ?? [])] : []),
  timeoutMs: 20_000,
  names: (role, i) => (role === 'state' ? 'state' : role === 'broker' ? `broker-${i + 1}` : `worker-${'ab'[i] ?? i}`),
});
// Socket.IO for comparison: one server, in-memory adapter (an idle socket costs Redis nothing).
const sio =
  system === 'socketio'
    ? await awaitListening(spawnProcess({ name: 'socketio', nodeArgs: ['--require', probe, ...(flags['node-arg'] ?? [])], args: [`${SERVERS}socketio-server.mjs`], cwd: SERVERS, env: { ...extraEnv, ...snapshotEnv } }), 0, 20_000)
    : null;
// The single-process ceiling: plain socketcluster-server 20, none of our code (harness/original-worker.mjs).
const plain = system === 'plain' ? await startOriginalWorker(null, { name: 'plain', nodeArgs: ['--require', probe, ...(flags['node-arg'] ?? [])], env: { ...extraEnv, ...snapshotEnv }, timeoutMs: 20_000 }) : null;
const gen = new LoadGenerator();
try {
  const target = cluster?.workers[1] ?? sio ?? plain!;
  const protocol = system === 'socketio' ? 'sio' : 'sc';
  if (FIRST > 0) {
    // Marginal cost: the figures below are for N connections added on top of FIRST already open,
    // so what a process grows once (its young generation, pools) is out of them.
    gen.send({ type: 'idle', protocol, port: target.port, count: FIRST });
    await gen.next('idle-ready', 120_000);
  }
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const rss0 = memoryKiB(target.pid).rss;
  const p0 = await probeOf(target.pid);
  gen.send({ type: 'idle', protocol, port: target.port, count: N });
  const { connected } = await gen.next('idle-ready', 120_000);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const rss1 = memoryKiB(target.pid).rss;
  // RSS over a longer settle, no forced GC (V8's memory reducer may shrink the heap when idle).
  const later: Record<string, number> = {};
  for (let waited = SETTLE_MS; waited < LONG_SETTLE_MS; ) {
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
    waited += SAMPLE_MS;
    later[`rss KiB/conn after ${waited / 1000} s`] = Math.round(((memoryKiB(target.pid).rss - rss0) / connected) * 10) / 10;
  }
  const p1 = await probeOf(target.pid);
  const per = (a: number, b: number): number => Math.round(((b - a) / connected) * 10) / 10;
  const figures = {
    connections: connected,
    'rss KiB/conn (settled, no GC: the bench figure)': per(rss0, rss1),
    'rss KiB/conn (after GC)': per(p0.rss / 1024, p1.rss / 1024),
    'heapUsed B/conn (after GC)': per(p0.heapUsed, p1.heapUsed),
    'heapTotal B/conn': per(p0.heapTotal, p1.heapTotal),
    'external B/conn': per(p0.external, p1.external),
    'arrayBuffers B/conn': per(p0.arrayBuffers, p1.arrayBuffers),
    ...later,
    'rss MiB before/after': `${Math.round(rss0 / 1024)} / ${Math.round(rss1 / 1024)}`,
  };
  console.table(figures);
  const mib = (x: number): number => Math.round((x / 2 ** 20) * 10) / 10;
  console.log('V8 heap spaces after GC, MiB (size committed / used / physical), before → after:');
  console.table(
    Object.fromEntries(
      p1.spaces.map((after, i) => {
        const before = p0.spaces[i]!;
        return [after.space_name, { before: `${mib(before.space_size)} / ${mib(before.space_used_size)} / ${mib(before.physical_space_size)}`, after: `${mib(after.space_size)} / ${mib(after.space_used_size)} / ${mib(after.physical_space_size)}` }];
      }),
    ),
  );
  if (p0.snapshot && p1.snapshot) diffSnapshots(p0.snapshot, p1.snapshot, connected);
} finally {
  await gen.close();
  await cluster?.close();
  await sio?.stop('SIGTERM', 10_000);
  await plain?.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}

/** Per-constructor counts and self sizes of a heap snapshot, keyed by type, name and first retainer. */
function tally(file: string): Map<string, { count: number; bytes: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
    nodes: number[];
    edges: number[];
    strings: string[];
  };
  const { meta } = snap.snapshot;
  const width = meta.node_fields.length;
  const typeAt = meta.node_fields.indexOf('type');
  const nameAt = meta.node_fields.indexOf('name');
  const sizeAt = meta.node_fields.indexOf('self_size');
  const edgeCountAt = meta.node_fields.indexOf('edge_count');
  const ewidth = meta.edge_fields.length;
  const etypeAt = meta.edge_fields.indexOf('type');
  const enameAt = meta.edge_fields.indexOf('name_or_index');
  const etoAt = meta.edge_fields.indexOf('to_node');
  const types = meta.node_types[0];
  const etypes = meta.edge_types[0];
  const count = snap.nodes.length / width;
  const label = (n: number): string => {
    const type = types[snap.nodes[n * width + typeAt]!]!;
    let name = snap.strings[snap.nodes[n * width + nameAt]!]!;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '(string)';
    else if (type === 'number') name = '(number)';
    else if (name.length > 50) name = `${name.slice(0, 50)}…`;
    return `${type}:${name}`;
  };
  // First non-weak retainer of each node (owner label and edge name).
  const retainer = new Array<string | undefined>(count);
  let edge = 0;
  for (let n = 0; n < count; n++) {
    const edges = snap.nodes[n * width + edgeCountAt]!;
    for (let e = 0; e < edges; e++, edge += ewidth) {
      const etype = etypes[snap.edges[edge + etypeAt]!]!;
      if (etype === 'weak' || etype === 'shortcut') continue;
      const to = snap.edges[edge + etoAt]! / width;
      if (retainer[to] !== undefined) continue;
      const en = etype === 'element' || etype === 'hidden' ? `[${snap.edges[edge + enameAt]}]` : snap.strings[snap.edges[edge + enameAt]!];
      retainer[to] = `${label(n)}.${etype === 'element' || etype === 'hidden' ? '[]' : en}`;
    }
  }
  const out = new Map<string, { count: number; bytes: number }>();
  for (let n = 0; n < count; n++) {
    const key = `${label(n)} <- ${retainer[n] ?? '?'}`;
    const entry = out.get(key) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += snap.nodes[n * width + sizeAt]!;
    out.set(key, entry);
  }
  return out;
}

function diffSnapshots(before: string, after: string, connections: number): void {
  const a = tally(before);
  const b = tally(after);
  const rows = [...b].map(([key, { count, bytes }]) => {
    const was = a.get(key) ?? { count: 0, bytes: 0 };
    return { key, perConn: (count - was.count) / connections, bytesPerConn: (bytes - was.bytes) / connections };
  });
  rows.sort((x, y) => y.bytesPerConn - x.bytesPerConn);
  if (flags.dump) writeFileSync(flags.dump, JSON.stringify(rows));
  const total = rows.reduce((s, r) => s + r.bytesPerConn, 0);
  console.log(`heap snapshot difference: ${Math.round(total)} B of self size per connection; top ${TOP}:`);
  console.table(rows.slice(0, TOP).map((r) => ({ object: r.key.slice(0, 110), 'count/conn': Math.round(r.perConn * 100) / 100, 'B/conn': Math.round(r.bytesPerConn) })));
}
