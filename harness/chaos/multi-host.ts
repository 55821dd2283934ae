/**
 * The chaos suite's multi-host scenarios (issue 14): a cluster on the network test bed (one host per
 * service, harness/netns), the load generator in the root namespace reaching the workers over the
 * bridge (publisher on worker-a, subscribers on every worker), and a network fault:
 *
 *   m1   worker-b cut off from broker-1 (both ways; both still reach the state server, worker-a
 *        still reaches broker-1), default delivery mode
 *   m1b  the same, at-least-once mode (n/a for the original)
 *   m2   broker-1 cut off from the state server only
 *   m3   the state server cut off from everyone; broker-3 started meanwhile; healed
 *   m4   broker-1 paused (SIGSTOP), then resumed (SIGCONT), at-least-once mode
 *   m5   the worker-b ↔ broker-1 link flaps (cut and healed every period), at-least-once mode
 *
 * Besides the checker's lost / duplicated / out-of-order counts, a run reports
 *  - detection: from the fault until the first sign a worker noticed it — a `brokerUnreachable` log
 *    event, or its `/ready` turning false (ours; m2: until the state server's view drops broker-1);
 *  - disruption: the send-time window (from the fault) of messages lost or delivered over
 *    DELAYED_MS late, and recovery: how long after the fault ended that window still ran;
 *  - the broker lists each worker applied (reshards) from the fault on;
 *  - m1 (ours): whether the workers agreed on the channels' owners just before the heal
 *    (`scc_worker_broker_channels` from each worker's /metrics).
 * How these are observed is observe.ts; what must hold for ours is multi-host-bounds.ts.
 */
import { LogEvent } from '@scc-ts/shared';
import { checkChaosLog, type CheckResult } from './checker.js';
import { LoadClient } from './load-client.js';
import { BedCluster, type BedSystem } from '../netns/bed-cluster.js';
import { BED_PORTS, type TestBed } from '../netns/testbed.js';
import type { ServiceProcess } from '../service-process.js';
import { delays, get, notReady, ownerViews, waitWhole as waitWholeCluster, watchDetection as watch, type Check } from './observe.js';

// The delay past which a delivery counts as disrupted is the observer's; callers read it here.
export { DELAYED_MS } from './observe.js';

export type MultiHostId = 'm1' | 'm1b' | 'm2' | 'm3' | 'm4' | 'm5';
export const MULTI_HOST_IDS: readonly MultiHostId[] = ['m1', 'm1b', 'm2', 'm3', 'm4', 'm5'];

/** The bed every multi-host scenario runs on. */
export const MULTI_HOST_HOSTS: readonly string[] = ['state', 'broker-1', 'broker-2', 'broker-3', 'worker-a', 'worker-b'];
/** The brokers every scenario starts with (m3 adds broker-3). */
export const MULTI_HOST_BROKERS = ['broker-1', 'broker-2'] as const;
const BROKERS = MULTI_HOST_BROKERS;
const WORKERS = ['worker-a', 'worker-b'] as const;
const SPARE_BROKER = 'broker-3';

/** m1: the owners are compared this long before the heal, ms. */
const AGREEMENT_BEFORE_HEAL_MS = 500;
/** m3: the new broker starts this long into the state server's isolation, ms. */
const ADD_BROKER_AFTER_MS = 1000;

export interface MultiHostProfile {
  /** Offered messages per second (one publisher, on worker-a). */
  rate: number;
  channels: number;
  /** m1, m2: how long the cut lasts, ms. */
  cutMs: number;
  /** m3: how long the state server stays cut off, ms. */
  stateCutMs: number;
  /** m4: how long broker-1 stays paused, ms. */
  pauseMs: number;
  /** m5: the link is cut for a period, healed for the next, … for `flapMs`, ms. */
  flapPeriodMs: number;
  flapMs: number;
  /** Load before the fault, ms. */
  warmupMs: number;
  /** Load after the cluster is whole again, ms. */
  settleMs: number;
  /** Recording after the drain wait (late arrivals are reported), ms. */
  lateMs: number;
  scaleOutMs: number;
  scaleBackMs: number;
  retryDelayMs: number;
  /** Bound on each wait for the cluster, ms. */
  waitTimeoutMs: number;
}

/** The issue's figures: 5,000 msg/s, a 30 s cut, the state server cut off 60 s, a minute of flapping. */
export const FULL_MULTI_HOST_PROFILE: Readonly<MultiHostProfile> = Object.freeze({
  rate: 5000,
  channels: 100,
  cutMs: 30_000,
  stateCutMs: 60_000,
  pauseMs: 10_000,
  flapPeriodMs: 2000,
  flapMs: 60_000,
  warmupMs: 2000,
  settleMs: 5000,
  lateMs: 3000,
  scaleOutMs: 1000,
  scaleBackMs: 500,
  retryDelayMs: 1000,
  waitTimeoutMs: 60_000,
});

/**
 * The integration tests' and `--ci` profile: 200 msg/s on 40 channels, cuts of 12 s instead of 30,
 * the state server cut off 20 s instead of 60, 20 s of flapping instead of a minute — long enough
 * to outlast the 3 s detection bound several times over, short enough for a few minutes per file.
 */
export const SMALL_MULTI_HOST_PROFILE: Readonly<MultiHostProfile> = Object.freeze({
  rate: 200,
  channels: 40,
  cutMs: 12_000,
  stateCutMs: 20_000,
  pauseMs: 10_000,
  flapPeriodMs: 2000,
  flapMs: 20_000,
  warmupMs: 2000,
  settleMs: 4000,
  lateMs: 2000,
  scaleOutMs: 1000,
  scaleBackMs: 500,
  retryDelayMs: 500,
  waitTimeoutMs: 30_000,
});

/** One (system, scenario) result. */
export interface MultiHostRun {
  scenario: MultiHostId;
  title: string;
  system: BedSystem;
  status: 'ok' | 'error' | 'n/a';
  error?: string;
  check?: CheckResult;
  skipped?: number;
  offeredRate?: number;
  achievedRate?: number;
  /** How long the fault lasted, ms. */
  faultMs?: number;
  /** From the fault until the first sign it was noticed; null: not noticed while it lasted (or no signal), ms. */
  detectionMs?: number | null;
  /** What noticed it first (e.g. `worker-b /ready 503`). */
  detectedBy?: string | null;
  /** Send times, from the fault's start, of the first and last message lost or delivered over DELAYED_MS late, ms. */
  disruptedMs?: { first: number; last: number } | null;
  /** How long after the fault ended messages were still disrupted (0: not after the end), ms. */
  recoveryMs?: number;
  /** The largest delay of any delivery, ms. */
  maxDelayMs?: number;
  /** Broker lists each worker applied from the fault's start to the end of the run. */
  reshards?: Record<string, number>;
  /** The size of each worker's last broker list at the end of the run. */
  brokersAtEnd?: Record<string, number | null>;
  /** m1, ours: each worker's channels per owning broker just before the heal, and whether they agree. */
  owners?: { agreed: boolean; views: Record<string, Record<string, number>> };
  notes?: string[];
}

interface Context {
  bed: TestBed;
  cluster: BedCluster;
  profile: MultiHostProfile;
  notes: string[];
  run: MultiHostRun;
  /** Epoch ms when the fault began and ended (set by the scenario). */
  faultAt: number;
  healedAt: number;
}

interface MultiHostScenario {
  title: string;
  workerEnv?: Record<string, string>;
  notApplicable?: BedSystem[];
  /** Injects the fault, undoes it, and resolves once the cluster is whole again. */
  fault(ctx: Context): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const AT_LEAST_ONCE = { SCC_DELIVERY_MODE: 'at-least-once' } as const;

/** Watches for the fault's first sign; `stop()` records it in the run, relative to the fault's start. */
function watchDetection(ctx: Context, processes: ServiceProcess[], checks: Check[]): { stop: () => Promise<void> } {
  const watching = watch(processes, checks);
  return {
    stop: async () => {
      const found = await watching.stop();
      ctx.run.detectionMs = found === null ? null : Math.max(0, Math.round(found.at - ctx.faultAt));
      ctx.run.detectedBy = found?.by ?? null;
    },
  };
}

/** Waits until the cluster is whole again with `brokers` brokers (bounded by the profile's wait). */
function waitWhole(ctx: Context, brokers: number): Promise<void> {
  return waitWholeCluster(ctx.cluster, brokers, ctx.profile.waitTimeoutMs);
}

/** The cut/heal of m1 and m1b. */
async function workerBrokerCut(ctx: Context): Promise<void> {
  const { bed, cluster, profile } = ctx;
  const workerB = cluster.workers.get('worker-b')!;
  const watch = watchDetection(ctx, [workerB], cluster.system === 'ours' ? [notReady(workerB)] : []);
  ctx.faultAt = Date.now();
  bed.cut('worker-b', 'broker-1');
  await sleep(profile.cutMs - AGREEMENT_BEFORE_HEAL_MS);
  if (cluster.system === 'ours') {
    const views = await ownerViews(cluster).catch((error: Error) => {
      ctx.notes.push(`owners not read: ${error.message}`);
      return null;
    });
    if (views !== null) {
      const [first, ...rest] = Object.values(views).map((v) => JSON.stringify(Object.entries(v).sort()));
      ctx.run.owners = { agreed: rest.every((v) => v === first), views };
    }
  }
  await sleep(AGREEMENT_BEFORE_HEAL_MS);
  bed.heal('worker-b', 'broker-1');
  ctx.healedAt = Date.now();
  await watch.stop();
  await waitWhole(ctx, BROKERS.length);
}

export const MULTI_HOST_SCENARIOS: Readonly<Record<MultiHostId, MultiHostScenario>> = {
  m1: { title: 'worker-b cut off from broker-1 (both ways), default mode', fault: workerBrokerCut },
  m1b: { title: 'worker-b cut off from broker-1 (both ways), at-least-once mode', workerEnv: AT_LEAST_ONCE, notApplicable: ['original'], fault: workerBrokerCut },
  m2: {
    title: 'broker-1 cut off from the state server only',
    async fault(ctx) {
      const { bed, cluster, profile } = ctx;
      const broker = cluster.brokers.get('broker-1')!;
      const uri = `ws://${broker.host}:${broker.port}`;
      // The state server's own view is the signal here: the broker is no longer listed.
      const dropped = {
        what: 'state /cluster.json without broker-1',
        test: async () => !(JSON.parse((await get(cluster.stateAddress, BED_PORTS.state, '/cluster.json')).text) as { brokers: { uri: string }[] }).brokers.some((b) => b.uri === uri),
      };
      const watch = watchDetection(ctx, [...cluster.workers.values()], [dropped]);
      ctx.faultAt = Date.now();
      bed.cut('broker-1', cluster.stateHost);
      await sleep(profile.cutMs);
      bed.heal('broker-1', cluster.stateHost);
      ctx.healedAt = Date.now();
      await watch.stop();
      await cluster.waitMembers({ brokers: [uri] });
      await waitWhole(ctx, BROKERS.length);
    },
  },
  m3: {
    title: 'the state server cut off from everyone, broker-3 added meanwhile, healed',
    async fault(ctx) {
      const { bed, cluster, profile } = ctx;
      ctx.faultAt = Date.now();
      bed.isolate(cluster.stateHost);
      await sleep(ADD_BROKER_AFTER_MS);
      // It cannot reach the state server yet: started without waiting for its join.
      const added = await bed.start(SPARE_BROKER, cluster.system === 'ours' ? 'broker' : 'original-broker', { stateHost: cluster.stateHost, fast: false, timeoutMs: profile.waitTimeoutMs, env: cluster.options.brokerEnv ?? {} });
      cluster.brokers.set(SPARE_BROKER, added);
      await sleep(Math.max(0, profile.stateCutMs - (Date.now() - ctx.faultAt)));
      bed.rejoin(cluster.stateHost);
      ctx.healedAt = Date.now();
      ctx.run.detectionMs = null;
      await cluster.waitMembers({ brokers: [`ws://${added.host}:${added.port}`] });
      await waitWhole(ctx, BROKERS.length + 1);
      ctx.notes.push(`broker-3 listed by the state server and applied by every worker ${Date.now() - ctx.healedAt} ms after the heal`);
    },
  },
  m4: {
    title: 'broker-1 paused (SIGSTOP), then resumed (SIGCONT), at-least-once mode',
    workerEnv: AT_LEAST_ONCE,
    async fault(ctx) {
      const { bed, cluster, profile } = ctx;
      const broker = cluster.brokers.get('broker-1')!;
      const workers = [...cluster.workers.values()];
      const watch = watchDetection(ctx, workers, cluster.system === 'ours' ? workers.map(notReady) : []);
      ctx.faultAt = Date.now();
      bed.pause(broker);
      await sleep(profile.pauseMs);
      bed.resume(broker);
      ctx.healedAt = Date.now();
      await watch.stop();
      await cluster.waitMembers({ brokers: [`ws://${broker.host}:${broker.port}`] });
      await waitWhole(ctx, BROKERS.length);
    },
  },
  m5: {
    title: 'the worker-b ↔ broker-1 link flaps, at-least-once mode',
    workerEnv: AT_LEAST_ONCE,
    async fault(ctx) {
      const { bed, cluster, profile } = ctx;
      const workerB = cluster.workers.get('worker-b')!;
      const watch = watchDetection(ctx, [workerB], cluster.system === 'ours' ? [notReady(workerB)] : []);
      ctx.faultAt = Date.now();
      const flap = bed.flap(() => bed.cut('worker-b', 'broker-1'), () => bed.heal('worker-b', 'broker-1'), profile.flapPeriodMs, profile.flapMs);
      const report = await flap.done;
      ctx.healedAt = Date.now();
      await watch.stop();
      ctx.notes.push(`flap: ${report.ran.length} steps, ${report.outcome}${report.error === undefined ? '' : `: ${report.error}`}`);
      await waitWhole(ctx, BROKERS.length);
    },
  },
};

/** Options of a multi-host suite run. */
export interface MultiHostOptions {
  systems: BedSystem[];
  scenarios: MultiHostId[];
  profile: MultiHostProfile;
  /** When set, every process's log of every run is written there. */
  logDir?: string;
}

/** Runs one multi-host scenario for one system on `bed` (a fresh cluster on it); never throws. */
export async function runMultiHostScenario(bed: TestBed, system: BedSystem, id: MultiHostId, profile: MultiHostProfile, logDir?: string): Promise<MultiHostRun> {
  const scenario = MULTI_HOST_SCENARIOS[id];
  const run: MultiHostRun = { scenario: id, title: scenario.title, system, status: 'ok', notes: [] };
  if (scenario.notApplicable?.includes(system)) return { ...run, status: 'n/a' };
  let cluster: BedCluster | undefined;
  let load: LoadClient | undefined;
  const retry = String(profile.retryDelayMs);
  try {
    load = LoadClient.spawn();
    cluster = await BedCluster.start(bed, {
      system,
      brokers: BROKERS,
      workers: WORKERS,
      timeoutMs: profile.waitTimeoutMs,
      stateEnv: {
        SCC_STATE_SERVER_STARTUP_DELAY: '0',
        SCC_STATE_SERVER_SCALE_OUT_DELAY: String(profile.scaleOutMs),
        SCC_STATE_SERVER_SCALE_BACK_DELAY: String(profile.scaleBackMs),
        SCC_STATE_SERVER_RETRY_DELAY: retry,
      },
      brokerEnv: { SCC_BROKER_SERVER_RETRY_DELAY: retry, SCC_BROKER_SERVER_LOG_LEVEL: system === 'ours' ? '3' : '1' },
      workerEnv: {
        SCC_BROKER_RETRY_DELAY: retry,
        SCC_STATE_SERVER_RECONNECT_RANDOMNESS: String(Math.ceil(profile.retryDelayMs / 2)),
        ...(system === 'ours' && { SOCKETCLUSTER_LOG_LEVEL: '3', ...scenario.workerEnv }),
      },
    });
    if (system === 'original' && scenario.workerEnv !== undefined) run.notes!.push('the original has one delivery mode: run in it');
    const workers = [...cluster.workers.values()];
    await load.init({
      ports: workers.map((w) => w.port),
      hosts: workers.map((w) => w.host),
      ids: ['A', 'B'],
      publishOn: [0],
      channels: profile.channels,
      rate: profile.rate,
      setupTimeoutMs: profile.waitTimeoutMs,
      lateMs: profile.lateMs,
    });
    await load.startLoad();
    await sleep(profile.warmupMs); // a duration of load, not a wait for an event
    const marks = cluster.workerMarks();
    const ctx: Context = { bed, cluster, profile, notes: run.notes!, run, faultAt: Date.now(), healedAt: 0 };
    await scenario.fault(ctx).catch((error: unknown) => {
      run.status = 'error';
      run.error = `${(error as Error).message}\n${cluster!.tail()}`;
    });
    if (ctx.healedAt === 0) ctx.healedAt = Date.now();
    await bed.restore();
    await sleep(profile.settleMs);
    const log = await load.stop();
    const check = checkChaosLog(log);
    const { maxDelayMs, disrupted } = delays(log, check, ctx.faultAt);
    const faultMs = ctx.healedAt - ctx.faultAt;
    run.check = check;
    run.skipped = log.skipped;
    run.offeredRate = profile.rate;
    run.achievedRate = Math.round(check.published / ((log.loadStoppedAt - log.loadStartedAt) / 1000));
    run.faultMs = faultMs;
    run.maxDelayMs = maxDelayMs;
    run.disruptedMs = disrupted;
    run.recoveryMs = disrupted === null ? 0 : Math.max(0, disrupted.last - faultMs);
    run.reshards = Object.fromEntries([...cluster.workers].map(([h, w]) => [h, w.logs.slice(marks.get(h) ?? 0).filter((l) => l.event === LogEvent.BrokerList).length]));
    run.brokersAtEnd = Object.fromEntries([...cluster.workers].map(([h, w]) => [h, (w.logs.filter((l) => l.event === LogEvent.BrokerList).at(-1)?.['brokers'] as number | undefined) ?? null]));
    run.detectionMs ??= null;
    return run;
  } catch (error) {
    const tail = cluster ? `\n${cluster.tail()}` : '';
    return { ...run, status: 'error', error: `${(error as Error).message}${tail}` };
  } finally {
    if (logDir !== undefined && cluster) for (const p of cluster.all()) p.writeLog(`${logDir}/${system}-${id}-${p.name}.log`);
    await load?.close();
    await cluster?.close();
  }
}

/** Runs every selected multi-host scenario for every selected system, one at a time, on one bed. */
export async function runMultiHostSuite(bed: TestBed, options: MultiHostOptions, onRun?: (run: MultiHostRun) => void): Promise<MultiHostRun[]> {
  const runs: MultiHostRun[] = [];
  for (const id of options.scenarios) {
    for (const system of options.systems) {
      const run = await runMultiHostScenario(bed, system, id, options.profile, options.logDir);
      runs.push(run);
      onRun?.(run);
    }
  }
  return runs;
}
