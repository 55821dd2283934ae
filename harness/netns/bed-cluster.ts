/**
 * A cluster laid out on a test bed, one service per host: our state server on host `state`,
 * brokers and workers of either system on the hosts named for them, each on its well-known port
 * with SCC_INSTANCE_IP its host's address. The processes are started by the bed (TestBed.start, i.e.
 * harness/services.ts inside each namespace); this file only orders the starts and waits on the
 * same structured signals as harness/cluster.ts: the state server's `/cluster.json`, the workers'
 * `/ready` (ours) and `brokerList` log events (both systems).
 */
import { LogEvent } from '@scc-ts/shared';
import { waitForMembers, waitReady, type ClusterSnapshot } from '../ready.js';
import { DEFAULT_START_TIMEOUT_MS, uriOf, waitForBrokers } from '../services.js';
import type { ServiceProcess } from '../service-process.js';
import { BED_PORTS, type BedServiceKind, type TestBed } from './testbed.js';

export type BedSystem = 'ours' | 'original';

export interface BedClusterOptions {
  system?: BedSystem;
  /** The state server's host; default `state`. */
  stateHost?: string;
  /** Hosts that get a broker, e.g. `['broker-1', 'broker-2']`. */
  brokers: readonly string[];
  /** Hosts that get a worker, e.g. `['worker-a', 'worker-b']`. */
  workers: readonly string[];
  /** Fast test timings (harness/services.ts FAST_*); default false: the services' own defaults, as deployed. */
  fast?: boolean;
  stateEnv?: Readonly<Record<string, string>>;
  brokerEnv?: Readonly<Record<string, string>>;
  /** Workers of either system (the original worker reads the SCC_* variables it knows and ignores the rest). */
  workerEnv?: Readonly<Record<string, string>>;
  /** Bound on each wait (a start, a join), ms. */
  timeoutMs?: number;
  /** Each process in its own process group, so a terminal's Ctrl-C reaches only the launcher (scripts/testbed.ts). */
  detached?: boolean;
  /** Sees every output line of every process as it comes (scripts/testbed.ts prints them). */
  onLine?: (host: string, stream: 'stdout' | 'stderr', line: string) => void;
}

export class BedCluster {
  state!: ServiceProcess;
  /** Broker and worker processes by host; an entry is replaced when its process restarts. */
  readonly brokers = new Map<string, ServiceProcess>();
  readonly workers = new Map<string, ServiceProcess>();
  private readonly timeoutMs: number;
  private closed = false;

  private constructor(
    readonly bed: TestBed,
    readonly options: Readonly<BedClusterOptions>,
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  }

  get system(): BedSystem {
    return this.options.system ?? 'ours';
  }

  get stateHost(): string {
    return this.options.stateHost ?? 'state';
  }

  /** The state server's address (its `/cluster.json` is on BED_PORTS.state there). */
  get stateAddress(): string {
    return this.bed.address(this.stateHost);
  }

  /**
   * Starts the state server, every broker (once the state server lists them all), then every worker
   * (once each has joined and, ours, is ready); stops what it started on failure.
   */
  static async start(bed: TestBed, options: BedClusterOptions): Promise<BedCluster> {
    const cluster = new BedCluster(bed, options);
    try {
      cluster.state = await cluster.startOn(cluster.stateHost, 'state', options.stateEnv);
      await Promise.all(options.brokers.map((h) => cluster.addBroker(h)));
      await Promise.all(options.workers.map((h) => cluster.startWorker(h)));
      await cluster.waitSettled();
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  private startOn(host: string, kind: BedServiceKind, env: Readonly<Record<string, string>> | undefined): Promise<ServiceProcess> {
    const { onLine } = this.options;
    return this.bed.start(host, kind, {
      stateHost: this.stateHost,
      fast: this.options.fast ?? false,
      timeoutMs: this.timeoutMs,
      ...(env && { env }),
      spawn: {
        ...(this.options.detached !== undefined && { detached: this.options.detached }),
        ...(onLine && { onLine: (stream: 'stdout' | 'stderr', line: string) => onLine(host, stream, line) }),
      },
    });
  }

  /** Starts a broker on `host` and resolves once the state server lists it (not waiting on the workers). */
  async addBroker(host: string): Promise<ServiceProcess> {
    const broker = await this.startOn(host, this.system === 'ours' ? 'broker' : 'original-broker', this.options.brokerEnv);
    this.brokers.set(host, broker);
    await this.waitMembers({ brokers: [uriOf(broker)] }, broker);
    return broker;
  }

  private async startWorker(host: string): Promise<ServiceProcess> {
    const since = Date.now();
    const worker = await this.startOn(host, this.system === 'ours' ? 'worker' : 'original-worker', this.options.workerEnv);
    this.workers.set(host, worker);
    await this.waitMembers({ workers: [uriOf(worker)], since }, worker);
    if (this.system === 'ours') await waitReady(worker.port, this.timeoutMs, worker);
    return worker;
  }

  /** Waits until the state server's view shows `condition` (polled over the bridge). */
  waitMembers(condition: Parameters<typeof waitForMembers>[1], process?: ServiceProcess): Promise<ClusterSnapshot> {
    return waitForMembers(BED_PORTS.state, condition, { timeoutMs: this.timeoutMs, host: this.stateAddress, ...(process && { process }) });
  }

  /** Log positions of the workers now, by host. */
  workerMarks(): Map<string, number> {
    return new Map([...this.workers].map(([h, w]) => [h, w.mark()]));
  }

  /**
   * Waits until every worker applied a list of `count` brokers (default every live broker) after
   * its mark; ours also publish through it and know every worker.
   */
  async waitSettled(marks: ReadonlyMap<string, number> = new Map(), count = [...this.brokers.values()].filter((b) => b.alive).length, timeoutMs = this.timeoutMs): Promise<void> {
    await Promise.all(
      [...this.workers].map(async ([host, w]) => {
        const from = marks.get(host) ?? 0;
        await waitForBrokers(w, count, from, timeoutMs);
        if (this.system === 'original') return;
        await w.waitForEvent(LogEvent.PublishingThrough, { brokers: count }, timeoutMs, from);
        await w.waitForEvent(LogEvent.WorkerList, { workers: this.workers.size }, timeoutMs, from);
      }),
    );
  }

  /** Every process, state first. */
  all(): ServiceProcess[] {
    return [this.state, ...this.brokers.values(), ...this.workers.values()].filter(Boolean);
  }

  /** Restarts the process on `host` (SIGKILL, then the same start) and resolves with the new one. */
  async restart(host: string): Promise<ServiceProcess> {
    const old = this.state?.name === host ? this.state : (this.brokers.get(host) ?? this.workers.get(host));
    if (old === undefined) throw new Error(`nothing runs on ${host}`);
    const fresh = await this.bed.restart(old);
    if (old === this.state) this.state = fresh;
    else if (this.brokers.has(host)) this.brokers.set(host, fresh);
    else this.workers.set(host, fresh);
    return fresh;
  }

  /** The process on `host`, if any. */
  on(host: string): ServiceProcess | undefined {
    return host === this.stateHost ? this.state : (this.brokers.get(host) ?? this.workers.get(host));
  }

  /** The last lines of every process's log, for an error report. */
  tail(lines = 5): string {
    return this.all()
      .map((p) => `${p.name}: ${p.tail(lines).replaceAll('\n', ' | ')}`)
      .join('\n');
  }

  /** SIGKILLs every process and undoes the bed's faults (the bed stays up for the next cluster). Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.bed.restore();
    await Promise.all(this.all().map((p) => p.stop('SIGKILL')));
  }
}
