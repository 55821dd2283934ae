/**
 * What the multi-host scenarios observe of a cluster on the test bed, from the root namespace: the
 * first sign that a fault was noticed, each worker's view of the channels' owners, whether the
 * cluster is whole again, and the delivery delays in the load generator's log.
 */
import { LogEvent } from '@scc-ts/shared';
import type { ChaosLog, CheckResult } from './checker.js';
import type { BedCluster } from '../netns/bed-cluster.js';
import type { ServiceProcess } from '../service-process.js';

/** A delivery later than this after its send counts as disrupted, ms (a healthy bridge delivers in a few ms). */
export const DELAYED_MS = 1000;
/** How often detection is polled (a worker's /ready, the state server's view), ms. */
export const DETECTION_POLL_MS = 50;
/** Bound on one poll's HTTP request, ms. */
const POLL_REQUEST_MS = 1000;
/**
 * The structured event the workers log when a broker link goes silent (the heartbeat on internal
 * links, issue 14). Read by name so this file builds before the services have it.
 */
export const BROKER_UNREACHABLE = (LogEvent as Readonly<Record<string, string>>)['BrokerUnreachable'] ?? 'brokerUnreachable';

/** Something polled for a sign of the fault (a worker's /ready, the state server's view). */
export interface Check {
  what: string;
  test: () => Promise<boolean>;
}

/** When a fault was first noticed (epoch ms) and by what. */
export interface Detection {
  at: number;
  by: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One GET over the bridge, bounded by POLL_REQUEST_MS: the status and the body. */
export async function get(host: string, port: number, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://${host}:${port}${path}`, { signal: AbortSignal.timeout(POLL_REQUEST_MS) });
  return { status: res.status, text: await res.text() };
}

/**
 * Watches for the first sign of a fault until stopped: the given processes' `brokerUnreachable`
 * log event (after their marks), or a check (a worker's /ready, the state server's view) that
 * reports something. Resolves with the time and what saw it, or null.
 */
export function watchDetection(processes: readonly ServiceProcess[], checks: readonly Check[]): { stop: () => Promise<Detection | null> } {
  const marks = processes.map((p) => p.mark());
  let found: Detection | null = null;
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
      return found;
    },
  };
}

/** A check that is true once OUR worker's /ready no longer answers 200. */
export function notReady(worker: ServiceProcess): Check {
  return {
    what: `${worker.name} /ready false`,
    test: async () => (await get(worker.host, worker.port, '/ready')).status !== 200,
  };
}

/** Each worker's channels per owning broker, from `scc_worker_broker_channels`. */
export async function ownerViews(cluster: BedCluster): Promise<Record<string, Record<string, number>>> {
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
export async function waitWhole(cluster: BedCluster, brokers: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const workers = [...cluster.workers.values()];
  for (;;) {
    const lists = workers.map((w) => w.logs.filter((l) => l.event === LogEvent.BrokerList).at(-1)?.['brokers']);
    const ready = cluster.system !== 'ours' || (await Promise.all(workers.map((w) => get(w.host, w.port, '/ready').then((r) => r.status === 200, () => false)))).every(Boolean);
    if (ready && lists.every((n) => n === brokers)) return;
    if (Date.now() > deadline) throw new Error(`cluster not whole within ${timeoutMs} ms of the fault's end: broker lists ${JSON.stringify(lists)}, ready ${ready}`);
    await sleep(DETECTION_POLL_MS);
  }
}

/** Delays and the disruption window of a run, from the load log. */
export function delays(log: ChaosLog, check: CheckResult, faultAt: number): { maxDelayMs: number; disrupted: { first: number; last: number } | null } {
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
