/**
 * Starts the real services (`node server` in each package folder) as child processes on ephemeral
 * ports, reads their JSON logs, and stops them by pid. Every process started here is registered and
 * `stopAll()` (call it in afterAll) kills whatever is still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Collector, connect, primeChannels, type Client } from './clients.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One parsed pino line. */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** Settings that make a test cluster converge in well under a second. */
export const FAST_STATE_ENV = {
  SCC_STATE_SERVER_STARTUP_DELAY: '0',
  SCC_STATE_SERVER_SCALE_OUT_DELAY: '200',
  SCC_STATE_SERVER_SCALE_BACK_DELAY: '100',
  SCC_STATE_SERVER_RETRY_DELAY: '200',
} as const;

export const FAST_PEER_ENV = {
  SCC_BROKER_SERVER_RETRY_DELAY: '200',
  SCC_BROKER_RETRY_DELAY: '200',
  SCC_STATE_SERVER_RECONNECT_RANDOMNESS: '100',
  SCC_INSTANCE_IP: '127.0.0.1',
  SCC_HANDOVER_DELAY: '150',
  SCC_HANDOVER_GRACE: '150',
} as const;

const running = new Set<ServiceProcess>();

export class ServiceProcess {
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters = new Set<() => void>();
  port = 0;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    running.add(this);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        running.delete(this);
        resolve({ code, signal });
        this.notify();
      });
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogLine);
      } catch {
        this.logs.push({ level: 30, msg: line });
      }
      this.notify();
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderr.push(line);
      this.notify();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private notify(): void {
    for (const waiter of this.waiters) waiter();
  }

  /** Resolves with the first log line (past or future) matching `pattern`. */
  waitForLog(pattern: RegExp, timeoutMs = 10_000, from = 0): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.logs.slice(from).find((l) => pattern.test(l.msg));
        if (hit) {
          cleanup();
          resolve(hit);
          return true;
        }
        if (!this.alive) {
          cleanup();
          reject(new Error(`${this.name} exited while waiting for ${pattern}; stderr: ${this.stderr.join('\n')}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name}: no log matching ${pattern} within ${timeoutMs} ms; last lines:\n${this.logs.slice(-8).map((l) => l.msg).join('\n')}`));
      }, timeoutMs);
      const listener = (): void => void check();
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters.delete(listener);
      };
      this.waiters.add(listener);
      check();
    });
  }

  /** Sends a signal by pid and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.alive) process.kill(this.pid, signal);
    const timer = setTimeout(() => this.alive && process.kill(this.pid, 'SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Spawns `node server` in `packages/<pkg>` (or in `cwd`) with the given environment (JSON logs). */
export function spawnService(name: string, pkg: 'scc-state' | 'scc-broker' | 'scc-worker', env: Record<string, string>, cwd = join(ROOT, 'packages', pkg)): ServiceProcess {
  const child = spawn(process.execPath, ['server'], {
    cwd,
    env: { PATH: process.env['PATH'] ?? '', SCC_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new ServiceProcess(name, child);
}

const LISTENING = /listening on port (\d+)/;

/** Waits for the service's `listening on port N` line and records the port. */
export async function started(service: ServiceProcess): Promise<ServiceProcess> {
  const line = await service.waitForLog(LISTENING);
  service.port = Number(LISTENING.exec(line.msg)![1]);
  return service;
}

export async function startState(env: Record<string, string> = {}): Promise<ServiceProcess> {
  return started(spawnService('state', 'scc-state', { SCC_STATE_SERVER_PORT: '0', ...FAST_STATE_ENV, SCC_STATE_LOG_LEVEL: '3', ...env }));
}

export async function startBroker(statePort: number, env: Record<string, string> = {}): Promise<ServiceProcess> {
  return started(
    spawnService('broker', 'scc-broker', {
      SCC_BROKER_SERVER_PORT: '0',
      SCC_STATE_SERVER_HOST: '127.0.0.1',
      SCC_STATE_SERVER_PORT: String(statePort),
      SCC_BROKER_SERVER_LOG_LEVEL: '3',
      ...FAST_PEER_ENV,
      ...env,
    }),
  );
}

export async function startWorker(statePort: number | null, env: Record<string, string> = {}): Promise<ServiceProcess> {
  return started(
    spawnService('worker', 'scc-worker', {
      SOCKETCLUSTER_PORT: '0',
      ...(statePort === null ? {} : { SCC_STATE_SERVER_HOST: '127.0.0.1', SCC_STATE_SERVER_PORT: String(statePort) }),
      SOCKETCLUSTER_LOG_LEVEL: '3',
      ...FAST_PEER_ENV,
      ...env,
    }),
  );
}

/** Polls `GET /ready` until 200. */
export async function waitReady(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/ready`);
      if (res.ok) return;
      last = await res.text();
    } catch (error) {
      last = String(error);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} not ready within ${timeoutMs} ms: ${last}`);
}

/** Stops every process these helpers started (SIGKILL; tests that check clean exits stop theirs first). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop('SIGKILL')));
}

/** A running cluster of real processes. */
export interface TestCluster {
  state: ServiceProcess;
  brokers: ServiceProcess[];
  workers: ServiceProcess[];
}

/** Starts state, brokers and workers, and waits until every worker is ready with every broker. */
export async function startCluster(options: {
  brokers: number;
  workers: number;
  workerEnv?: Record<string, string>;
  stateEnv?: Record<string, string>;
  brokerEnv?: Record<string, string>;
}): Promise<TestCluster> {
  const state = await startState(options.stateEnv);
  const brokers = await Promise.all(Array.from({ length: options.brokers }, () => startBroker(state.port, options.brokerEnv)));
  await Promise.all(brokers.map((b) => b.waitForLog(/joined the cluster/)));
  const workers = await Promise.all(Array.from({ length: options.workers }, () => startWorker(state.port, options.workerEnv)));
  await Promise.all(workers.map((w) => waitReady(w.port)));
  await Promise.all(workers.map((w) => waitForBrokerCount(w, options.brokers)));
  // Every worker knows every other one (the worker list follows the joins after the scale-out delay).
  await Promise.all(workers.map((w) => w.waitForLog(new RegExp(`worker list: ${options.workers} workers`))));
  return { state, brokers, workers };
}

/** Waits until the worker has the list of `count` brokers and publishes through it (its handover is over). */
export async function waitForBrokerCount(worker: ServiceProcess, count: number, from = 0, timeoutMs = 10_000): Promise<LogLine> {
  await worker.waitForLog(new RegExp(`broker list from (join|push): ${count} brokers`), timeoutMs, from);
  return worker.waitForLog(new RegExp(`publishing through ${count} brokers`), timeoutMs, from);
}

/** A cluster with one subscriber client on worker B on every channel and a publisher client on worker A. */
export interface SubscribedCluster {
  cluster: TestCluster;
  /** Publishes on worker A. */
  publisher: Client;
  /** Records what worker B's subscriber receives, under label 'B'. */
  collector: Collector;
}

/**
 * Starts a cluster, subscribes worker B's client to `channels`, and primes them from worker A so the
 * upstream subscriptions are in place before the test publishes.
 */
export async function startSubscribedCluster(channels: string[], options: Parameters<typeof startCluster>[0]): Promise<SubscribedCluster> {
  const cluster = await startCluster(options);
  const collector = new Collector();
  const subscriber = await connect(cluster.workers[1]!.port);
  for (const c of channels) await collector.subscribe('B', subscriber, c);
  const publisher = await connect(cluster.workers[0]!.port);
  await primeChannels(publisher, collector, ['B'], channels);
  return { cluster, publisher, collector };
}
