/**
 * Which replica of a replicated scc-state leads, by each replica's own word (its /ready, which
 * answers from the same state as /leader): one home for the tests, the chaos suite and the benchmark.
 */
import type { ServiceProcess } from './service-process.js';

/** A replica that leads, and its term. */
export interface Leading {
  /** The key the caller named the replica by. */
  key: string;
  term: number;
}

/** What a replica's /ready says of itself: its term while it leads, else null (a follower, or not answering). */
export async function leadingTerm(replica: ServiceProcess, timeoutMs = 500): Promise<number | null> {
  if (!replica.alive) return null;
  const body = await fetch(`http://${replica.host}:${replica.port}/ready`, { signal: AbortSignal.timeout(timeoutMs) }).then(
    (r) => r.json() as Promise<{ role?: string; leader?: { term: number } | null }>,
    () => null,
  );
  return body?.role === 'leader' ? (body.leader?.term ?? null) : null;
}

/** The replicas leading now (more than one would be a split brain). */
export async function leaders(replicas: ReadonlyMap<string, ServiceProcess>): Promise<Leading[]> {
  const found: Leading[] = [];
  await Promise.all(
    [...replicas].map(async ([key, replica]) => {
      const term = await leadingTerm(replica);
      if (term !== null) found.push({ key, term });
    }),
  );
  return found;
}

/** Two replicas led at once. */
export class SplitBrainError extends Error {
  override readonly name = 'SplitBrainError';
}

/**
 * Waits for exactly one leader of a term above `afterTerm`; throws SplitBrainError the moment two
 * lead at once, and an Error after `timeoutMs`. Polls every `pollMs`.
 */
export async function waitForLeader(replicas: ReadonlyMap<string, ServiceProcess>, options: { afterTerm?: number; timeoutMs: number; pollMs?: number }): Promise<Leading> {
  const after = options.afterTerm ?? 0;
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const now = await leaders(replicas);
    if (now.length > 1) throw new SplitBrainError(`two replicas lead at once: ${now.map((l) => `${l.key} (term ${l.term})`).join(', ')}`);
    if (now.length === 1 && now[0]!.term > after) return now[0]!;
    if (Date.now() > deadline) throw new Error(`no leader of a term above ${after} within ${options.timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 50));
  }
}
