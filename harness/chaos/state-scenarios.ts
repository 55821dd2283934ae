/**
 * The chaos suite's state-server events (scenarios 6, 6s and 7): the state leader SIGKILLed during a
 * broker scale-out (replicated, and the single state server for comparison), and etcd unavailable
 * while a broker is added. Each performs its event, resolves once the workers applied the 3-broker
 * list, and records what it saw in `facts`; scenarios.ts runs them under load like every other event.
 */
import { LogEvent } from '@scc-ts/shared';
import type { Cluster } from '../cluster.js';
import type { Etcd } from '../etcd.js';
import { waitForMembers } from '../ready.js';
import { uriOf } from '../services.js';
import type { ServiceProcess } from '../service-process.js';
import type { SeenList, SpyWorker } from '../spy-worker.js';
import { replicaId } from '../state-replicas.js';

/** How often scenario 7 asks every replica whether it leads while etcd is down, ms. */
export const STORE_DOWN_POLL_MS = 200;
/** Our bound on kill → a new leader serving, ms (asserted for ours in scenario 6). */
export const FAILOVER_BOUND_MS = 5000;
/** Replicas of a replicated chaos cluster. */
export const CHAOS_REPLICAS = 3;

/** What a state-server scenario observed, beyond the checker's counts. */
export interface StateFacts {
  /** Kill → a leader of a higher term answered /ready as leader, ms (6). */
  failoverMs?: number;
  /** Broker lists the spy (an original-style worker joined at the start) was handed during the run. */
  spyLists?: number;
  /** Of those, lists that miss a broker an earlier list had (no broker leaves in these scenarios): must be 0. */
  partialLists?: number;
  /** /ready polls that found two replicas leading at once: must be 0. */
  doubleLeaders?: number;
  /** etcd paused → the leader's `steppedDown` event, ms (7); null: it never stepped down. */
  stepDownMs?: number | null;
  /** Polls while etcd was down, after the step-down, that found a replica leading: must be 0 (7). */
  leaderWhileStoreDown?: number;
  /** etcd back → a leader of a higher term serving, ms (7). */
  reelectedMs?: number;
  /** The event's start (the new broker started) → every worker applied the 3-broker list, ms. */
  scaleOutMs?: number;
}

/** What the events need of a run. */
export interface StateEventContext {
  cluster: Cluster;
  options: { stateDownMs: number; storeDownMs: number; timings: { waitTimeoutMs: number; startupDelayMs: number } };
  notes: string[];
  facts: StateFacts;
  spy?: SpyWorker;
  etcd?: Etcd;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One list that misses a broker an earlier list had, and which. */
export interface PartialList {
  list: SeenList;
  missing: string[];
}

/** Lists that miss a broker some earlier list had: a peer handed one would drop a live broker's channels. */
export function partialLists(lists: readonly SeenList[]): PartialList[] {
  const seen = new Set<string>();
  const partial: PartialList[] = [];
  for (const list of lists) {
    const missing = [...seen].filter((uri) => !list.brokers.includes(uri));
    if (missing.length > 0) partial.push({ list, missing });
    for (const uri of list.brokers) seen.add(uri);
  }
  return partial;
}

/** A partial list for a note: its source, term and what it missed, relative to `since` (ms). */
export function describePartial({ list, missing }: PartialList, since: number): string {
  return `${list.source} list at ${list.at - since} ms (term ${list.term ?? '-'}, time ${list.time}) of ${list.brokers.length} brokers missing ${missing.join(', ')}`;
}

/**
 * Waits until every worker applied a list of `count` brokers after `marks`; ours also publish through
 * it (their handover is over), the original's applied list is all there is to wait on.
 */
async function waitApplied(cluster: Cluster, count: number, marks: readonly number[], timeoutMs: number): Promise<void> {
  await cluster.waitForBrokerCount(count, marks);
  if (cluster.system !== 'ours') return;
  await Promise.all(cluster.workers.map((w, i) => w.waitForEvent(LogEvent.PublishingThrough, { brokers: count }, timeoutMs, marks[i])));
}

/** Starts a broker (2 → 3) and resolves once `state` logged that it pushes the 3-broker list; `added` settles when the broker is listed. */
async function scaleOutUntilPushing(cluster: Cluster, state: ServiceProcess, timeoutMs: number): Promise<{ added: Promise<unknown> }> {
  const from = state.mark();
  const added = cluster.addBroker();
  // Awaited by the caller later; handled now so that a failure meanwhile is not an unhandled rejection.
  added.catch(() => undefined);
  await state.waitForLog(/^pushing 3 brokers/, timeoutMs, from);
  return { added };
}

/** Scenario 6: the leader is SIGKILLed once it pushes the 3-broker list, and restarted at once on its port. */
export async function killLeaderDuringScaleOut(ctx: StateEventContext): Promise<void> {
  const { cluster, notes, facts } = ctx;
  const wait = ctx.options.timings.waitTimeoutMs;
  const startedAt = Date.now();
  const marks = cluster.workerMarks();
  const leader = await cluster.leader();
  const { added } = await scaleOutUntilPushing(cluster, cluster.replicas[leader.index]!, wait);
  const kill = await cluster.killLeader();
  const next = await cluster.waitForLeader(kill.term, wait);
  facts.failoverMs = next.at - kill.killedAt;
  notes.push(
    `leader ${replicaId(kill.index)} (term ${kill.term}) SIGKILLed once it logged "pushing 3 brokers", restarted at once; ` +
      `${replicaId(next.index)} led (term ${next.term}) ${facts.failoverMs} ms after the kill`,
  );
  await added;
  await waitApplied(cluster, 3, marks, wait);
  facts.scaleOutMs = Date.now() - startedAt;
  await kill.restarted;
}

/** Scenario 6s: the single state server is SIGKILLed once it pushes the 3-broker list, and restarted after `stateDownMs`. */
export async function killStateDuringScaleOut(ctx: StateEventContext): Promise<void> {
  const { cluster, notes, facts, options } = ctx;
  const wait = options.timings.waitTimeoutMs;
  const startedAt = Date.now();
  const marks = cluster.workerMarks();
  const { added } = await scaleOutUntilPushing(cluster, cluster.state, wait);
  const killedAt = Date.now();
  await cluster.restartState(options.stateDownMs, { SCC_STATE_SERVER_STARTUP_DELAY: String(options.timings.startupDelayMs) }, wait + options.timings.startupDelayMs);
  notes.push(`state server SIGKILLed once it logged "pushing 3 brokers", down ${options.stateDownMs} ms; every member re-joined it ${Date.now() - killedAt} ms after the kill`);
  await added;
  await waitApplied(cluster, 3, marks, wait);
  facts.scaleOutMs = Date.now() - startedAt;
}

/**
 * Scenario 7: etcd is paused (SIGSTOP) for `storeDownMs` and a broker started meanwhile. Every
 * STORE_DOWN_POLL_MS every replica is asked whether it leads: never two, and none once the leader
 * stepped down. Then etcd resumes; stable when a new leader is elected and the workers applied 3.
 */
export async function storeDownDuringScaleOut(ctx: StateEventContext): Promise<void> {
  const { cluster, notes, facts, options } = ctx;
  const etcd = ctx.etcd!;
  const wait = options.timings.waitTimeoutMs;
  const marks = cluster.workerMarks();
  const old = await cluster.leader();
  const leader = cluster.replicas[old.index]!;
  const from = leader.mark();
  etcd.pause();
  const pausedAt = Date.now();
  let steppedAt: number | null = null;
  const stepped = leader.waitForEvent(LogEvent.SteppedDown, {}, options.storeDownMs, from).then(
    (line) => (steppedAt = Number(line['time'])),
    () => undefined,
  );
  let broker;
  try {
    broker = await cluster.spawnBroker();
    facts.leaderWhileStoreDown = 0;
    while (Date.now() < pausedAt + options.storeDownMs) {
      const asked = Date.now();
      const leading = await cluster.leaders();
      if (steppedAt !== null && asked > steppedAt && leading.length > 0) facts.leaderWhileStoreDown += 1;
      await sleep(STORE_DOWN_POLL_MS);
    }
  } finally {
    etcd.resume();
  }
  const resumedAt = Date.now();
  await stepped;
  facts.stepDownMs = steppedAt === null ? null : steppedAt - pausedAt;
  const next = await cluster.waitForLeader(old.term, wait);
  facts.reelectedMs = next.at - resumedAt;
  notes.push(
    `etcd paused ${resumedAt - pausedAt} ms; leader ${replicaId(old.index)} (term ${old.term}) ` +
      `${steppedAt === null ? 'never stepped down' : `stepped down ${facts.stepDownMs} ms after the pause`}; ` +
      `${facts.leaderWhileStoreDown} polls found a leader after that; ${replicaId(next.index)} led (term ${next.term}) ${facts.reelectedMs} ms after etcd came back`,
  );
  await waitForMembers(cluster.statePort, { brokers: [uriOf(broker)] }, { timeoutMs: wait, process: broker });
  await waitApplied(cluster, 3, marks, wait);
  facts.scaleOutMs = Date.now() - pausedAt;
}
