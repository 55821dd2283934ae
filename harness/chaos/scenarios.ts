/**
 * The chaos suite's scenarios and the run of one (system, scenario) pair: a fresh cluster, the load
 * generator primed on every channel, warm-up under load, the event, load kept running until the
 * cluster is stable again plus a settle time, then publishing stops and the generator drains; the
 * checker turns its log into counts.
 */
import { randomUUID } from 'node:crypto';
import { SkeletonRendezvousMapper } from '@scc-ts/shared';
import { chaosChannel, checkChaosLog, type CheckResult } from './checker.js';
import { Cluster, type ClusterSystem } from '../cluster.js';
import { startEtcd, type Etcd } from '../etcd.js';
import { SpyWorker } from '../spy-worker.js';
import type { StateReplicasOptions } from '../state-replicas.js';
import { LoadClient } from './load-client.js';
import {
  CHAOS_REPLICAS,
  describePartial,
  killLeaderDuringScaleOut,
  killStateDuringScaleOut,
  partialLists,
  storeDownDuringScaleOut,
  type StateFacts,
} from './state-scenarios.js';

export type { StateFacts } from './state-scenarios.js';

export type SystemName = ClusterSystem;

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
 * A chaos cluster: our state server (or `stateReplicas`), `brokers` brokers and workers A and B of
 * `system`, every port chosen up front so a restarted process comes back on its own. The services'
 * default handover timings apply (not the tests' fast ones): the suite measures what a deployment
 * gets. Also the state-failover benchmark's cluster.
 */
export function startChaosCluster(system: SystemName, brokers: number, timings: ClusterTimings, workerEnv: Record<string, string> = {}, stateReplicas?: StateReplicasOptions): Promise<Cluster> {
  const retry = String(timings.retryDelayMs);
  return Cluster.start({
    system,
    brokers,
    workers: 2,
    ...(stateReplicas && { stateReplicas }),
    fixedPorts: true,
    fast: false,
    timeoutMs: timings.waitTimeoutMs,
    stateEnv: {
      SCC_STATE_SERVER_STARTUP_DELAY: '0',
      SCC_STATE_SERVER_SCALE_OUT_DELAY: String(timings.scaleOutDelayMs),
      SCC_STATE_SERVER_SCALE_BACK_DELAY: String(timings.scaleBackDelayMs),
      SCC_STATE_SERVER_RETRY_DELAY: retry,
    },
    // The original broker at level 1 (its default) logs errors only, not every publish.
    brokerEnv: { SCC_BROKER_SERVER_RETRY_DELAY: retry, SCC_BROKER_SERVER_LOG_LEVEL: system === 'ours' ? '3' : '1' },
    workerEnv: {
      SCC_BROKER_RETRY_DELAY: retry,
      SCC_STATE_SERVER_RECONNECT_RANDOMNESS: String(Math.ceil(timings.retryDelayMs / 2)),
      ...(system === 'ours' && { SOCKETCLUSTER_LOG_LEVEL: '3' }),
      ...workerEnv,
    },
    names: (role, i) => (role === 'worker' ? `worker ${'AB'[i] ?? i}` : role === 'broker' ? `broker ${i + 1}` : role),
  });
}

export type ScenarioId = '1' | '2' | '3' | '3b' | '4' | '5' | '6' | '6s' | '7';
export const SCENARIO_IDS: readonly ScenarioId[] = ['1', '2', '3', '3b', '4', '5', '6', '6s', '7'];

/** Everything a suite run is configured with. */
export interface ChaosOptions {
  systems: SystemName[];
  scenarios: ScenarioId[];
  /** Offered messages per second, all publishers together. */
  rate: number;
  channels: number;
  /** How long the state server stays down in scenarios 4 and 6s, ms. */
  stateDownMs: number;
  /** How long etcd is unavailable in scenario 7, ms. */
  storeDownMs: number;
  /** The replicas' SCC_STATE_SERVER_LEASE_TTL in scenarios 6 and 7, ms; null: the service's default. */
  leaseTtlMs: number | null;
  /** Load before the event, ms. */
  warmupMs: number;
  /** Load after the cluster is stable again, ms. */
  settleMs: number;
  /** Recording after the drain wait: lost messages that arrive then are reported as late, ms. */
  lateMs: number;
  timings: ClusterTimings;
  /** When set, every process's log of every run is written there. */
  logDir?: string;
}

interface EventContext {
  cluster: Cluster;
  load: LoadClient;
  options: ChaosOptions;
  /** Free-form facts about the event for the report (e.g. how a broker exited). */
  notes: string[];
  /** Channels the event moves or orphans (set by the event), to tell whether losses are where they should be. */
  affected?: Set<number>;
  /** What a state-server event observed (scenarios 6, 6s, 7). */
  facts: StateFacts;
  /** An original-style worker joined at the start, recording every broker list (scenarios with `spy`). */
  spy?: SpyWorker;
  /** The etcd of a replicated cluster. */
  etcd?: Etcd;
}

/** Each channel's owner among brokers on `ports`, by skeleton rendezvous (both systems' default mapping). */
function owners(ports: number[], channels: number): string[] {
  const mapper = new SkeletonRendezvousMapper();
  mapper.setSites(ports.map((p) => `ws://127.0.0.1:${p}`));
  return Array.from({ length: channels }, (_, c) => mapper.findSite(chaosChannel(c)) ?? '');
}

function livePorts(cluster: Cluster): number[] {
  return cluster.brokers.filter((b) => b.alive).map((b) => b.port);
}

interface Scenario {
  title: string;
  brokers: number;
  workerEnv?: Record<string, string>;
  /** Systems the scenario does not apply to. */
  notApplicable?: SystemName[];
  /** Replicated state servers (CHAOS_REPLICAS, through an etcd the run starts) instead of one. */
  replicated?: boolean;
  /** A spy worker joins at the start and counts the partial broker lists it is handed. */
  spy?: boolean;
  /** Performs the event and resolves when the cluster is stable again. */
  event(ctx: EventContext): Promise<void>;
}

async function killBroker(ctx: EventContext, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const { cluster } = ctx;
  const marks = cluster.workerMarks();
  const victim = cluster.brokers[0]!;
  const before = owners(livePorts(cluster), ctx.options.channels);
  ctx.affected = new Set(before.flatMap((owner, c) => (owner === `ws://127.0.0.1:${victim.port}` ? [c] : [])));
  const exit = await victim.stop(signal, ctx.options.timings.waitTimeoutMs);
  if (signal === 'SIGTERM') {
    ctx.notes.push(exit.signal === 'SIGKILL' ? `broker did not exit within ${ctx.options.timings.waitTimeoutMs} ms of SIGTERM; killed` : `broker exited by itself (code ${exit.code}, signal ${exit.signal})`);
  }
  await cluster.waitForBrokerCount(cluster.brokers.length - 1, marks);
}

export const SCENARIOS: Readonly<Record<ScenarioId, Scenario>> = {
  '1': {
    title: 'a broker joins (2 → 3)',
    brokers: 2,
    async event(ctx) {
      const { cluster } = ctx;
      const marks = cluster.workerMarks();
      const before = owners(livePorts(cluster), ctx.options.channels);
      await cluster.addBroker();
      const after = owners(livePorts(cluster), ctx.options.channels);
      ctx.affected = new Set(before.flatMap((owner, c) => (owner === after[c] ? [] : [c])));
      await cluster.waitForBrokerCount(3, marks);
    },
  },
  '2': { title: 'a broker leaves by SIGTERM (3 → 2)', brokers: 3, event: (ctx) => killBroker(ctx, 'SIGTERM') },
  '3': { title: 'a broker is killed by SIGKILL (3 → 2), default mode', brokers: 3, event: (ctx) => killBroker(ctx, 'SIGKILL') },
  '3b': {
    title: 'a broker is killed by SIGKILL (3 → 2), at-least-once mode',
    brokers: 3,
    workerEnv: { SCC_DELIVERY_MODE: 'at-least-once' },
    notApplicable: ['original'],
    event: (ctx) => killBroker(ctx, 'SIGKILL'),
  },
  '4': {
    title: 'the state server is killed (SIGKILL) and restarted',
    brokers: 2,
    async event({ cluster, options, notes }) {
      await cluster.restartState(options.stateDownMs, { SCC_STATE_SERVER_STARTUP_DELAY: String(options.timings.startupDelayMs) }, options.timings.waitTimeoutMs + options.timings.startupDelayMs);
      notes.push(`state server down ${options.stateDownMs} ms`);
    },
  },
  '5': {
    title: 'worker B restarts (SIGTERM, started again on the same port)',
    brokers: 2,
    async event({ cluster, load, options }) {
      await cluster.restartWorker(1, 'SIGTERM');
      // Stable once B's clients have reconnected and every channel is subscribed again.
      const deadline = Date.now() + options.timings.waitTimeoutMs;
      for (;;) {
        const s = await load.status();
        const sub = s.subscribers[1]!;
        if (sub.open && sub.subscribed === options.channels && s.publishers[1]!.open) return;
        if (Date.now() > deadline) throw new Error(`worker B's clients not back within ${options.timings.waitTimeoutMs} ms: ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  },
  '6': {
    title: 'the state leader is SIGKILLed during a broker scale-out (2 → 3), replicated state',
    brokers: 2,
    replicated: true,
    spy: true,
    event: killLeaderDuringScaleOut,
  },
  '6s': {
    title: 'the single state server is SIGKILLed during a broker scale-out (2 → 3), restarted after the state-down time',
    brokers: 2,
    spy: true,
    event: killStateDuringScaleOut,
  },
  '7': {
    title: 'etcd unavailable, a broker added (2 → 3) while it is down, replicated state',
    brokers: 2,
    replicated: true,
    spy: true,
    event: storeDownDuringScaleOut,
  },
};

/** Defaults of a profile: the full run, or the small fast CI version (`--ci`, and test/chaos.test.ts). */
export interface ChaosProfile {
  rate: number;
  channels: number;
  stateDownMs: number;
  /** etcd unavailable in scenario 7, ms. */
  storeDownMs: number;
  /** Lease time-to-live of the replicas (6, 7), ms; null: the service's default (3000). */
  leaseTtlMs: number | null;
  warmupMs: number;
  settleMs: number;
  lateMs: number;
  scaleOutMs: number;
  scaleBackMs: number;
  /** Startup delay of the restarted state server: above the brokers' reconnect delay plus its up to 1000 ms jitter. */
  startupDelayMs: number;
  retryDelayMs: number;
  /** Bound on each wait for the cluster (a join, an exit, a re-join, a resubscribe), ms. */
  waitTimeoutMs: number;
}

export const FULL_PROFILE: Readonly<ChaosProfile> = Object.freeze({
  rate: 5000,
  channels: 100,
  stateDownMs: 30_000,
  storeDownMs: 60_000,
  leaseTtlMs: null,
  warmupMs: 2000,
  settleMs: 3000,
  lateMs: 3000,
  scaleOutMs: 1000,
  scaleBackMs: 500,
  startupDelayMs: 2500,
  retryDelayMs: 1000,
  // Generous: at 5,000 msg/s on a loaded machine a worker can lag its state server by many seconds.
  waitTimeoutMs: 60_000,
});

export const CI_PROFILE: Readonly<ChaosProfile> = Object.freeze({
  rate: 500,
  channels: 20,
  stateDownMs: 3000,
  storeDownMs: 5000,
  // The replicated integration test's lease: failover well inside FAILOVER_BOUND_MS on a busy CI machine.
  leaseTtlMs: 2000,
  warmupMs: 1000,
  settleMs: 1000,
  lateMs: 0,
  scaleOutMs: 1000,
  scaleBackMs: 500,
  startupDelayMs: 2000,
  retryDelayMs: 500,
  waitTimeoutMs: 30_000,
});

/** Options for a profile, every scenario, the given systems. */
export function profileOptions(profile: Readonly<ChaosProfile>, systems: SystemName[]): ChaosOptions {
  return {
    systems,
    scenarios: [...SCENARIO_IDS],
    rate: profile.rate,
    channels: profile.channels,
    stateDownMs: profile.stateDownMs,
    storeDownMs: profile.storeDownMs,
    leaseTtlMs: profile.leaseTtlMs,
    warmupMs: profile.warmupMs,
    settleMs: profile.settleMs,
    lateMs: profile.lateMs,
    timings: {
      scaleOutDelayMs: profile.scaleOutMs,
      scaleBackDelayMs: profile.scaleBackMs,
      startupDelayMs: profile.startupDelayMs,
      retryDelayMs: profile.retryDelayMs,
      waitTimeoutMs: profile.waitTimeoutMs,
    },
  };
}

/** One (system, scenario) result. */
export interface ScenarioRun {
  scenario: ScenarioId;
  title: string;
  system: SystemName;
  status: 'ok' | 'error' | 'n/a';
  error?: string;
  check?: CheckResult;
  /** Messages the pacer skipped (publisher socket not open, or the generator fell behind). */
  skipped?: number;
  offeredRate?: number;
  /** Acked publishes per second over the load period. */
  achievedRate?: number;
  /** From the event's start until the cluster was stable again (or the wait gave up), ms. */
  eventMs?: number;
  /** Channels the event moves (1) or orphans (2, 3, 3b), and how many lost messages were on them. */
  affected?: { channels: number; lost: number };
  /** Send times of the first and last lost message, relative to the event's start, ms. */
  lostWindowMs?: { first: number; last: number } | null;
  /** What a state-server event observed (scenarios 6, 6s, 7). */
  state?: StateFacts;
  notes?: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `ok` every 50 ms until it holds; throws after `timeoutMs`. */
async function waitFor(ok: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Runs one scenario against one system on a fresh cluster; never throws (errors are reported in the result). */
export async function runScenario(system: SystemName, id: ScenarioId, options: ChaosOptions): Promise<ScenarioRun> {
  const scenario = SCENARIOS[id];
  const base = { scenario: id, title: scenario.title, system };
  if (scenario.notApplicable?.includes(system)) return { ...base, status: 'n/a' };
  let cluster: Cluster | undefined;
  let load: LoadClient | undefined;
  let etcd: Etcd | undefined;
  let spy: SpyWorker | undefined;
  const notes: string[] = [];
  const facts: StateFacts = {};
  try {
    load = LoadClient.spawn();
    if (scenario.replicated) etcd = await startEtcd({ timeoutMs: options.timings.waitTimeoutMs });
    const replicas: StateReplicasOptions | undefined = etcd && {
      count: CHAOS_REPLICAS,
      etcdEndpoint: etcd.endpoint,
      prefix: `/chaos-${randomUUID()}/`,
      env: options.leaseTtlMs === null ? {} : { SCC_STATE_SERVER_LEASE_TTL: String(options.leaseTtlMs) },
    };
    cluster = await startChaosCluster(system, scenario.brokers, options.timings, scenario.workerEnv, replicas);
    if (scenario.spy) {
      // Through the address peers dial (replica 0), as an original worker started with the cluster would.
      const joined = new SpyWorker(cluster.statePort);
      spy = joined;
      await waitFor(() => joined.latest?.brokers.length === scenario.brokers, options.timings.waitTimeoutMs, 'the spy worker joined');
    }
    await load.init({
      ports: cluster.workerPorts,
      ids: ['A', 'B'],
      channels: options.channels,
      rate: options.rate,
      setupTimeoutMs: options.timings.waitTimeoutMs,
      lateMs: options.lateMs,
    });
    await load.startLoad();
    await sleep(options.warmupMs); // a duration of load, not a wait for an event
    const eventAt = Date.now();
    const ctx: EventContext = { cluster, load, options, notes, facts, ...(spy && { spy }), ...(etcd && { etcd }) };
    // A cluster that does not become stable in time is an error, but what was delivered is still counted.
    let eventError: string | undefined;
    await scenario.event(ctx).catch((error: unknown) => {
      eventError = `${(error as Error).message}\n${cluster!.tail()}`;
    });
    const eventMs = Date.now() - eventAt;
    await sleep(options.settleMs);
    const log = await load.stop();
    const check = checkChaosLog(log);
    if (spy) {
      const partial = partialLists(spy.lists);
      Object.assign(facts, { spyLists: spy.lists.length, partialLists: partial.length });
      for (const p of partial) notes.push(`spy: ${describePartial(p, eventAt)}`);
    }
    if (scenario.replicated) facts.doubleLeaders = cluster.doubleLeaders;
    const loadSeconds = (log.loadStoppedAt - log.loadStartedAt) / 1000;
    return {
      ...base,
      ...(eventError === undefined ? { status: 'ok' as const } : { status: 'error' as const, error: eventError }),
      check,
      skipped: log.skipped,
      offeredRate: options.rate,
      achievedRate: Math.round(check.published / loadSeconds),
      eventMs,
      ...(ctx.affected && {
        affected: { channels: ctx.affected.size, lost: [...ctx.affected].reduce((n, c) => n + (check.lostByChannel[c] ?? 0), 0) },
      }),
      lostWindowMs: check.lostWindow && { first: Math.round(check.lostWindow.first - eventAt), last: Math.round(check.lostWindow.last - eventAt) },
      ...(Object.keys(facts).length > 0 && { state: facts }),
      notes,
    };
  } catch (error) {
    const tail = cluster ? `\n${cluster.tail()}` : '';
    return { ...base, status: 'error', error: `${(error as Error).message}${tail}`, ...(Object.keys(facts).length > 0 && { state: facts }), notes };
  } finally {
    spy?.close();
    if (options.logDir !== undefined) {
      cluster?.writeLogs(options.logDir, `${system}-${id}`);
      etcd?.process.writeLog(`${options.logDir}/${system}-${id}-etcd.log`);
    }
    await load?.close();
    await cluster?.close();
    await etcd?.stop();
  }
}

/** Runs every selected scenario for every selected system, one at a time; `onRun` sees each result as it comes. */
export async function runSuite(options: ChaosOptions, onRun?: (run: ScenarioRun) => void): Promise<ScenarioRun[]> {
  const runs: ScenarioRun[] = [];
  for (const id of options.scenarios) {
    for (const system of options.systems) {
      const run = await runScenario(system, id, options);
      runs.push(run);
      onRun?.(run);
    }
  }
  return runs;
}
