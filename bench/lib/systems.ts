/**
 * Each system under test, started through the harness launcher (harness/cluster.ts) on 127.0.0.1 and
 * stopped by pid:
 *   ours     — our scc-state, 2 scc-brokers, 2 scc-workers (this checkout);
 *   baseline — the same, run from another checkout (`--baseline DIR`, built already): before/after
 *              side by side in one run;
 *   ours-history — ours with history on every channel (SCC_HISTORY_CHANNELS=* on brokers and workers,
 *              docs/history.md): its cost beside `ours` in one run (ratios ours-history ÷ ours);
 *   ours-history-elsewhere — ours with history on for a prefix no workload uses: what history costs
 *              the other channels (ratios ours-history-elsewhere ÷ ours);
 *   original — our scc-state, 2 × scc-broker@10.0.1 (its server.js), 2 × socketcluster-server 20 with
 *              scc-broker-client@9.2.0 attached (harness/original-worker.mjs);
 *   ceiling  — one socketcluster-server 20 process, no cluster (harness/original-worker.mjs alone);
 *   socketio — redis-server + 2 × Socket.IO 4.8 with @socket.io/redis-adapter (servers/socketio-server.mjs);
 *   reference — the bare-ws relay: 2 × servers/reference-broker.mjs + 2 × servers/reference-worker.mjs,
 *              written directly on `ws` (per-turn batching, encode once): a LOWER BOUND for this
 *              topology, never shipped.
 * Publishers go to the first server and subscribers to the second (both to the one for the ceiling).
 */
import { spawnSync } from 'node:child_process';
import { HEALTH_CHECK_PATH, LogEvent, READY_PATH } from '@scc-ts/shared';
import { fileURLToPath } from 'node:url';
import { Cluster, type Role } from '../../harness/cluster.js';
import { freePort } from '../../harness/ports.js';
import { waitForMembers } from '../../harness/ready.js';
import { spawnProcess, type ServiceProcess } from '../../harness/service-process.js';
import { awaitListening, startOriginalWorker } from '../../harness/services.js';
import type { Protocol } from './wire.js';

export const SYSTEMS = ['ours', 'ours-history', 'ours-history-elsewhere', 'baseline', 'reference', 'original', 'ceiling', 'socketio'] as const;
export type SystemName = (typeof SYSTEMS)[number];
/** The systems a plain `pnpm bench` runs (baseline needs --baseline DIR). */
export const DEFAULT_SYSTEMS: readonly SystemName[] = ['ours', 'reference', 'original', 'ceiling', 'socketio'];

/** Our services (this checkout or the baseline's): they serve /ready and /metrics. */
export function isOurs(name: SystemName): boolean {
  return name === 'ours' || name === 'ours-history' || name === 'ours-history-elsewhere' || name === 'baseline';
}

/** What `ours-history` adds to our brokers' and workers' environment. */
export const HISTORY_EVERYWHERE_ENV = { SCC_HISTORY_CHANNELS: '*' } as const;
/**
 * What `ours-history-elsewhere` adds: history on, for a prefix no workload's channel has, so its
 * ratio to `ours` is what history costs the channels that do not keep it (the issue: nothing).
 */
export const HISTORY_ELSEWHERE_ENV = { SCC_HISTORY_CHANNELS: 'elsewhere/' } as const;

/** A front server's HTTP endpoints the bench polls during a run. */
export interface HealthTarget {
  /** 'worker-a' (the publishers' server) or 'worker-b' (the subscribers'), or 'server' (the ceiling). */
  role: string;
  port: number;
  paths: string[];
}

export interface RunningSystem {
  name: SystemName;
  protocol: Protocol;
  publisherPorts: number[];
  subscriberPorts: number[];
  /** Every server-side process of the system, by role (e.g. 'worker-a', 'broker-1'). */
  processes: Array<{ role: string; process: ServiceProcess }>;
  /** The process idle connections are opened to (the subscribers' worker). */
  idleTarget: ServiceProcess;
  /** The front servers' health endpoints (/health-check everywhere, /ready where served). */
  health: HealthTarget[];
  /** The same on the front servers' health ports (ours: SCC_HEALTH_PORT; a baseline only if it has one); empty: none. */
  healthPort: HealthTarget[];
  /** Whether the front servers serve Prometheus `/metrics` with nodejs_heap_size_used_bytes (ours). */
  heapMetrics: boolean;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Roles of OUR system (and the baseline) to run under `node --cpu-prof` ('worker', 'broker', 'state'). */
  cpuProf: ReadonlySet<string>;
  cpuProfDir: string;
  /** Extra environment for our brokers and workers (and the baseline's). */
  oursEnv: Readonly<Record<string, string>>;
  /** The checkout the baseline system runs from. */
  baselineRoot?: string;
}

const SERVERS = fileURLToPath(new URL('../servers/', import.meta.url));
/** Bound on a system's start, ms (the bench may run on a loaded machine). */
const START_TIMEOUT_MS = 20_000;
/** Time a process gets after SIGTERM (a profiled one writes its .cpuprofile then) before SIGKILL, ms. */
const STOP_TIMEOUT_MS = 10_000;

function system(name: SystemName, protocol: Protocol, processes: RunningSystem['processes'], pub: ServiceProcess, sub: ServiceProcess): RunningSystem {
  const ourKind = isOurs(name);
  // Every system serves /health-check (200 OK, as SocketCluster's boilerplate does); only ours /ready.
  const paths = ourKind ? [HEALTH_CHECK_PATH, READY_PATH] : [HEALTH_CHECK_PATH];
  return {
    name,
    protocol,
    publisherPorts: [pub.port],
    subscriberPorts: [sub.port],
    processes,
    idleTarget: sub,
    health: pub === sub ? [{ role: 'server', port: pub.port, paths }] : [{ role: 'worker-a', port: pub.port, paths }, { role: 'worker-b', port: sub.port, paths }],
    healthPort: ourKind ? healthPortTargets([{ role: 'worker-a', process: pub }, { role: 'worker-b', process: sub }], paths) : [],
    heapMetrics: ourKind,
    // SIGTERM so that profiled processes write their .cpuprofile.
    close: async () => {
      await Promise.all(processes.map(({ process: p }) => p.stop('SIGTERM', STOP_TIMEOUT_MS)));
    },
  };
}

/**
 * The health ports our workers wrote in their listening lines (SCC_HEALTH_PORT=0); none for a
 * baseline whose lines have no `healthPort` (it predates the health port).
 */
function healthPortTargets(servers: ReadonlyArray<{ role: string; process: ServiceProcess }>, paths: string[]): HealthTarget[] {
  return servers.flatMap(({ role, process: p }) => {
    const port = p.logs.find((l) => l.event === LogEvent.Listening)?.['healthPort'];
    return typeof port === 'number' ? [{ role, port, paths }] : [];
  });
}

function roles(cluster: Cluster): RunningSystem['processes'] {
  return [
    { role: 'state', process: cluster.state },
    ...cluster.brokers.map((b, i) => ({ role: `broker-${i + 1}`, process: b })),
    { role: 'worker-a', process: cluster.workers[0]! },
    { role: 'worker-b', process: cluster.workers[1]! },
  ];
}

/** Our services (this checkout, or `root` for the baseline): 2 brokers, 2 workers, fast test timings. */
async function startOurs(name: 'ours' | 'ours-history' | 'ours-history-elsewhere' | 'baseline', options: StartOptions, root?: string): Promise<RunningSystem> {
  const cpuProfArgs = (role: Role, processName: string): string[] =>
    options.cpuProf.has(role) ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`, `--cpu-prof-name=${name}-${role}-${processName}-${Date.now()}.cpuprofile`] : [];
  const cluster = await Cluster.start({
    brokers: 2,
    workers: 2,
    ...(root !== undefined && { root }),
    brokerEnv: options.oursEnv,
    // The workers' health ports (issue 17), any free port; the listening line says which.
    workerEnv: { SCC_HEALTH_PORT: '0', ...options.oursEnv },
    nodeArgs: cpuProfArgs,
    timeoutMs: START_TIMEOUT_MS,
    names: (role, i) => (role === 'state' ? 'state' : role === 'broker' ? `broker-${i + 1}` : `worker-${'ab'[i] ?? i}`),
  });
  return system(name, 'sc', roles(cluster), cluster.workers[0]!, cluster.workers[1]!);
}

async function startOriginal(): Promise<RunningSystem> {
  const cluster = await Cluster.start({
    system: 'original',
    brokers: 2,
    workers: 2,
    // The original's default log level (1). Until 2026-12 the bench ran it at 3, which adds an inbound
    // middleware and a console line per publish to every original broker and flattered ours ÷ original.
    brokerEnv: { SCC_BROKER_SERVER_LOG_LEVEL: '1' },
    timeoutMs: START_TIMEOUT_MS,
    names: (role, i) => (role === 'state' ? 'state' : role === 'broker' ? `original-broker-${i + 1}` : `original-worker-${'ab'[i] ?? i}`),
  });
  // Every worker is listed, so every broker list push has gone out.
  await waitForMembers(cluster.statePort, { brokerCount: 2, workerCount: 2, settled: true }, { timeoutMs: START_TIMEOUT_MS });
  return system('original', 'sc', roles(cluster), cluster.workers[0]!, cluster.workers[1]!);
}

async function startCeiling(): Promise<RunningSystem> {
  const server = await startOriginalWorker(null, { name: 'ceiling', timeoutMs: START_TIMEOUT_MS });
  return system('ceiling', 'sc', [{ role: 'server', process: server }], server, server);
}

/** Throws a clear error when redis-server is not installed (the Socket.IO system needs it). */
export function requireRedis(): void {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (found.error || found.status !== 0) {
    throw new Error('redis-server not found on PATH: the socketio system needs it (apt-get install -y redis-server), or leave it out with --systems ours,original,ceiling');
  }
}

export function hasRedis(): boolean {
  try {
    requireRedis();
    return true;
  } catch {
    return false;
  }
}

/** Redis answers PING with PONG once it accepts connections. */
async function waitRedis(redis: ServiceProcess, port: number): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (!redis.alive) throw new Error(`redis-server exited: ${redis.stderr.join('\n')}`);
    const ping = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' });
    if (ping.status === 0 && ping.stdout.trim() === 'PONG') return;
    if (ping.error) {
      // No redis-cli: fall back on the server's own readiness line.
      await redis.waitForLog(/Ready to accept connections/, Math.max(0, deadline - Date.now()));
      return;
    }
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} not answering PING within ${START_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startSocketIo(): Promise<RunningSystem> {
  requireRedis();
  const port = await freePort();
  const redis = spawnProcess({
    name: 'redis',
    command: 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    cwd: SERVERS,
    env: {},
  });
  await waitRedis(redis, port);
  const servers = await Promise.all(
    ['a', 'b'].map((s) =>
      awaitListening(spawnProcess({ name: `socketio-${s}`, args: [`${SERVERS}socketio-server.mjs`], cwd: SERVERS, env: { REDIS_PORT: String(port) } }), 0, START_TIMEOUT_MS),
    ),
  );
  const processes = [
    { role: 'redis', process: redis },
    { role: 'worker-a', process: servers[0]! },
    { role: 'worker-b', process: servers[1]! },
  ];
  return system('socketio', 'sio', processes, servers[0]!, servers[1]!);
}

/** Stops what was started when a later start fails. */
async function stopAllOf(processes: readonly ServiceProcess[]): Promise<void> {
  await Promise.all(processes.map((p) => p.stop('SIGKILL')));
}

/** The bare-ws reference relay: 2 brokers, then 2 workers linked to both (servers/reference-*.mjs). */
async function startReference(): Promise<RunningSystem> {
  const started: ServiceProcess[] = [];
  const spawnRef = (name: string, script: string, env: Record<string, string> = {}): Promise<ServiceProcess> => {
    const p = spawnProcess({ name, args: [`${SERVERS}${script}`], cwd: SERVERS, env });
    started.push(p);
    return awaitListening(p, 0, START_TIMEOUT_MS);
  };
  try {
    const brokers = await Promise.all([1, 2].map((i) => spawnRef(`reference-broker-${i}`, 'reference-broker.mjs')));
    const env = { REF_BROKER_PORTS: brokers.map((b) => b.port).join(',') };
    const workers = await Promise.all(['a', 'b'].map((s) => spawnRef(`reference-worker-${s}`, 'reference-worker.mjs', env)));
    const processes = [
      ...brokers.map((b, i) => ({ role: `broker-${i + 1}`, process: b })),
      { role: 'worker-a', process: workers[0]! },
      { role: 'worker-b', process: workers[1]! },
    ];
    return system('reference', 'sc', processes, workers[0]!, workers[1]!);
  } catch (error) {
    await stopAllOf(started);
    throw error;
  }
}

export async function startSystem(name: SystemName, options: StartOptions): Promise<RunningSystem> {
  switch (name) {
    case 'ours':
      return startOurs('ours', options);
    case 'ours-history':
      return startOurs('ours-history', { ...options, oursEnv: { ...options.oursEnv, ...HISTORY_EVERYWHERE_ENV } });
    case 'ours-history-elsewhere':
      return startOurs('ours-history-elsewhere', { ...options, oursEnv: { ...options.oursEnv, ...HISTORY_ELSEWHERE_ENV } });
    case 'baseline':
      if (options.baselineRoot === undefined) throw new Error('the baseline system needs --baseline DIR');
      return startOurs('baseline', options, options.baselineRoot);
    case 'original':
      return startOriginal();
    case 'ceiling':
      return startCeiling();
    case 'socketio':
      return startSocketIo();
    case 'reference':
      return startReference();
  }
}
