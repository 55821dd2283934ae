/**
 * The one cluster launcher: a state server (always ours: it is the coordinator both kinds of peer
 * join), brokers and workers of either system, on free ports, waited on through structured signals
 * only (`/ready`, the state server's `/cluster.json`, and the `event` field of log lines). Used by the
 * tests, the benchmark, the chaos suite, the soak and fuzz runs and `pnpm start`.
 *
 *   ours     — packages/scc-broker and packages/scc-worker (of this checkout, or of `root`);
 *   original — scc-broker 10.0.1's server.js and harness/original-worker.mjs.
 *
 * The state server is one process, or (`stateReplicas`) several replicas that elect a leader through
 * etcd; peers dial replica 0, which passes them through to the leader while it follows.
 */
import { join } from 'node:path';
import { freePorts } from './ports.js';
import { waitForMembers, waitReady } from './ready.js';
import {
  DEFAULT_START_TIMEOUT_MS,
  startBroker,
  startOriginalBroker,
  startOriginalWorker,
  startState,
  startWorker,
  uriOf,
  waitForBrokerCount,
  waitForBrokers,
  type ServiceOptions,
} from './services.js';
import { LogEvent } from '@scc-ts/shared';
import type { ExitStatus, ServiceProcess, SpawnOptions } from './service-process.js';
import { leadersAmong, NoLeaderError, replicaEnv, replicaId, type Leading, type NewLeader, type StateReplicasOptions } from './state-replicas.js';

export type ClusterSystem = 'ours' | 'original';
export type Role = 'state' | 'broker' | 'worker';

export interface ClusterOptions {
  /** Which brokers and workers to run (default ours). */
  system?: ClusterSystem;
  brokers: number;
  workers: number;
  /** OUR services from this checkout directory (built already) instead of this one. */
  root?: string;
  /**
   * Choose every port up front, so that a restarted process comes back on the same one (the chaos
   * suite). Otherwise ours take port 0 and report it.
   */
  fixedPorts?: boolean;
  /** Exact ports (the local cluster's well-known ones); implies fixed ports. `state` is replica 0's with `stateReplicas` (the others take free ones). */
  ports?: { state: number; brokers: readonly number[]; workers: readonly number[] };
  /**
   * Replicated state servers: `count` replicas (ids r1…) electing through etcd at `etcdEndpoint`
   * under `prefix`, each with `stateEnv` and then `env`. Peers dial replica 0. Absent: one state server.
   */
  stateReplicas?: StateReplicasOptions;
  /** Fast test timings (FAST_STATE_ENV / FAST_PEER_ENV); default true. */
  fast?: boolean;
  stateEnv?: Readonly<Record<string, string>>;
  brokerEnv?: Readonly<Record<string, string>>;
  workerEnv?: Readonly<Record<string, string>>;
  /** Node flags per process, e.g. `--cpu-prof` for the benchmark's profiled roles. */
  nodeArgs?: (role: Role, name: string) => readonly string[];
  /** Bound on each wait (a start, a join, a re-join), ms. */
  timeoutMs?: number;
  /** Passed to every process (the local cluster inherits the caller's environment). */
  spawn?: Pick<SpawnOptions, 'inheritEnv' | 'detached'>;
  /** Sees every output line of every process as it comes (the local cluster prints them prefixed). */
  onLine?: (name: string, role: Role, stream: 'stdout' | 'stderr', line: string) => void;
  /**
   * Wait on endpoints (`/health-check`, `/ready`, `/cluster.json`) only, never on log events: for
   * logs that are not JSON (the local cluster's pretty ones). Implied by `root`, whose log lines may
   * predate the events.
   */
  endpointsOnly?: boolean;
  /**
   * Process names: default `state`, `broker`, `worker` (tests match on these), or by their index
   * (in start order) or their port (given when chosen up front).
   */
  names?: (role: Role, index: number, port: number | undefined) => string;
}

const DEFAULT_NAMES = (role: Role): string => role;
/** How often `waitForLeader` asks every replica's /ready by default, ms. */
const LEADER_POLL_MS = 50;

/** What `killLeader` did: the replica it killed, its term, when (epoch ms), and its restart on the same port. */
export interface LeaderKill extends Leading {
  killedAt: number;
  /** Resolves once the replica listens again (as a follower, unless it wins the next election). */
  restarted: Promise<ServiceProcess>;
}

export class Cluster {
  /** The state server; with `stateReplicas`, replica 0 (the one peers dial). */
  state!: ServiceProcess;
  /** With `stateReplicas`: every replica in start order (an entry is replaced when it restarts); else empty. */
  readonly replicas: ServiceProcess[] = [];
  /** Polls of `leaders()` that found more than one replica leading (must stay 0). */
  doubleLeaders = 0;
  /** Replica restarts under way (awaited by stop and close, so none outlives the cluster). */
  private readonly restarting = new Set<Promise<unknown>>();
  readonly brokers: ServiceProcess[] = [];
  /** Workers in start order; an entry is replaced when the worker restarts. */
  readonly workers: ServiceProcess[] = [];
  /** Processes replaced by a restart (kept for writeLogs). */
  readonly retired: ServiceProcess[] = [];
  private closed = false;
  private brokersStarted = 0;
  private workersStarted = 0;
  private readonly timeoutMs: number;

  private constructor(readonly options: Readonly<ClusterOptions>) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  }

  get system(): ClusterSystem {
    return this.options.system ?? 'ours';
  }

  get statePort(): number {
    return this.state.port;
  }

  get workerPorts(): number[] {
    return this.workers.map((w) => w.port);
  }

  /** Whether the `event` fields of our services' log lines can be relied on (this checkout's services). */
  private get hasEvents(): boolean {
    return this.options.root === undefined && !this.options.endpointsOnly;
  }

  /**
   * Starts the state server, then every broker (resolving once the state server lists them all),
   * then every worker (once each is ready with every broker). Stops what it started on failure.
   */
  static async start(options: ClusterOptions): Promise<Cluster> {
    const count = options.stateReplicas?.count;
    if (count !== undefined && !(Number.isInteger(count) && count >= 1)) throw new RangeError(`stateReplicas.count must be an integer ≥ 1, got ${count}`);
    const cluster = new Cluster(options);
    try {
      const picked = !options.ports && (options.fixedPorts || options.endpointsOnly) ? await cluster.pickPorts() : undefined;
      const fixed = options.ports ?? picked;
      if (options.stateReplicas) {
        // With exact ports (the local cluster's), replica 0 takes the state port and the others free
        // ones chosen here: waiting on endpoints only, a replica must be handed its port.
        const others = options.ports && options.endpointsOnly ? await freePorts(options.stateReplicas.count - 1) : [];
        await cluster.startReplicas(options.stateReplicas.count, picked?.replicas ?? [fixed?.state, ...others]);
      }
      else cluster.state = await cluster.spawnState(fixed?.state, options.stateEnv);
      await Promise.all(Array.from({ length: options.brokers }, (_, i) => cluster.addBroker(fixed?.brokers[i])));
      await Promise.all(Array.from({ length: options.workers }, (_, i) => cluster.startWorkerAt(i, fixed?.workers[i])));
      cluster.workersStarted = options.workers;
      await cluster.waitSettled(0);
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** One batch of free ports for every process (so none is handed out twice): the state server's (every replica's) first. */
  private async pickPorts(): Promise<{ state: number; replicas: number[]; brokers: number[]; workers: number[] }> {
    const { brokers, workers } = this.options;
    const states = this.options.stateReplicas?.count ?? 1;
    const ports = await freePorts(states + brokers + workers);
    return { state: ports[0]!, replicas: ports.slice(0, states), brokers: ports.slice(states, states + brokers), workers: ports.slice(states + brokers) };
  }

  /** Starts `count` replicas (replica i on `ports[i]`, else a port of its own choosing) and waits for a leader. */
  private async startReplicas(count: number, ports: readonly (number | undefined)[]): Promise<void> {
    await Promise.all(Array.from({ length: count }, (_, i) => this.spawnReplica(i, ports[i])));
    await this.waitForLeader(0);
  }

  /** Starts replica `index` (on `port`, or a free one) and puts it in its place. */
  private async spawnReplica(index: number, port: number | undefined): Promise<ServiceProcess> {
    const replicas = this.options.stateReplicas!;
    const options = this.serviceOptions('state', index, { ...this.options.stateEnv, ...replicaEnv(replicas, index) }, port);
    const replica = await startState({ ...options, name: `${options.name} ${replicaId(index)}` });
    this.replicas[index] = replica;
    if (index === 0) this.state = replica;
    return replica;
  }

  /** The replicas that say they lead now (/ready); counts a poll that finds two or more in `doubleLeaders`. */
  async leaders(): Promise<Leading[]> {
    const found = await leadersAmong(this.replicas);
    if (found.length > 1) this.doubleLeaders += 1;
    return found;
  }

  /** The leader now: waits (bounded by the cluster's timeout) until exactly one replica leads. */
  async leader(): Promise<Leading> {
    const { index, term } = await this.waitForLeader(0);
    return { index, term };
  }

  /**
   * Waits until exactly one replica leads with a term above `afterTerm`, asking every replica's
   * /ready each `pollMs`; resolves with it and when it was first seen leading. Throws NoLeaderError
   * after `timeoutMs`.
   */
  async waitForLeader(afterTerm = 0, timeoutMs = this.timeoutMs, pollMs = LEADER_POLL_MS): Promise<NewLeader> {
    if (this.replicas.length === 0) throw new NoLeaderError('not a replicated cluster: there is no leader to wait for');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = await this.leaders();
      if (found.length === 1 && found[0]!.term > afterTerm) return { ...found[0]!, at: Date.now() };
      if (Date.now() > deadline) throw new NoLeaderError(`no single leader of a term above ${afterTerm} within ${timeoutMs} ms (leading: ${JSON.stringify(found)})`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /**
   * SIGKILLs the leader and starts it again on its port after `restartAfterMs` (at once by default),
   * without waiting for the restart: peers that dial it come back through it as a follower.
   */
  async killLeader({ restartAfterMs = 0 }: { restartAfterMs?: number } = {}): Promise<LeaderKill> {
    const { index, term } = await this.leader();
    const victim = this.replicas[index]!;
    const killedAt = Date.now();
    await victim.stop('SIGKILL');
    this.retired.push(victim);
    const restarted = (async () => {
      await new Promise((r) => setTimeout(r, restartAfterMs));
      if (this.closed) throw new Error(`cluster closed before replica ${replicaId(index)} restarted`);
      return this.spawnReplica(index, victim.port);
    })();
    this.restarting.add(restarted);
    // Handled here so that a caller that fails before awaiting it leaves no unhandled rejection.
    restarted.then(
      () => this.restarting.delete(restarted),
      () => this.restarting.delete(restarted),
    );
    return { index, term, killedAt, restarted };
  }

  private serviceOptions(role: Role, index: number, env: Readonly<Record<string, string>> | undefined, port: number | undefined): ServiceOptions {
    const name = (this.options.names ?? DEFAULT_NAMES)(role, index, port);
    const { onLine } = this.options;
    return {
      name,
      ...(env && { env }),
      ...(port !== undefined && { port }),
      ...(this.options.fast !== undefined && { fast: this.options.fast }),
      // Only our services read it: the state server always, brokers and workers of system ours.
      ...(this.options.root !== undefined && { root: this.options.root }),
      nodeArgs: this.options.nodeArgs?.(role, name) ?? [],
      timeoutMs: this.timeoutMs,
      spawn: { ...this.options.spawn, ...(onLine && { onLine: (stream: 'stdout' | 'stderr', line: string) => onLine(name, role, stream, line) }) },
    };
  }

  private spawnState(port: number | undefined, env: Readonly<Record<string, string>> | undefined): Promise<ServiceProcess> {
    return startState(this.serviceOptions('state', 0, env, port));
  }

  /** Starts one more broker (on `port`, or a free one) and resolves once the state server lists it. */
  async addBroker(port?: number, env: Readonly<Record<string, string>> | undefined = this.options.brokerEnv): Promise<ServiceProcess> {
    const broker = await this.spawnBroker(port, env);
    await waitForMembers(this.statePort, { brokers: [uriOf(broker)] }, { timeoutMs: this.timeoutMs, process: broker });
    return broker;
  }

  /** Starts one more broker and resolves once it listens, not waiting for it to join (e.g. while no state server leads). */
  async spawnBroker(port?: number, env: Readonly<Record<string, string>> | undefined = this.options.brokerEnv): Promise<ServiceProcess> {
    // Counted before any await: brokers started together still get distinct indexes (and names).
    const options = this.serviceOptions('broker', this.brokersStarted++, env, port);
    const broker = this.system === 'ours' ? await startBroker(this.statePort, options) : await startOriginalBroker(this.statePort, options);
    this.brokers.push(broker);
    return broker;
  }

  /** Starts worker `index` (on `port`, or a free one) and resolves once the state server lists it and it is ready. */
  private startWorkerAt(index: number, port?: number): Promise<ServiceProcess> {
    return this.spawnWorker(index, port, (worker) => (this.workers[index] = worker));
  }

  /** Starts one more worker (on `port`, or a free one) and resolves once the state server lists it and it is ready. */
  addWorker(port?: number): Promise<ServiceProcess> {
    return this.spawnWorker(this.workersStarted++, port, (worker) => this.workers.push(worker));
  }

  private async spawnWorker(nameIndex: number, port: number | undefined, place: (worker: ServiceProcess) => void): Promise<ServiceProcess> {
    const since = Date.now();
    const options = this.serviceOptions('worker', nameIndex, this.options.workerEnv, port);
    const worker = this.system === 'ours' ? await startWorker(this.statePort, options) : await startOriginalWorker(this.statePort, options);
    place(worker);
    await waitForMembers(this.statePort, { workers: [uriOf(worker)], since }, { timeoutMs: this.timeoutMs, process: worker });
    // The original worker serves no /ready; its broker list says it is wired to the brokers.
    if (this.system === 'ours') await waitReady(worker.port, this.timeoutMs, worker);
    return worker;
  }

  /**
   * Waits until every worker holds the list of every live broker (after log positions `marks`, or
   * 0 for all): ours publish through it and know every other worker; the original applied it.
   */
  async waitSettled(marks: number | readonly number[] = 0): Promise<void> {
    const brokers = this.brokers.filter((b) => b.alive).length;
    const from = (i: number): number => (typeof marks === 'number' ? marks : (marks[i] ?? 0));
    if (!this.hasEvents) {
      // Without events (another checkout's lines may predate them; pretty logs): the workers joined
      // after every broker, so their join reply held every broker, and /ready said each link is up.
      await waitForMembers(this.statePort, { brokerCount: brokers, workerCount: this.workers.length }, { timeoutMs: this.timeoutMs });
      return;
    }
    await Promise.all(
      this.workers.map(async (w, i) => {
        if (this.system === 'original') return waitForBrokers(w, brokers, from(i), this.timeoutMs);
        await waitForBrokerCount(w, brokers, from(i), this.timeoutMs);
        return w.waitForEvent(LogEvent.WorkerList, { workers: this.workers.length }, this.timeoutMs, from(i));
      }),
    );
  }

  /** Log positions of the workers now, to wait for something that happens after this point. */
  workerMarks(): number[] {
    return this.workers.map((w) => w.mark());
  }

  /** Waits until each worker applied a broker list of `count` brokers after its mark (either system). */
  async waitForBrokerCount(count: number, marks: readonly number[]): Promise<void> {
    await Promise.all(this.workers.map((w, i) => waitForBrokers(w, count, marks[i] ?? 0, this.timeoutMs)));
  }

  /**
   * SIGKILLs the state server, keeps it down for `downMs`, restarts it on the same port with `env`
   * (e.g. a startup delay), and waits until every live broker and every worker has re-joined it.
   */
  async restartState(downMs: number, env: Readonly<Record<string, string>> = {}, rejoinTimeoutMs = this.timeoutMs, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.replicas.length > 0) throw new Error('restartState is for the single state server; replicated clusters use killLeader');
    const port = this.statePort;
    await this.state.stop(signal, this.timeoutMs);
    this.retired.push(this.state);
    await new Promise((r) => setTimeout(r, downMs));
    this.state = await this.spawnState(port, { ...this.options.stateEnv, ...env });
    const brokers = this.brokers.filter((b) => b.alive).map(uriOf);
    await waitForMembers(port, { brokers, workers: this.workers.map(uriOf) }, { timeoutMs: rejoinTimeoutMs, process: this.state });
  }

  /** Stops worker `index` with `signal`, starts it again on the same port and waits until it re-joined with every live broker. */
  async restartWorker(index: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const worker = this.workers[index]!;
    await worker.stop(signal, this.timeoutMs);
    this.retired.push(worker);
    const restarted = await this.startWorkerAt(index, worker.port);
    const brokers = this.brokers.filter((b) => b.alive).length;
    if (this.hasEvents || this.system === 'original') await waitForBrokers(restarted, brokers, 0, this.timeoutMs);
  }

  /** Stops broker `index` with `signal`, starts it again on the same port and waits until the state server lists it again. */
  async restartBroker(index: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<ServiceProcess> {
    const broker = this.brokers[index]!;
    await broker.stop(signal, this.timeoutMs);
    this.retired.push(broker);
    const since = Date.now();
    const options = this.serviceOptions('broker', index, this.options.brokerEnv, broker.port);
    const restarted = this.system === 'ours' ? await startBroker(this.statePort, options) : await startOriginalBroker(this.statePort, options);
    this.brokers[index] = restarted;
    await waitForMembers(this.statePort, { brokers: [uriOf(restarted)], since }, { timeoutMs: this.timeoutMs, process: restarted });
    return restarted;
  }

  /**
   * Stops a broker or worker of this cluster with `signal` (SIGKILL after `timeoutMs`) and forgets it
   * (see `forget`); resolves with its exit.
   */
  async remove(service: ServiceProcess, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = this.timeoutMs): Promise<ExitStatus> {
    const exit = await service.stop(signal, timeoutMs);
    this.forget(service);
    return exit;
  }

  /** Takes an exited broker or worker off `brokers`/`workers` (so waits count only the live ones); kept in `retired` for writeLogs. */
  forget(service: ServiceProcess): void {
    for (const list of [this.brokers, this.workers]) {
      const at = list.indexOf(service);
      if (at !== -1) list.splice(at, 1);
    }
    if (!this.retired.includes(service)) this.retired.push(service);
  }

  /** Every process started, live or not, state first. */
  all(): ServiceProcess[] {
    return [...this.stateProcesses(), ...this.brokers, ...this.workers].filter(Boolean);
  }

  /** The state server, or every replica. */
  private stateProcesses(): ServiceProcess[] {
    return this.replicas.length > 0 ? this.replicas : [this.state];
  }

  /** The last lines of every process's log, for an error report. */
  tail(lines = 5): string {
    return this.all()
      .map((p) => `${p.name}: ${p.tail(lines).replaceAll('\n', ' | ')}`)
      .join('\n');
  }

  /** Writes every process's log (restarted ones too) to `<dir>/<prefix>-<n>-<name>.log`. */
  writeLogs(dir: string, prefix: string): void {
    [...this.all(), ...this.retired].forEach((p, i) => p.writeLog(join(dir, `${prefix}-${i}-${p.name.replace(/[^\w.-]+/g, '_')}.log`)));
  }

  /**
   * Stops every process: workers first (they leave the cluster), then brokers, then the state server,
   * each group with `signal` and SIGKILL after `timeoutMs`. Safe to call twice.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs?: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.restarting]);
    for (const group of [this.workers, this.brokers, this.stateProcesses()]) {
      await Promise.all(group.filter(Boolean).map((p) => p.stop(signal, timeoutMs)));
    }
  }

  /** SIGKILLs everything still running. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.restarting]);
    await Promise.all(this.all().map((p) => p.stop('SIGKILL')));
  }
}

/** Starts a cluster (see Cluster.start). */
export function startCluster(options: ClusterOptions): Promise<Cluster> {
  return Cluster.start(options);
}
