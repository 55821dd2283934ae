/**
 * Replicated scc-state from the outside: the environment of one replica, and who leads, by each
 * replica's own word (`/ready`: `{ready, role, leader: {id, address, term} | null, storeUp}`). The
 * cluster launcher (cluster.ts) starts replicas with these; the chaos suite and the failover
 * benchmark ask them who leads.
 */
import type { ServiceProcess } from './service-process.js';

/** How replicated state servers are started: `count` replicas electing a leader through etcd. */
export interface StateReplicasOptions {
  count: number;
  /** `http://127.0.0.1:PORT` of the etcd the replicas elect through. */
  etcdEndpoint: string;
  /** Key prefix of this cluster in etcd (one per cluster, e.g. `/chaos-<uuid>/`). */
  prefix: string;
  /** Extra environment of every replica (e.g. `SCC_STATE_SERVER_LEASE_TTL`), applied last. */
  env?: Record<string, string>;
}

/** One replica that says it leads: its index in start order and its term. */
export interface Leading {
  index: number;
  term: number;
}

/** A leader of a higher term was found: when (epoch ms) it first answered as leader. */
export interface NewLeader extends Leading {
  at: number;
}

/** Bound on one `/ready` request, ms: a replica that does not answer in time does not lead. */
const READY_REQUEST_TIMEOUT_MS = 500;

/** Replica `index`'s id (`r1`, `r2`, …): stable across its restarts, as a StatefulSet pod's name is. */
export function replicaId(index: number): string {
  return `r${index + 1}`;
}

/** The environment of replica `index` (its port is the launcher's to give). */
export function replicaEnv(options: Readonly<StateReplicasOptions>, index: number): Record<string, string> {
  return {
    SCC_STATE_SERVER_ETCD_ENDPOINTS: options.etcdEndpoint,
    SCC_STATE_SERVER_ETCD_PREFIX: options.prefix,
    SCC_INSTANCE_ID: replicaId(index),
    SCC_INSTANCE_IP: '127.0.0.1',
    ...options.env,
  };
}

/** The term replica `replica` leads with by its own `/ready`, or null (a follower, down, or not answering). */
export async function leadsWith(replica: ServiceProcess): Promise<number | null> {
  if (!replica.alive) return null;
  const body = await fetch(`http://${replica.host}:${replica.port}/ready`, { signal: AbortSignal.timeout(READY_REQUEST_TIMEOUT_MS) }).then(
    (r) => r.json() as Promise<{ role?: string; leader?: { term?: number } | null }>,
    () => null,
  );
  return body?.role === 'leader' ? (body.leader?.term ?? null) : null;
}

/** Every replica that says it leads now (normally one; none during an election; two would be a split brain). */
export async function leadersAmong(replicas: readonly ServiceProcess[]): Promise<Leading[]> {
  const terms = await Promise.all(replicas.map((r) => leadsWith(r).catch(() => null)));
  return terms.flatMap((term, index) => (term === null ? [] : [{ index, term }]));
}

/** No single leader of the term asked for answered within the bound. */
export class NoLeaderError extends Error {
  override readonly name = 'NoLeaderError';
}

/** Two replicas said they led at once. */
export class SplitBrainError extends Error {
  override readonly name = 'SplitBrainError';
}

/**
 * Waits for exactly one leader of a term above `afterTerm` among `replicas`; throws SplitBrainError
 * the moment two lead at once (the tests' rule; the launcher counts them instead, for the chaos
 * report), and NoLeaderError after `timeoutMs`.
 */
export async function waitForLeaderAmong(replicas: readonly ServiceProcess[], options: { afterTerm?: number; timeoutMs: number; pollMs?: number }): Promise<Leading> {
  const after = options.afterTerm ?? 0;
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const now = await leadersAmong(replicas);
    if (now.length > 1) throw new SplitBrainError(`two replicas lead at once: ${now.map((l) => `${replicaId(l.index)} (term ${l.term})`).join(', ')}`);
    if (now.length === 1 && now[0]!.term > after) return now[0]!;
    if (Date.now() > deadline) throw new NoLeaderError(`no leader of a term above ${after} within ${options.timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 50));
  }
}
