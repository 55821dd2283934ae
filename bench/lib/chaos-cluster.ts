/**
 * Starts a chaos-suite cluster as child processes on free ports: our scc-state, brokers and two
 * workers (A and B). System "ours" runs packages/scc-broker and packages/scc-worker; system
 * "original" runs scc-broker@10.0.1 (node_modules/scc-broker/server.js) and original-worker.mjs
 * (socketcluster-server + scc-broker-client@9.2.0), both coordinated by our scc-state. Ports are
 * chosen up front (the original broker cannot listen on port 0) so a restart can reuse them.
 * Every process is stopped by pid.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ServiceProcess, spawnService, type LogLine } from '../../test/helpers/processes.js';

export type SystemName = 'ours' | 'original';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ORIGINAL_BROKER = createRequire(import.meta.url).resolve('scc-broker/server.js');
const ORIGINAL_WORKER = fileURLToPath(new URL('./original-worker.mjs', import.meta.url));

/** Timings the cluster runs with, ms. */
export interface ClusterTimings {
  scaleOutDelayMs: number;
  scaleBackDelayMs: number;
  /** The state server's startup delay when it is restarted (scenario 4); the first start uses 0. */
  startupDelayMs: number;
  /** Reconnect/retry delay of brokers and workers towards the state server and brokers. */
  retryDelayMs: number;
  /** Bound on each wait for the cluster to reach a state. */
  waitTimeoutMs: number;
}

/**
 * `count` distinct free TCP ports: all are bound at once (on every interface, as the services bind)
 * before any is released, so two callers in one batch cannot be handed the same port.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolve, reject) => {
            server.once('error', reject);
            server.listen(0, () => {
              const address = server.address();
              if (typeof address === 'object' && address) resolve(address.port);
              else reject(new Error('no port'));
            });
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
  }
}

const uri = (port: number): string => `ws://127.0.0.1:${port}`;
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class ChaosCluster {
  state!: ServiceProcess;
  readonly brokers: ServiceProcess[] = [];
  /** Workers A and B; an entry is replaced when the worker restarts. */
  readonly workers: ServiceProcess[] = [];
  readonly workerPorts: number[] = [];
  /** Processes replaced by a restart (kept for writeLogs). */
  private readonly retired: ServiceProcess[] = [];
  private statePort = 0;
  private closed = false;

  private constructor(
    readonly system: SystemName,
    private readonly timings: ClusterTimings,
    private readonly workerEnv: Record<string, string>,
  ) {}

  /** Starts state, `brokers` brokers and workers A and B; resolves when both workers know every broker. */
  static async start(system: SystemName, brokers: number, timings: ClusterTimings, workerEnv: Record<string, string> = {}): Promise<ChaosCluster> {
    const cluster = new ChaosCluster(system, timings, workerEnv);
    try {
      const ports = await freePorts(3 + brokers);
      cluster.statePort = ports[0]!;
      cluster.workerPorts.push(ports[1]!, ports[2]!);
      cluster.state = await cluster.spawnState(0);
      await Promise.all(ports.slice(3).map((port) => cluster.addBroker(port)));
      await Promise.all(cluster.workerPorts.map((port, i) => cluster.spawnWorker(i, port)));
      await cluster.waitForBrokerCount(brokers, [0, 0]);
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  private async spawnState(startupDelayMs: number): Promise<ServiceProcess> {
    const state = spawnService('state', 'scc-state', {
      SCC_STATE_SERVER_PORT: String(this.statePort),
      SCC_STATE_SERVER_STARTUP_DELAY: String(startupDelayMs),
      SCC_STATE_SERVER_SCALE_OUT_DELAY: String(this.timings.scaleOutDelayMs),
      SCC_STATE_SERVER_SCALE_BACK_DELAY: String(this.timings.scaleBackDelayMs),
      SCC_STATE_SERVER_RETRY_DELAY: String(this.timings.retryDelayMs),
      SCC_STATE_LOG_LEVEL: '3',
    });
    await state.waitForLog(/listening on port/, this.timings.waitTimeoutMs);
    return state;
  }

  private peerEnv(): Record<string, string> {
    return {
      SCC_STATE_SERVER_HOST: '127.0.0.1',
      SCC_STATE_SERVER_PORT: String(this.statePort),
      SCC_INSTANCE_IP: '127.0.0.1',
    };
  }

  /** Starts one more broker (on `port`, or a free one) and resolves once the state server has registered it. */
  async addBroker(port?: number): Promise<ServiceProcess> {
    port ??= (await freePorts(1))[0]!;
    const from = this.state.logs.length;
    const env = { ...this.peerEnv(), SCC_BROKER_SERVER_PORT: String(port), SCC_BROKER_SERVER_RETRY_DELAY: String(this.timings.retryDelayMs) };
    const broker =
      this.system === 'ours'
        ? spawnService(`broker:${port}`, 'scc-broker', { ...env, SCC_BROKER_SERVER_LOG_LEVEL: '3' })
        : spawnRaw(`broker:${port}`, ORIGINAL_BROKER, { ...env, SCC_BROKER_SERVER_LOG_LEVEL: '1' });
    broker.port = port;
    this.brokers.push(broker);
    await this.state.waitForLog(new RegExp(`scc-broker ${escape(uri(port))} joined`), this.timings.waitTimeoutMs, from);
    return broker;
  }

  private async spawnWorker(index: number, port: number): Promise<void> {
    const from = this.state.logs.length;
    const env = {
      ...this.peerEnv(),
      SOCKETCLUSTER_PORT: String(port),
      SCC_BROKER_RETRY_DELAY: String(this.timings.retryDelayMs),
      SCC_STATE_SERVER_RECONNECT_RANDOMNESS: String(Math.ceil(this.timings.retryDelayMs / 2)),
      ...this.workerEnv,
    };
    const name = `worker ${'AB'[index] ?? index}`;
    const worker =
      this.system === 'ours' ? spawnService(name, 'scc-worker', { ...env, SOCKETCLUSTER_LOG_LEVEL: '3' }) : spawnRaw(name, ORIGINAL_WORKER, env);
    worker.port = port;
    this.workers[index] = worker;
    await this.state.waitForLog(new RegExp(`scc-worker ${escape(uri(port))} joined`), this.timings.waitTimeoutMs, from);
  }

  /** Log positions of the workers now, to wait for something that happens after this point. */
  workerMarks(): number[] {
    return this.workers.map((w) => w.logs.length);
  }

  /** Waits until each worker logs a broker list of `count` brokers after its mark. */
  async waitForBrokerCount(count: number, marks: number[]): Promise<void> {
    const pattern = new RegExp(`broker list from \\w+: ${count} brokers`);
    await Promise.all(this.workers.map((w, i) => w.waitForLog(pattern, this.timings.waitTimeoutMs, marks[i] ?? 0)));
  }

  /** SIGKILLs the state server, keeps it down for `downMs`, restarts it on the same port with the startup delay, and waits until every broker and worker has re-joined. */
  async restartState(downMs: number): Promise<void> {
    await this.state.stop('SIGKILL');
    this.retired.push(this.state);
    await new Promise((r) => setTimeout(r, downMs));
    this.state = await this.spawnState(this.timings.startupDelayMs);
    const members = [...this.brokers.filter((b) => b.alive).map((b) => `scc-broker ${uri(b.port)}`), ...this.workerPorts.map((p) => `scc-worker ${uri(p)}`)];
    const bound = this.timings.waitTimeoutMs + this.timings.startupDelayMs;
    await Promise.all(members.map((m) => this.state.waitForLog(new RegExp(`${escape(m)} joined`), bound)));
  }

  /** SIGTERMs worker `index`, waits for it to exit, starts it again on the same port and waits until it re-joined with `brokers` brokers. */
  async restartWorker(index: number, brokers: number): Promise<void> {
    const worker = this.workers[index]!;
    await worker.stop('SIGTERM', this.timings.waitTimeoutMs);
    this.retired.push(worker);
    await this.spawnWorker(index, this.workerPorts[index]!);
    await this.workers[index]!.waitForLog(new RegExp(`broker list from \\w+: ${brokers} brokers`), this.timings.waitTimeoutMs);
  }

  /** The last lines of every process's log, for an error report. */
  tail(lines = 5): string {
    return [this.state, ...this.brokers, ...this.workers]
      .filter(Boolean)
      .map((p) => `${p.name}: ${[...p.logs.slice(-lines).map((l: LogLine) => l.msg), ...p.stderr.slice(-lines)].join(' | ')}`)
      .join('\n');
  }

  /** Writes every process's log lines and stderr to `<dir>/<prefix>-<name>.log`, for a post-mortem. */
  writeLogs(dir: string, prefix: string): void {
    mkdirSync(dir, { recursive: true });
    const all = [this.state, ...this.brokers, ...this.workers, ...this.retired].filter(Boolean);
    all.forEach((p, i) => {
      const lines = [...p.logs.map((l) => JSON.stringify(l)), ...p.stderr.map((l) => `stderr: ${l}`)];
      writeFileSync(join(dir, `${prefix}-${i}-${p.name.replace(/[^\w.-]+/g, '_')}.log`), `${lines.join('\n')}\n`);
    });
  }

  /** SIGKILLs everything still running. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.state, ...this.brokers, ...this.workers].filter(Boolean).map((p) => p.stop('SIGKILL')));
  }
}

/** Spawns `node <script>` at the repository root with JSON-or-text logs, as spawnService does for ours. */
function spawnRaw(name: string, script: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [script], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new ServiceProcess(name, child);
}
