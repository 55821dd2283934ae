/**
 * A multi-host test bed on one machine: one Linux network namespace per host, each with a veth to
 * one bridge in the root namespace and its own address in a /24 of 198.18.0.0/15 (the benchmarking
 * range, never routed off the machine). The root namespace holds the bridge's address (.1), so the
 * test process (clients, readiness polls) reaches every host. Services run inside a host as
 * `ip netns exec NS node server` (harness/services.ts, through the `wrap` spawn seam) with
 * `SCC_INSTANCE_IP` set to the host's address, each on its well-known port.
 *
 * Fault model (the kernel here has no netem or tc classifiers):
 *  - cut(a, b): a blackhole route in a's namespace for b's address, and in b's for a's (both ways),
 *    or only the first (`oneWay`: a's packets to b are dropped, b's to a still arrive). An
 *    established connection goes silent (its segments are dropped; nothing is reset); a new
 *    connect() from the blackholed side fails at once with EINVAL, from the other side it hangs.
 *  - linkDown(host): the root end of the host's veth is set down: the host loses carrier, every
 *    packet to or from it is dropped silently, connections hang; linkUp restores it.
 *  - pause/resume: SIGSTOP/SIGCONT by pid; kill and restart by pid.
 * Every fault is recorded and undone by `restore()` and by teardown.
 *
 * Lifetime: every name carries the owner's pid and start time (the record file, record.ts), so the
 * next create() removes a bed whose owner died; a detached reaper process (reaper.ts) tears the bed
 * down if the owner dies without doing so (SIGKILL); the owner tears it down on close(), on normal
 * exit, on SIGINT and SIGTERM and on a crash (the 'exit' handler). Needs root and iproute2.
 */
import { startBroker, startOriginalBroker, startOriginalWorker, startState, startWorker, type ServiceOptions } from '../services.js';
import { spawnProcess, type ServiceProcess, type SpawnOptions } from '../service-process.js';
import { TestBedUnavailableError, TestBedUsageError } from './errors.js';
import { keepOnExit, spawnReaper, tearDownOnExit } from './lifetime.js';
import { addressOf, removeStaleBeds, SUBNETS, subnetsInUse, testBedUnavailable } from './machine.js';
import { claimRecord, IP, ip, processStart, recordPath, teardownRecord, updateRecord, type BedRecord, type HostRecord } from './record.js';
import { FaultSchedule, MAX_SCHEDULE_STEPS, type FaultStep, type ScheduleOptions } from './schedule.js';

// The bed's callers import everything from here.
export { TestBedUnavailableError, TestBedUsageError } from './errors.js';
export { removeStaleBeds, testBedUnavailable } from './machine.js';

/** Well-known ports: every host has its own address, so every service can use its default. */
export const BED_PORTS = Object.freeze({ state: 7777, broker: 8888, worker: 8000 });

/** Host addresses .2 to .254 (.1 is the bridge's, in the root namespace). */
const MAX_HOSTS = 253;
/** On close(), how long started services get after SIGTERM before SIGKILL, ms (everything left is killed then anyway). */
const CLOSE_STOP_TIMEOUT_MS = 5000;

/** The processes a bed can start on a host: our three services and the two originals. */
export type BedServiceKind = 'state' | 'broker' | 'worker' | 'original-broker' | 'original-worker';

export interface BedServiceOptions extends Omit<ServiceOptions, 'host' | 'port'> {
  /** The host whose state server a broker or worker joins; default the host named `state`. */
  stateHost?: string;
  /** Default: the kind's well-known port (BED_PORTS). */
  port?: number;
}

export interface TestBedOptions {
  /** Host names, e.g. `['state', 'broker-1', 'worker-a']`: lower-case letters, digits and '-'. */
  hosts: readonly string[];
}

/** One host of the bed, as callers see it. */
export interface BedHost {
  readonly name: string;
  readonly address: string;
  /** Its network namespace (`ip netns exec <ns> …`). */
  readonly ns: string;
}

interface Started {
  host: string;
  kind: BedServiceKind;
  options: BedServiceOptions;
}

let sequence = 0;

export class TestBed {
  private readonly byName = new Map<string, HostRecord>();
  private readonly started = new Map<ServiceProcess, Started>();
  /** Active faults, by key: `cut a>b` (one direction each) and `down host`. */
  private readonly faults = new Set<string>();
  private readonly paused = new Set<ServiceProcess>();
  private readonly schedules = new Set<FaultSchedule>();
  private closed = false;

  private constructor(private readonly record: BedRecord) {
    for (const h of record.hosts) this.byName.set(h.name, h);
  }

  /**
   * Builds the bed: removes stale beds, claims a free /24, writes the record, starts the reaper,
   * then makes the bridge, the namespaces and the veths. Throws TestBedUnavailableError where it
   * cannot run; undoes what it made when a step fails.
   */
  static async create(options: TestBedOptions): Promise<TestBed> {
    const reason = testBedUnavailable();
    if (reason !== null) throw new TestBedUnavailableError(`the network test bed needs root: ${reason}`);
    const names = [...options.hosts];
    const bad = names.filter((n) => !/^[a-z][a-z0-9-]{0,30}$/.test(n));
    if (bad.length > 0 || names.length === 0 || new Set(names).size !== names.length || names.length > MAX_HOSTS) {
      throw new TestBedUsageError(`hosts must be 1–${MAX_HOSTS} distinct names of lower-case letters, digits and '-' (starting with a letter); got ${JSON.stringify(names)}`);
    }
    removeStaleBeds();
    const id = `${process.pid.toString(36)}x${(sequence++).toString(36)}`;
    const record = TestBed.claim(id, names);
    const bed = new TestBed(record);
    tearDownOnExit(bed);
    try {
      await spawnReaper(recordPath(record.subnet), (pid) => {
        // In the record before anything is built, so that a bed half made is still reaped.
        record.reaper = pid;
        updateRecord(record);
      });
      bed.build();
    } catch (error) {
      await bed.close();
      throw error;
    }
    return bed;
  }

  /** Claims the first free subnet from a pid-derived start, so concurrent beds rarely race for one. */
  private static claim(id: string, names: string[]): BedRecord {
    const used = subnetsInUse();
    const first = (process.pid * 7 + sequence * 131) % SUBNETS;
    for (let k = 0; k < SUBNETS; k++) {
      const subnet = (first + k) % SUBNETS;
      if (used.has(subnet)) continue;
      const record: BedRecord = {
        owner: process.pid,
        ownerStart: processStart(process.pid),
        id,
        subnet,
        bridge: `sccb${id}`,
        hosts: names.map((name, i) => ({ name, ns: `scc-${id}-${name}`, veth: `sccv${id}h${i.toString(36)}`, address: addressOf(subnet, i) })),
        pids: [],
        reaper: null,
      };
      if (claimRecord(record)) return record;
    }
    throw new TestBedUnavailableError('no free /24 left in 198.18.0.0/15 for a test bed');
  }

  private build(): void {
    const { bridge, hosts, subnet } = this.record;
    const root = [`link add ${bridge} type bridge`, `addr add ${addressOf(subnet, -1)}/24 dev ${bridge}`, `link set ${bridge} up`];
    for (const h of hosts) {
      root.push(`netns add ${h.ns}`, `link add ${h.veth} type veth peer name eth0 netns ${h.ns}`, `link set ${h.veth} master ${bridge} up`);
    }
    ip(['-batch', '-'], { input: `${root.join('\n')}\n` });
    for (const h of hosts) {
      ip(['-n', h.ns, '-batch', '-'], { input: `addr add ${h.address}/24 dev eth0\nlink set eth0 up\nlink set lo up\n` });
    }
  }

  /** The bed's hosts, in the order given. */
  get hosts(): BedHost[] {
    return this.record.hosts.map(({ name, address, ns }) => ({ name, address, ns }));
  }

  /** The root namespace's address on the bridge (where the test process's connections come from). */
  get rootAddress(): string {
    return addressOf(this.record.subnet, -1);
  }

  /** The bed's record file (what it made, for the reaper and for stale cleanup). */
  get recordFile(): string {
    return recordPath(this.record.subnet);
  }

  /** Host `name`; throws TestBedUsageError for a host the bed does not have. */
  host(name: string): BedHost {
    const h = this.byName.get(name);
    if (h === undefined) throw new TestBedUsageError(`no host ${JSON.stringify(name)} on this bed (hosts: ${[...this.byName.keys()].join(', ')})`);
    return { name: h.name, address: h.address, ns: h.ns };
  }

  /** Host `name`'s address. */
  address(name: string): string {
    return this.host(name).address;
  }

  /** Runs any process inside host `host` (`ip netns exec`), recorded for the reaper; services go through start(). */
  run(host: string, options: SpawnOptions): ServiceProcess {
    const proc = spawnProcess({ ...options, wrap: this.wrap(host) });
    this.track(proc);
    return proc;
  }

  private wrap(host: string): string[] {
    return [IP, 'netns', 'exec', this.host(host).ns];
  }

  private track(proc: ServiceProcess): void {
    if (proc.child.pid === undefined) return;
    this.record.pids.push(proc.child.pid);
    updateRecord(this.record);
    void proc.exited.then(() => {
      this.record.pids = this.record.pids.filter((p) => p !== proc.child.pid);
      // Kept in `started`: a killed service can still be restarted the way it was started.
      this.paused.delete(proc);
      if (!this.closed) updateRecord(this.record);
    });
  }

  /**
   * Starts a service on `host`: ours (`node server` in its package folder) or an original, on its
   * well-known port, with SCC_INSTANCE_IP the host's address and peers pointed at the state host.
   * Resolves once it listens (its /health-check answers over the bridge).
   */
  async start(host: string, kind: BedServiceKind, options: BedServiceOptions = {}): Promise<ServiceProcess> {
    const address = this.address(host);
    const stateAddress = kind === 'state' ? address : this.address(options.stateHost ?? 'state');
    const port = options.port ?? (kind === 'state' ? BED_PORTS.state : kind.endsWith('broker') ? BED_PORTS.broker : BED_PORTS.worker);
    const { stateHost: _stateHost, ...rest } = options;
    const service: ServiceOptions = {
      name: host,
      ...rest,
      port,
      host: address,
      env: { SCC_INSTANCE_IP: address, ...(kind === 'state' ? {} : { SCC_STATE_SERVER_HOST: stateAddress }), ...options.env },
      spawn: { ...options.spawn, wrap: this.wrap(host) },
    };
    const statePort = BED_PORTS.state;
    const proc = await (() => {
      switch (kind) {
        case 'state':
          return startState(service);
        case 'broker':
          return startBroker(statePort, service);
        case 'worker':
          return startWorker(statePort, service);
        case 'original-broker':
          return startOriginalBroker(statePort, service);
        case 'original-worker':
          return startOriginalWorker(statePort, service);
      }
    })();
    this.track(proc);
    this.started.set(proc, { host, kind, options });
    return proc;
  }

  /** Stops `proc` with `signal` (default SIGKILL) and starts it again the way it was started; resolves with the new process. */
  async restart(proc: ServiceProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<ServiceProcess> {
    const how = this.started.get(proc);
    if (how === undefined) throw new TestBedUsageError(`${proc.name} was not started by this bed's start(), so it cannot be restarted`);
    await this.kill(proc, signal);
    this.started.delete(proc);
    return this.start(how.host, how.kind, how.options);
  }

  /** Sends `signal` (default SIGKILL) and resolves once the process exited. A paused process is resumed first for SIGTERM. */
  async kill(proc: ServiceProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (signal !== 'SIGKILL' && this.paused.has(proc)) this.resume(proc);
    await proc.stop(signal);
  }

  /** SIGSTOPs the process (recorded: resume() and teardown undo it). */
  pause(proc: ServiceProcess): void {
    if (!proc.alive) throw new TestBedUsageError(`${proc.name} has exited; it cannot be paused`);
    process.kill(proc.pid, 'SIGSTOP');
    this.paused.add(proc);
  }

  /** SIGCONTs a paused process. Safe to call twice. */
  resume(proc: ServiceProcess): void {
    if (!this.paused.delete(proc) || !proc.alive) return;
    process.kill(proc.pid, 'SIGCONT');
  }

  /** The hosts of a cut, checked. */
  private pair(a: string, b: string): [HostRecord, HostRecord] {
    this.host(a);
    this.host(b);
    if (a === b) throw new TestBedUsageError(`a cut needs two hosts; got ${a} twice`);
    return [this.byName.get(a)!, this.byName.get(b)!];
  }

  /** Drops packets from `from` to `to` (a blackhole route in `from`'s namespace). Idempotent. */
  private block(from: HostRecord, to: HostRecord): void {
    const key = `cut ${from.name}>${to.name}`;
    if (this.faults.has(key)) return;
    ip(['-n', from.ns, 'route', 'add', 'blackhole', `${to.address}/32`]);
    this.faults.add(key);
  }

  private unblock(from: HostRecord, to: HostRecord): void {
    const key = `cut ${from.name}>${to.name}`;
    if (!this.faults.has(key)) return;
    ip(['-n', from.ns, 'route', 'delete', 'blackhole', `${to.address}/32`], { tolerate: true });
    this.faults.delete(key);
  }

  /**
   * A silent partition between `a` and `b`: both directions, or with `oneWay` only a → b (b's packets
   * still reach a, a's answers do not reach b). Other hosts are not affected.
   */
  cut(a: string, b: string, options: { oneWay?: boolean } = {}): void {
    const [ha, hb] = this.pair(a, b);
    this.block(ha, hb);
    if (!options.oneWay) this.block(hb, ha);
  }

  /** Restores both directions between `a` and `b`. Safe to call twice. */
  heal(a: string, b: string): void {
    const [ha, hb] = this.pair(a, b);
    this.unblock(ha, hb);
    this.unblock(hb, ha);
  }

  /** Cuts `host` from every other host (not from the root namespace: the test still observes it). */
  isolate(host: string, options: { oneWay?: boolean } = {}): void {
    for (const other of this.byName.keys()) if (other !== host) this.cut(host, other, options);
  }

  /** Heals every cut involving `host`. */
  rejoin(host: string): void {
    for (const other of this.byName.keys()) if (other !== host) this.heal(host, other);
  }

  /** Takes `host`'s link down (carrier lost: everything to and from it, the root namespace included, is dropped). */
  linkDown(host: string): void {
    const h = this.byName.get(this.host(host).name)!;
    if (this.faults.has(`down ${host}`)) return;
    ip(['link', 'set', h.veth, 'down']);
    this.faults.add(`down ${host}`);
  }

  /** Brings `host`'s link back. Safe to call twice. */
  linkUp(host: string): void {
    const h = this.byName.get(this.host(host).name)!;
    if (!this.faults.has(`down ${host}`)) return;
    ip(['link', 'set', h.veth, 'up']);
    this.faults.delete(`down ${host}`);
  }

  /** The faults in force now, e.g. `['cut worker-b>broker-1', 'down broker-2']`, plus paused processes. */
  activeFaults(): string[] {
    return [...this.faults, ...[...this.paused].map((p) => `paused ${p.name}`)];
  }

  /** Runs `steps` on a timetable (bounded by count and time); close() and teardown stop it. */
  schedule(steps: readonly FaultStep[], options: ScheduleOptions = {}): FaultSchedule {
    const schedule = new FaultSchedule(steps, options);
    this.schedules.add(schedule);
    void schedule.done.finally(() => this.schedules.delete(schedule));
    return schedule;
  }

  /**
   * Flapping: `down()` then `up()` every `periodMs` (down for one period, up for the next) for
   * `durationMs`, ending up; e.g. `bed.flap(() => bed.linkDown('broker-1'), () => bed.linkUp('broker-1'), 2000, 60_000)`.
   */
  flap(down: () => void, up: () => void, periodMs: number, durationMs: number): FaultSchedule {
    if (!(periodMs >= 1) || !(durationMs >= 0) || durationMs / periodMs > MAX_SCHEDULE_STEPS) {
      throw new TestBedUsageError(`a flap needs a period ≥ 1 ms and at most ${MAX_SCHEDULE_STEPS} periods; got ${periodMs} ms for ${durationMs} ms`);
    }
    const steps: FaultStep[] = [];
    for (let at = 0, n = 0; at < durationMs; at += periodMs, n++) steps.push({ atMs: at, label: n % 2 === 0 ? 'down' : 'up', run: n % 2 === 0 ? down : up });
    if (steps.length % 2 === 1) steps.push({ atMs: steps.length * periodMs, label: 'up', run: up });
    return this.schedule(steps, { maxMs: durationMs + 2 * periodMs });
  }

  /** Undoes every fault: stops schedules, heals cuts, brings links up, resumes paused processes. Safe to call twice. */
  async restore(): Promise<void> {
    await Promise.all([...this.schedules].map((s) => s.close()));
    this.restoreSync();
  }

  private restoreSync(): void {
    // Torn down already (an exit hook ran first): the namespaces took their faults with them.
    if (this.closed) return;
    for (const s of this.schedules) s.cancel();
    for (const key of [...this.faults]) {
      const [kind, what] = key.split(' ') as [string, string];
      if (kind === 'down') this.linkUp(what);
      else {
        const [from, to] = what.split('>') as [string, string];
        this.unblock(this.byName.get(from)!, this.byName.get(to)!);
      }
    }
    for (const p of [...this.paused]) this.resume(p);
  }

  /**
   * Tears the bed down: faults undone, processes stopped (SIGTERM, then SIGKILL after `stopTimeoutMs`),
   * then everything left in the namespaces killed, namespaces, veths and bridge deleted, the reaper
   * ended. Safe to call twice.
   */
  async close(stopTimeoutMs = CLOSE_STOP_TIMEOUT_MS): Promise<void> {
    if (this.closed) return;
    await this.restore().catch(() => undefined);
    await Promise.all([...this.started.keys()].filter((p) => p.alive).map((p) => p.stop('SIGTERM', stopTimeoutMs)));
    this.destroy();
  }

  /** The synchronous part of teardown (also what the exit hooks run). */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    keepOnExit(this);
    for (const s of this.schedules) s.cancel();
    // Deleting the namespaces undoes their routes and links; SIGKILL ends paused processes too.
    teardownRecord(this.record);
  }
}
