/**
 * Starts each system under test as child processes on 127.0.0.1 and stops them by pid:
 *   ours     — our scc-state, 2 scc-brokers, 2 scc-workers (`node server` in each package);
 *   original — our scc-state, 2 × scc-broker@10.0.1 (its server.js), 2 × socketcluster-server 20 with
 *              scc-broker-client@9.2.0 attached (servers/sc-worker.mjs);
 *   ceiling  — one socketcluster-server 20 process, no cluster (servers/sc-worker.mjs alone);
 *   socketio — redis-server + 2 × Socket.IO 4.8 with @socket.io/redis-adapter (servers/socketio-server.mjs).
 * Publishers go to the first server and subscribers to the second (both to the one for the ceiling).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAST_PEER_ENV, FAST_STATE_ENV, ServiceProcess, startState, waitForBrokerCount, waitReady } from '../../test/helpers/processes.js';
import { freePort } from './proc.js';
import type { Protocol } from './wire.js';

export const SYSTEMS = ['ours', 'original', 'ceiling', 'socketio'] as const;
export type SystemName = (typeof SYSTEMS)[number];

export interface RunningSystem {
  name: SystemName;
  protocol: Protocol;
  publisherPorts: number[];
  subscriberPorts: number[];
  /** Every server-side process of the system, by role (e.g. 'worker-a', 'broker-1'). */
  processes: Array<{ role: string; process: ServiceProcess }>;
  /** The process idle connections are opened to (the subscribers' worker). */
  idleTarget: ServiceProcess;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Roles of OUR system to run under `node --cpu-prof` ('worker', 'broker', 'state'). */
  cpuProf: ReadonlySet<string>;
  cpuProfDir: string;
  /** Extra environment for our brokers and workers. */
  oursEnv: Readonly<Record<string, string>>;
}

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SERVERS = fileURLToPath(new URL('../servers/', import.meta.url));
const require = createRequire(import.meta.url);
const LISTENING = /listening on port (\d+)/;

/** Spawns `node <script>` with JSON-ish stdout lines and waits for its "listening on port N" line. */
async function spawnNode(name: string, script: string, env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [script], { cwd: HERE, env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const service = new ServiceProcess(name, child);
  const line = await service.waitForLog(LISTENING, 20_000);
  service.port = Number(LISTENING.exec(line.msg)![1]);
  return service;
}

async function stopEach(processes: Array<{ process: ServiceProcess }>): Promise<void> {
  // SIGTERM so that profiled processes write their .cpuprofile; SIGKILL after 10 s.
  await Promise.all(processes.map(({ process: p }) => p.stop('SIGTERM')));
}

function system(name: SystemName, protocol: Protocol, processes: RunningSystem['processes'], pub: ServiceProcess, sub: ServiceProcess): RunningSystem {
  return {
    name,
    protocol,
    publisherPorts: [pub.port],
    subscriberPorts: [sub.port],
    processes,
    idleTarget: sub,
    close: () => stopEach(processes),
  };
}

/**
 * `node [--cpu-prof …] server` in packages/<pkg>, with the test helpers' environment (the helpers'
 * spawnService cannot pass node flags, and Node 20 refuses --cpu-prof in NODE_OPTIONS).
 */
function spawnOurs(role: string, pkg: 'scc-state' | 'scc-broker' | 'scc-worker', env: Record<string, string>, options: StartOptions): ServiceProcess {
  const kind = role.replace(/-.*/, '');
  const nodeArgs = options.cpuProf.has(kind) ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`, `--cpu-prof-name=ours-${kind}-${role}-${Date.now()}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...nodeArgs, 'server'], {
    cwd: join(ROOT, 'packages', pkg),
    env: { PATH: process.env['PATH'] ?? '', SCC_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new ServiceProcess(role, child);
}

async function listening(service: ServiceProcess): Promise<ServiceProcess> {
  const line = await service.waitForLog(LISTENING, 20_000);
  service.port = Number(LISTENING.exec(line.msg)![1]);
  return service;
}

async function startOurs(options: StartOptions): Promise<RunningSystem> {
  const state = await listening(spawnOurs('state', 'scc-state', { SCC_STATE_SERVER_PORT: '0', SCC_STATE_LOG_LEVEL: '3', ...FAST_STATE_ENV }, options));
  const peer = { SCC_STATE_SERVER_HOST: '127.0.0.1', SCC_STATE_SERVER_PORT: String(state.port), ...FAST_PEER_ENV };
  const brokers = await Promise.all(
    [1, 2].map((i) => listening(spawnOurs(`broker-${i}`, 'scc-broker', { SCC_BROKER_SERVER_PORT: '0', SCC_BROKER_SERVER_LOG_LEVEL: '3', ...peer, ...options.oursEnv }, options))),
  );
  await Promise.all(brokers.map((b) => b.waitForLog(/joined the cluster/, 20_000)));
  const workers = await Promise.all(
    ['a', 'b'].map((w) => listening(spawnOurs(`worker-${w}`, 'scc-worker', { SOCKETCLUSTER_PORT: '0', SOCKETCLUSTER_LOG_LEVEL: '3', ...peer, ...options.oursEnv }, options))),
  );
  await Promise.all(workers.map((w) => waitReady(w.port, 20_000)));
  await Promise.all(workers.map((w) => waitForBrokerCount(w, 2, 0, 20_000)));
  const processes = [
    { role: 'state', process: state },
    ...brokers.map((b, i) => ({ role: `broker-${i + 1}`, process: b })),
    { role: 'worker-a', process: workers[0]! },
    { role: 'worker-b', process: workers[1]! },
  ];
  return system('ours', 'sc', processes, workers[0]!, workers[1]!);
}

async function startOriginal(): Promise<RunningSystem> {
  const state = await startState();
  const brokerScript = require.resolve('scc-broker/server.js');
  const brokers = await Promise.all(
    [1, 2].map(async (i) => {
      // The original reads `Number(port) || 8888`, so it cannot take port 0: hand it a free one.
      const port = await freePort();
      return spawnNode(`original-broker-${i}`, brokerScript, {
        SCC_BROKER_SERVER_PORT: String(port),
        SCC_STATE_SERVER_HOST: '127.0.0.1',
        SCC_STATE_SERVER_PORT: String(state.port),
        SCC_INSTANCE_IP: '127.0.0.1',
        SCC_BROKER_SERVER_RETRY_DELAY: '200',
        SCC_BROKER_SERVER_LOG_LEVEL: '3',
      });
    }),
  );
  await state.waitForLog(/scc-broker \S+ joined .*; 2 /, 20_000);
  const workers = await Promise.all(
    ['a', 'b'].map((w) => spawnNode(`original-worker-${w}`, `${SERVERS}sc-worker.mjs`, { SCC_STATE_SERVER_HOST: '127.0.0.1', SCC_STATE_SERVER_PORT: String(state.port) })),
  );
  await Promise.all(workers.map((w) => w.waitForLog(/broker list: 2 brokers/, 20_000)));
  const processes = [
    { role: 'state', process: state },
    ...brokers.map((b, i) => ({ role: `broker-${i + 1}`, process: b })),
    { role: 'worker-a', process: workers[0]! },
    { role: 'worker-b', process: workers[1]! },
  ];
  return system('original', 'sc', processes, workers[0]!, workers[1]!);
}

async function startCeiling(): Promise<RunningSystem> {
  const server = await spawnNode('ceiling', `${SERVERS}sc-worker.mjs`, {});
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

async function startSocketIo(): Promise<RunningSystem> {
  requireRedis();
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const redis = new ServiceProcess('redis', child);
  await redis.waitForLog(/Ready to accept connections/, 10_000);
  const servers = await Promise.all(['a', 'b'].map((s) => spawnNode(`socketio-${s}`, `${SERVERS}socketio-server.mjs`, { REDIS_PORT: String(port) })));
  const processes = [
    { role: 'redis', process: redis },
    { role: 'worker-a', process: servers[0]! },
    { role: 'worker-b', process: servers[1]! },
  ];
  return system('socketio', 'sio', processes, servers[0]!, servers[1]!);
}

export async function startSystem(name: SystemName, options: StartOptions): Promise<RunningSystem> {
  switch (name) {
    case 'ours':
      return startOurs(options);
    case 'original':
      return startOriginal();
    case 'ceiling':
      return startCeiling();
    case 'socketio':
      return startSocketIo();
  }
}
