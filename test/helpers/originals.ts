/**
 * The ORIGINAL SCC services from npm, as child processes beside ours: scc-broker 10.0.1 (its own
 * server.js) and a worker running scc-broker-client 9.2.0 (test/helpers/original-worker.mjs).
 * They are registered with processes.ts, so `stopAll()` stops them too.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAST_PEER_ENV, ServiceProcess, type LogLine } from './processes.js';

const require = createRequire(import.meta.url);
const ORIGINAL_BROKER_SERVER = join(dirname(require.resolve('scc-broker/package.json')), 'server.js');
const ORIGINAL_WORKER_SCRIPT = fileURLToPath(new URL('./original-worker.mjs', import.meta.url));

/** The versions these helpers run (checked by the tests, so a lockfile drift is caught). */
export const ORIGINAL_VERSIONS = {
  broker: (require('scc-broker/package.json') as { version: string }).version,
  brokerClient: (require('scc-broker-client/package.json') as { version: string }).version,
} as const;

/** A port that was free a moment ago: the original broker reads `Number(port) || 8888`, so it cannot take port 0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function spawnNode(name: string, script: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [script], {
    cwd: dirname(script),
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new ServiceProcess(name, child);
}

const LISTENING = /listening on port (\d+)/;

/**
 * Starts scc-broker 10.0.1 (`node server.js`) on a free port, joined to the state server at
 * 127.0.0.1:statePort with `SCC_INSTANCE_IP=127.0.0.1`. Resolves once it listens; wait for the state
 * server's "joined" line (see `waitForJoin`) before relying on it.
 */
export async function startOriginalBroker(statePort: number, env: Record<string, string> = {}): Promise<ServiceProcess> {
  // The port is free when picked; another process could take it before the broker binds. The broker
  // then exits with EADDRINUSE, which is reported below rather than retried.
  const port = await freePort();
  const broker = spawnNode('original-broker', ORIGINAL_BROKER_SERVER, {
    SCC_BROKER_SERVER_PORT: String(port),
    SCC_STATE_SERVER_HOST: '127.0.0.1',
    SCC_STATE_SERVER_PORT: String(statePort),
    SCC_INSTANCE_IP: '127.0.0.1',
    SCC_BROKER_SERVER_RETRY_DELAY: FAST_PEER_ENV.SCC_BROKER_SERVER_RETRY_DELAY,
    // 3 logs the listening line; it also logs every subscribe and publish it receives.
    SCC_BROKER_SERVER_LOG_LEVEL: '3',
    ...env,
  });
  await broker.waitForLog(LISTENING);
  broker.port = port;
  return broker;
}

/** Starts an original worker (socketcluster-server 20 + scc-broker-client 9.2.0) on port 0. */
export async function startOriginalWorker(statePort: number, env: Record<string, string> = {}): Promise<ServiceProcess> {
  const worker = spawnNode('original-worker', ORIGINAL_WORKER_SCRIPT, {
    SOCKETCLUSTER_PORT: '0',
    SCC_STATE_SERVER_HOST: '127.0.0.1',
    SCC_STATE_SERVER_PORT: String(statePort),
    SCC_INSTANCE_IP: '127.0.0.1',
    SCC_BROKER_RETRY_DELAY: FAST_PEER_ENV.SCC_BROKER_RETRY_DELAY,
    SCC_STATE_SERVER_RECONNECT_RANDOMNESS: FAST_PEER_ENV.SCC_STATE_SERVER_RECONNECT_RANDOMNESS,
    ...env,
  });
  const line = await worker.waitForLog(LISTENING);
  worker.port = Number(LISTENING.exec(line.msg)![1]);
  return worker;
}

/** `ws://127.0.0.1:PORT`, the URI the state server lists a local broker under. */
export function uriOf(service: ServiceProcess): string {
  return `ws://127.0.0.1:${service.port}`;
}

/** Waits until the state server logs that the broker or worker at `uri` joined (after log index `from`). */
export function waitForJoin(state: ServiceProcess, type: 'scc-broker' | 'scc-worker', uri: string, from = 0): Promise<LogLine> {
  const escaped = uri.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return state.waitForLog(new RegExp(`^${type} ${escaped} joined`), 10_000, from);
}

/**
 * Waits until a worker of either kind logs that it applied a list of exactly `count` brokers, after
 * log index `from` (ours logs "from join" / "from push", the original worker script "from update").
 */
export function waitForBrokers(worker: ServiceProcess, count: number, from = 0, timeoutMs = 10_000): Promise<LogLine> {
  return worker.waitForLog(new RegExp(`broker list from (join|push|update): ${count} brokers`), timeoutMs, from);
}
