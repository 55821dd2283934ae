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
 */
import { LogEvent } from '@scc-ts/shared';
import { checkChaosLog, type ChaosLog, type CheckResult } from './checker.js';
import { LoadClient } from './load-client.js';
import { BedCluster, type BedSystem } from '../netns/bed-cluster.js';
import { BED_PORTS, type TestBed } from '../netns/testbed.js';
import type { ServiceProcess } from '../service-process.js';

export type MultiHostId = 'm1' | 'm1b' | 'm2' | 'm3' | 'm4' | 'm5';
export const MULTI_HOST_IDS: readonly MultiHostId[] = ['m1', 'm1b', 'm2', 'm3', 'm4', 'm5'];

/** The bed every multi-host scenario runs on. */
export const MULTI_HOST_HOSTS: readonly string[] = ['state', 'broker-1', 'broker-2', 'broker-3', 'worker-a', 'worker-b'];
const BROKERS = ['broker-1', 'broker-2'] as const;
const WORKERS = ['worker-a', 'worker-b'] as const;
const SPARE_BROKER = 'broker-3';

/** A delivery later than this after its send counts as disrupted, ms (a healthy bridge delivers in a few ms). */
export const DELAYED_MS = 1000;
/** How often detection is polled (a worker's /ready, the state server's view), ms. */
const DETECTION_POLL_MS = 50;
/** Bound on one poll's HTTP request, ms. */
const POLL_REQUEST_MS = 1000;
/** m1: the owners are compared this long before the heal, ms. */
const AGREEMENT_BEFORE_HEAL_MS = 500;
/** m3: the new broker starts this long into the state server's isolation, ms. */
const ADD_BROKER_AFTER_MS = 1000;

/**
 * The structured event the workers log when a broker link goes silent (the heartbeat on internal
 * links, issue 14). Read by name so this file builds before the services have it.
 */
const BROKER_UNREACHABLE = (LogEvent as Readonly<Record<string, string>>)['BrokerUnreachable'] ?? 'brokerUnreachable';

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

async function get(host: string, port: number, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://${host}:${port}${path}`, { signal: AbortSignal.timeout(POLL_REQUEST_MS) });
  return { status: res.status, text: await res.text() };
}

/**
 * Watches for the first sign of a fault until stopped: the given processes' `brokerUnreachable`
 * log event (after their marks), or a check (a worker's /ready, the state server's view) that
 * reports something. Resolves with the time and what saw it, or null.
 */
function watchDetection(ctx: Context, processes: ServiceProcess[], checks: { what: string; test: () => Promise<boolean> }[]): { stop: () => Promise<{ at: number; by: string } | null> } {
  const marks = processes.map((p) => p.mark());
  let found: { at: number; by: string } | null = null;
  let stopped = false;
  const loop = (async () => {
    while (!stopped && found === null) {
      for (const [i, p] of processes.entries()) {
        const line = p.logs.slice(marks[i]).find((l) => l.event === BROKER_UNREACHABLE);
        if (line !== undefined && found === null) found = { at: typeof line['time'] === 'number' ? (line['time'] as number) : Date.now(), by: `${p.name} ${BROKER_UNREACHABLE}` };
      }
      await Promise.all(
        checks.map(async (c) => {
          const at = Date.now();
          if ((await c.test().catch(() => false)) && found === null) found = { at, by: c.what };
        }),
      );
      await sleep(DETECTION_POLL_MS);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      if (found !== null) ctx.run.detectionMs = Math.max(0, Math.round(found.at - ctx.faultAt));
      else ctx.run.detectionMs = null;
      ctx.run.detectedBy = found?.by ?? null;
      return found;
    },
  };
}

/** A check that is true once OUR worker's /ready no longer answers 200. */
function notReady(worker: ServiceProcess): { what: string; test: () => Promise<boolean> } {
  return {
    what: `${worker.name} /ready false`,
    test: async () => (await get(worker.host, worker.port, '/ready')).status !== 200,
  };
}

/** Each worker's channels per owning broker, from `scc_worker_broker_channels`. */
async function ownerViews(cluster: BedCluster): Promise<Record<string, Record<string, number>>> {
  const views: Record<string, Record<string, number>> = {};
  for (const [host, w] of cluster.workers) {
    const { text } = await get(w.host, w.port, '/metrics');
    const view: Record<string, number> = {};
    for (const m of text.matchAll(/^scc_worker_broker_channels\{broker="([^"]+)"\} (\S+)$/gm)) view[m[1]!] = Number(m[2]);
    views[host] = view;
  }
  return views;
}

/**
 * Waits (bounded) until the cluster is whole again: every worker's latest broker list has `brokers`
 * brokers (either system logs `brokerList`), and every one of OUR workers answers /ready 200.
 */
async function waitWhole(ctx: Context, brokers: number): Promise<void> {
  const deadline = Date.now() + ctx.profile.waitTimeoutMs;
  const workers = [...ctx.cluster.workers.values()];
  for (;;) {
    const lists = workers.map((w) => w.logs.filter((l) => l.event === LogEvent.BrokerList).at(-1)?.['brokers']);
    const ready = ctx.cluster.system !== 'ours' || (await Promise.all(workers.map((w) => get(w.host, w.port, '/ready').then((r) => r.status === 200, () => false)))).every(Boolean);
    if (ready && lists.every((n) => n === brokers)) return;
    if (Date.now() > deadline) throw new Error(`cluster not whole within ${ctx.profile.waitTimeoutMs} ms of the fault's end: broker lists ${JSON.stringify(lists)}, ready ${ready}`);
    await sleep(DETECTION_POLL_MS);
  }
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

/** What must hold for our services (issue 14); the tests and `chaos --ci --assert` check the same. */
export const MULTI_HOST_BOUNDS = Object.freeze({
  /** Detection of a silent link or a paused broker, by default: far below socketcluster's 20 s ping timeout, ms. */
  detectionMs: 3000,
  /**
   * After detection the channels move by the normal handover: deliveries are back to normal (nothing
   * lost, nothing held over DELAYED_MS) within this much more, ms. Without it a cluster that holds
   * every message for the whole cut and delivers it after the heal would pass.
   */
  rerouteMs: 3000,
  /** m5: broker lists a worker may apply while a link flaps, whatever the flapping's length (a withdrawal and a restore, twice). */
  flapReshards: 4,
});

/** Why a run of OUR services falls short of issue 14 (empty: it holds). */
export function multiHostFailures(run: MultiHostRun, profile: Readonly<MultiHostProfile>): string[] {
  if (run.status === 'n/a') return [];
  if (run.status === 'error' || run.check === undefined) return [`${run.scenario}: ${run.error?.split('\n', 1)[0] ?? 'no result'}`];
  const f: string[] = [];
  const c = run.check;
  const b = MULTI_HOST_BOUNDS;
  const clean = (): void => {
    if (c.lost + c.duplicated + c.outOfOrder > 0) f.push(`${c.lost} lost, ${c.duplicated} duplicated, ${c.outOfOrder} out of order`);
  };
  const detected = (): void => {
    if (run.detectionMs === null || run.detectionMs === undefined) f.push(`not detected while the fault lasted (${run.faultMs} ms); bound ${b.detectionMs} ms`);
    else if (run.detectionMs > b.detectionMs) f.push(`detected after ${run.detectionMs} ms (by ${run.detectedBy}); bound ${b.detectionMs} ms`);
  };
  const rerouted = (): void => {
    const last = run.disruptedMs?.last;
    if (last !== undefined && last > b.detectionMs + b.rerouteMs) f.push(`deliveries disrupted until ${last} ms into the fault (lost or held up to ${run.maxDelayMs} ms); bound ${b.detectionMs + b.rerouteMs} ms`);
  };
  const agreed = (): void => {
    if (run.owners?.agreed !== true) f.push(`the workers disagree on the owners during the cut: ${JSON.stringify(run.owners?.views ?? 'not read')}`);
  };
  const brokersAtEnd = (n: number): void => {
    const counts = Object.values(run.brokersAtEnd ?? {});
    if (counts.length === 0 || counts.some((k) => k !== n)) f.push(`broker lists at the end ${JSON.stringify(run.brokersAtEnd)}; expected ${n} everywhere`);
  };
  switch (run.scenario) {
    case 'm1': {
      detected();
      rerouted();
      agreed();
      // At most the whole offered rate for the detection time: what was in flight on broker-1's channels.
      const inFlight = Math.ceil((profile.rate * b.detectionMs) / 1000);
      if (c.lost > inFlight) f.push(`${c.lost} lost; at most ${inFlight} (sent during detection) may be`);
      if (c.duplicated + c.outOfOrder > 0) f.push(`${c.duplicated} duplicated, ${c.outOfOrder} out of order`);
      break;
    }
    case 'm1b':
      detected();
      rerouted();
      agreed();
      clean();
      break;
    case 'm2':
      clean();
      brokersAtEnd(BROKERS.length);
      break;
    case 'm3':
      clean();
      brokersAtEnd(BROKERS.length + 1);
      break;
    case 'm4':
      detected();
      clean();
      break;
    case 'm5':
      for (const [worker, n] of Object.entries(run.reshards ?? {})) if (n > b.flapReshards) f.push(`${worker} applied ${n} broker lists; at most ${b.flapReshards}`);
      clean();
      break;
  }
  return f.map((x) => `${run.scenario}: ${x}`);
}

/** Options of a multi-host suite run. */
export interface MultiHostOptions {
  systems: BedSystem[];
  scenarios: MultiHostId[];
  profile: MultiHostProfile;
  /** When set, every process's log of every run is written there. */
  logDir?: string;
}

/** Delays and the disruption window of a run, from the load log. */
function delays(log: ChaosLog, check: CheckResult, faultAt: number): { maxDelayMs: number; disrupted: { first: number; last: number } | null } {
  let maxDelay = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const sub of log.subscribers) {
    const d = sub.delivery;
    for (let i = 0; i < d.seq.length; i++) {
      const sentAt = log.publishers[d.publisher[i]!]?.sentAt[d.seq[i]! - 1];
      if (sentAt === undefined) continue;
      const delay = d.at[i]! - sentAt;
      maxDelay = Math.max(maxDelay, delay);
      if (delay > DELAYED_MS) {
        first = Math.min(first, sentAt);
        last = Math.max(last, sentAt);
      }
    }
  }
  if (check.lostWindow !== null) {
    first = Math.min(first, check.lostWindow.first);
    last = Math.max(last, check.lostWindow.last);
  }
  return { maxDelayMs: Math.round(maxDelay), disrupted: first === Infinity ? null : { first: Math.round(first - faultAt), last: Math.round(last - faultAt) } };
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
