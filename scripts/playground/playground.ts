/**
 * The local cluster as a playground: a harness Cluster that keeps running when a child exits (one
 * line says which and how; nothing restarts by itself), and the actions a user can take on it —
 * add, drain or kill a broker, add or remove a worker, restart the state server — one at a time,
 * each reported with the membership the state server shows once it settled. The terminal keys
 * (keys.ts) and the control API (control-api.ts) both call `act()`.
 */
import { CLOSE_MARGIN_MS, DEFAULT_DRAIN_TIMEOUT_MS } from '@scc-ts/shared';
import { Cluster, type ClusterOptions, type Role } from '../../harness/cluster.js';
import { freePort } from '../../harness/ports.js';
import { clusterSnapshot, waitForMembers, type ClusterSnapshot } from '../../harness/ready.js';
import { runningProcesses, type ExitStatus, type ServiceProcess } from '../../harness/service-process.js';
import { replicaId, type StateReplicasOptions } from '../../harness/state-replicas.js';
import { ActionFailedError, NoBrokerLeftError, NoWorkerLeftError, PlaygroundBusyError, PlaygroundError, PlaygroundNotReadyError } from './errors.js';

/** Every action, by the name the control API takes (`POST /actions/<name>`). */
export const ACTIONS = ['add-broker', 'drain-broker', 'kill-broker', 'add-worker', 'remove-worker', 'restart-state'] as const;
export type ActionName = (typeof ACTIONS)[number];

export function isAction(name: string): name is ActionName {
  return (ACTIONS as readonly string[]).includes(name);
}

/** A drained broker or removed worker gets this long to exit before SIGKILL, ms: its drain bound plus the close margin, and slack. */
const DRAIN_STOP_TIMEOUT_MS = DEFAULT_DRAIN_TIMEOUT_MS + CLOSE_MARGIN_MS + 5_000;
/** How long each group of children (workers, brokers, state) gets to exit after SIGTERM on quit before SIGKILL, ms. */
const QUIT_STOP_TIMEOUT_MS = 12_000;

/** Where the playground's ports come from. */
export type PortPlan =
  /** The well-known ports: the state server's, and brokers and workers counting up from their first. */
  | { kind: 'well-known'; state: number; firstBroker: number; firstWorker: number }
  /** Free ports, chosen as each process starts (tests, or a second playground beside a first). */
  | { kind: 'free' };

export type ChildState = 'running' | 'draining' | 'killed' | 'stopping' | 'exited';

/** One child process as `GET /status` shows it. */
export interface ChildStatus {
  role: Role;
  name: string;
  port: number;
  pid: number;
  state: ChildState;
  /** How it exited (`code 0`, `SIGKILL`), once it has. */
  exit?: string;
}

/** Who is in the cluster, by port, as the state server's `/cluster.json` lists them. */
export interface Membership {
  brokers: number[];
  workers: number[];
}

export interface ActionResult {
  action: ActionName;
  /** What was done, in one line. */
  done: string;
  membership: Membership;
  /** False when the state server had not settled on the new membership within the wait (it is shown as it was). */
  settled: boolean;
}

export type Phase = 'starting' | 'ready' | 'stopping';

export interface PlaygroundStatus {
  phase: Phase;
  /** The action in progress, if any. */
  busy: ActionName | null;
  statePort: number;
  children: ChildStatus[];
}

export interface PlaygroundOptions {
  ports: PortPlan;
  brokers: number;
  workers: number;
  /** Environment for every service (log format, bind host); the caller's environment is inherited under it. */
  env: Readonly<Record<string, string>>;
  /** Bound on each wait (a start, a join, a settle), ms. */
  timeoutMs: number;
  /** One line for the user (the runner prefixes it). */
  say: (line: string) => void;
  /** Every output line of every child. */
  onLine: NonNullable<ClusterOptions['onLine']>;
  /** Replicated state servers (several replicas electing a leader through etcd); absent: the single one. */
  stateReplicas?: StateReplicasOptions;
}

/** `code 0` or `SIGKILL`. */
export function describeExit({ code, signal }: ExitStatus): string {
  return signal ?? `code ${code}`;
}

const portOfUri = (uri: string): number => Number(new URL(uri).port);

/** One line: `brokers :8888 :8889 · workers :8000 :8001`. */
export function formatMembership({ brokers, workers }: Membership): string {
  const list = (ports: number[]): string => (ports.length === 0 ? 'none' : ports.map((p) => `:${p}`).join(' '));
  return `brokers ${list(brokers)} · workers ${list(workers)}`;
}

/** Bound on the exits kept in the status after their process is gone. */
const MAX_EXITED_SHOWN = 16;

export class Playground {
  private cluster: Cluster | undefined;
  private phase: Phase = 'starting';
  private busy: ActionName | null = null;
  private readonly children = new Map<ServiceProcess, { role: Role; state: ChildState; exit?: string }>();
  /** Processes this playground stopped on purpose: their exit is reported by the action, not as news. */
  private readonly expected = new Set<ServiceProcess>();
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: PlaygroundOptions) {}

  get statePort(): number {
    return this.cluster?.statePort ?? (this.options.ports.kind === 'well-known' ? this.options.ports.state : 0);
  }

  /** Starts the state server, the brokers and the workers; resolves once every worker is ready. */
  async start(): Promise<void> {
    const { ports } = this.options;
    const fixed =
      ports.kind === 'well-known'
        ? {
            state: ports.state,
            brokers: Array.from({ length: this.options.brokers }, (_, i) => ports.firstBroker + i),
            workers: Array.from({ length: this.options.workers }, (_, i) => ports.firstWorker + i),
          }
        : undefined;
    this.cluster = await Cluster.start({
      brokers: this.options.brokers,
      workers: this.options.workers,
      ...(fixed ? { ports: fixed } : {}),
      // The services' own timings (a caller's SCC_* variables pass through), waited on through
      // /health-check, /ready and /cluster.json only: pretty logs carry no parseable events.
      fast: false,
      endpointsOnly: true,
      stateEnv: this.options.env,
      ...(this.options.stateReplicas ? { stateReplicas: this.options.stateReplicas } : {}),
      brokerEnv: this.options.env,
      workerEnv: this.options.env,
      timeoutMs: this.options.timeoutMs,
      names: (role, index, port) => (role === 'state' ? (this.options.stateReplicas ? `state:${replicaId(index)}` : 'state') : `${role}:${port ?? '?'}`),
      // Own process group: a terminal's Ctrl-C (when it is a signal) reaches only this runner, which
      // stops the children in order (a second signal would make them exit without leaving the cluster).
      spawn: { inheritEnv: true, detached: true },
      onLine: this.options.onLine,
    });
    const cluster = this.cluster;
    for (const state of cluster.replicas.length > 0 ? cluster.replicas : [cluster.state]) this.watch(state, 'state');
    for (const broker of cluster.brokers) this.watch(broker, 'broker');
    for (const worker of cluster.workers) this.watch(worker, 'worker');
    if (this.phase === 'starting') this.phase = 'ready';
  }

  /** Ports of the workers now running (the demo pages). */
  workerPorts(): number[] {
    return this.cluster?.workers.filter((w) => w.alive).map((w) => w.port) ?? [];
  }

  status(): PlaygroundStatus {
    const children = [...this.children].map(([p, c]) => ({ role: c.role, name: p.name, port: p.port, pid: p.pid, state: c.state, ...(c.exit !== undefined && { exit: c.exit }) }));
    return { phase: this.phase, busy: this.busy, statePort: this.statePort, children };
  }

  /** Who the state server lists now. */
  async membership(): Promise<Membership> {
    return membershipOf(await clusterSnapshot(this.statePort));
  }

  /** Runs one action; refuses (PlaygroundBusyError) while another runs. */
  async act(action: ActionName): Promise<ActionResult> {
    if (this.phase !== 'ready' || !this.cluster) throw new PlaygroundNotReadyError(`the playground is ${this.phase}`);
    if (this.busy) throw new PlaygroundBusyError(`${this.busy} is still in progress; try again once it is done`);
    this.busy = action;
    try {
      const done = await this.run(action, this.cluster);
      const { membership, settled } = await this.settle(this.cluster);
      return { action, done, membership, settled };
    } catch (error) {
      if (error instanceof PlaygroundError) throw error;
      throw new ActionFailedError(`${action} failed: ${(error as Error).message.split('\n', 1)[0]}`);
    } finally {
      this.busy = null;
    }
  }

  private async run(action: ActionName, cluster: Cluster): Promise<string> {
    switch (action) {
      case 'add-broker': {
        const broker = await cluster.addBroker(await this.nextPort('broker'));
        this.watch(broker, 'broker');
        return `added ${broker.name} (pid ${broker.pid})`;
      }
      case 'drain-broker':
      case 'kill-broker': {
        const broker = this.newest(cluster.brokers);
        if (!broker) throw new NoBrokerLeftError('no broker is running');
        const drain = action === 'drain-broker';
        const since = Date.now();
        const exit = await this.remove(cluster, broker, drain ? 'SIGTERM' : 'SIGKILL', drain ? 'draining' : 'killed');
        return drain ? `drained ${broker.name}: it moved its channels away and exited (${describeExit(exit)}) after ${Date.now() - since} ms` : `killed ${broker.name} (${describeExit(exit)})`;
      }
      case 'add-worker': {
        const worker = await cluster.addWorker(await this.nextPort('worker'));
        this.watch(worker, 'worker');
        return `added ${worker.name} (pid ${worker.pid}): demo at http://localhost:${worker.port}/`;
      }
      case 'remove-worker': {
        const worker = this.newest(cluster.workers);
        if (!worker) throw new NoWorkerLeftError('no worker is running');
        const exit = await this.remove(cluster, worker, 'SIGTERM', 'draining');
        return `removed ${worker.name}: its clients were told to reconnect (code 1012) and it left the cluster (${describeExit(exit)})`;
      }
      case 'restart-state': {
        if (cluster.replicas.length > 0) return this.failover(cluster);
        const old = cluster.state;
        this.expected.add(old);
        this.mark(old, 'stopping');
        // SIGTERM, as a deploy would; the new one refuses workers for its startup delay, then all re-join.
        await cluster.restartState(0, {}, this.options.timeoutMs, 'SIGTERM');
        this.watch(cluster.state, 'state');
        return `restarted the state server (pid ${old.pid} → ${cluster.state.pid}); every broker and worker re-joined`;
      }
    }
  }

  /**
   * Replicated state servers: the leader is SIGKILLed and started again at once on its port; a
   * follower takes over and every peer re-joins it (through the replica it dials).
   */
  private async failover(cluster: Cluster): Promise<string> {
    const { index } = await cluster.leader();
    const victim = cluster.replicas[index]!;
    this.expected.add(victim);
    this.mark(victim, 'killed');
    const kill = await cluster.killLeader();
    const next = await cluster.waitForLeader(kill.term);
    const restarted = await kill.restarted;
    this.watch(restarted, 'state');
    return `killed the state leader ${replicaId(kill.index)} (term ${kill.term}); ${replicaId(next.index)} leads (term ${next.term}) ${next.at - kill.killedAt} ms later, and ${replicaId(kill.index)} came back as a replica`;
  }

  /** The most recently started broker or worker still running and not being stopped. */
  private newest(list: readonly ServiceProcess[]): ServiceProcess | undefined {
    return [...list].reverse().find((p) => p.alive && !this.expected.has(p));
  }

  private async remove(cluster: Cluster, service: ServiceProcess, signal: NodeJS.Signals, state: ChildState): Promise<ExitStatus> {
    this.expected.add(service);
    this.mark(service, state);
    return cluster.remove(service, signal, DRAIN_STOP_TIMEOUT_MS);
  }

  /**
   * The next port for a new broker or worker: the lowest well-known one (8888, 8889, … / 8000,
   * 8001, …) that no running process of ours holds, or a free one.
   */
  private async nextPort(role: 'broker' | 'worker'): Promise<number> {
    const { ports } = this.options;
    if (ports.kind === 'free') return freePort();
    const held = new Set([...this.children].filter(([p]) => p.alive).map(([p]) => p.port));
    let port = role === 'broker' ? ports.firstBroker : ports.firstWorker;
    while (held.has(port)) port += 1;
    return port;
  }

  /** Waits until the state server lists exactly the running brokers and workers and has told everyone. */
  private async settle(cluster: Cluster): Promise<{ membership: Membership; settled: boolean }> {
    const live = (list: readonly ServiceProcess[]): number => list.filter((p) => p.alive).length;
    try {
      const snapshot = await waitForMembers(cluster.statePort, { brokerCount: live(cluster.brokers), workerCount: live(cluster.workers), settled: true }, { timeoutMs: this.options.timeoutMs });
      return { membership: membershipOf(snapshot), settled: true };
    } catch {
      return { membership: await this.membership().catch(() => ({ brokers: [], workers: [] })), settled: false };
    }
  }

  private mark(service: ServiceProcess, state: ChildState, exit?: string): void {
    const child = this.children.get(service);
    if (!child) return;
    child.state = state;
    if (exit !== undefined) child.exit = exit;
  }

  /** Tracks a child: an exit nobody asked for gets one line, and the cluster carries on without it. */
  private watch(service: ServiceProcess, role: Role): void {
    this.children.set(service, { role, state: 'running' });
    void service.exited.then(async (exit) => {
      this.mark(service, 'exited', describeExit(exit));
      this.pruneExited();
      if (this.expected.has(service) || this.stopping || !this.cluster) return;
      if (role !== 'state') this.cluster.forget(service);
      const next =
        role === 'state'
          ? 'brokers and workers carry on with their last lists; press s to start it again'
          : `the cluster carries on without it; nothing is restarted (press ${role === 'broker' ? 'b' : 'w'} to add one)`;
      this.options.say(`${service.name} exited unexpectedly (${describeExit(exit)}); ${next}`);
      if (role === 'state' || this.busy) return;
      const { membership, settled } = await this.settle(this.cluster);
      if (!this.stopping) this.options.say(`membership${settled ? '' : ' (not settled yet)'}: ${formatMembership(membership)}`);
    });
  }

  private pruneExited(): void {
    const exited = [...this.children].filter(([, c]) => c.state === 'exited');
    for (const [p] of exited.slice(0, Math.max(0, exited.length - MAX_EXITED_SHOWN))) this.children.delete(p);
  }

  /** Stops every child by pid (workers first, then brokers, then the state server). Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.phase = 'stopping';
      for (const [p, c] of this.children) if (p.alive) c.state = 'stopping';
      if (this.cluster) await this.cluster.stop('SIGTERM', QUIT_STOP_TIMEOUT_MS);
      // Anything spawned and not (yet) part of the cluster: still starting, or being added.
      await Promise.all(runningProcesses().map((p) => p.stop('SIGTERM', QUIT_STOP_TIMEOUT_MS)));
    })();
    return this.stopping;
  }
}

function membershipOf(snapshot: ClusterSnapshot): Membership {
  return { brokers: snapshot.brokers.map((m) => portOfUri(m.uri)).sort((a, b) => a - b), workers: snapshot.workers.map((m) => portOfUri(m.uri)).sort((a, b) => a - b) };
}
