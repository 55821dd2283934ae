/**
 * The bench's open-file budget: every connection costs one descriptor in a generator and one in a
 * server process, and every process the bench starts inherits its limits. Node raises its own soft
 * limit to the hard limit at start, so the hard limit is what counts: when it is lower than a run
 * needs, the bench runs itself again under a shell that raises it (`ulimit -n`, which takes root with
 * CAP_SYS_RESOURCE beyond the hard limit), so the generators and every server get it too; when even
 * that fails, the caller refuses the run with the limit it got.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { openFileLimit } from './proc.js';

/** Set in the re-run: the limit before raising (so the re-run reports it and never loops). */
const TRIED_ENV = 'BENCH_OPEN_FILES_BEFORE';

export interface OpenFiles {
  /** The limit the bench and its children run under. */
  limit: number;
  /** The limit before the bench raised it, when it did. */
  raisedFrom?: number;
}

/**
 * Returns when the limit is at least `needed`; otherwise re-runs this process under a raised limit
 * and exits with its status (never returns), or — in the re-run, if raising fell short — returns the
 * limit it got, for the caller to refuse with a clear message.
 */
export function ensureOpenFiles(needed: number): OpenFiles {
  const limit = openFileLimit();
  const before = process.env[TRIED_ENV];
  if (limit >= needed) return { limit, ...(before !== undefined && { raisedFrom: Number(before) }) };
  if (before !== undefined) return { limit, raisedFrom: Number(before) };
  // `ulimit -n N` raises soft and hard where allowed (root); else take the hard limit, the most a user may.
  const script = `ulimit -n ${needed} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`;
  const rerun = spawnSync('/bin/sh', ['-c', script, 'sh', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [TRIED_ENV]: String(limit) },
  });
  process.exit(rerun.status ?? 1);
}

/** The hard limit on open files (what a user who is not root may raise the soft one to). */
export function hardOpenFileLimit(): number {
  const hard = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  return hard === undefined || hard === 'unlimited' ? Infinity : Number(hard);
}

/** The kernel's ephemeral port range for outgoing connections (net.ipv4.ip_local_port_range). */
export function ephemeralPorts(): { low: number; high: number; count: number } | undefined {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return low === undefined || high === undefined ? undefined : { low, high, count: high - low + 1 };
  } catch {
    return undefined;
  }
}
