/**
 * What one test bed made, written to a record file as it is made, and the teardown that undoes it.
 * The record file is also the bed's claim on its subnet (created with O_EXCL), so two beds, in one
 * process or two, never pick the same /24. Shared by the bed (normal teardown, and stale cleanup of
 * beds whose owner died) and by the reaper process (owner SIGKILLed): one teardown for all three.
 *
 * Everything here is synchronous: the teardown also runs from a process 'exit' handler.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where bed records live (tmpfs: gone after a reboot, like the namespaces themselves). */
export const RECORD_DIR = '/run/scc-testbed';
/** How long a teardown waits for killed processes to be gone before deleting their namespaces, ms. */
const KILL_WAIT_MS = 3000;
const KILL_POLL_MS = 20;

/** One host of a bed: its namespace, the root-side end of its veth (a bridge port), its address. */
export interface HostRecord {
  name: string;
  ns: string;
  veth: string;
  address: string;
}

export interface BedRecord {
  /** The pid of the process that owns the bed, and that process's start time (pid reuse guard). */
  owner: number;
  ownerStart: string | null;
  /** `<pid base 36>x<sequence base 36>`: every name of the bed carries it. */
  id: string;
  /** Index of the /24 within 198.18.0.0/15 (0–511). */
  subnet: number;
  bridge: string;
  hosts: HostRecord[];
  /** Pids of the processes started on the bed (the reaper's list; the teardown also sweeps each namespace). */
  pids: number[];
  /** The reaper watching the owner (null until spawned). */
  reaper: number | null;
}

/** The path of the record claiming subnet `subnet`. */
export function recordPath(subnet: number): string {
  return join(RECORD_DIR, `net-${subnet}.json`);
}

/**
 * Claims subnet `subnet` by creating its record file exclusively; false when another bed holds it.
 * The record is written in full at once, before anything is created, so a teardown always knows
 * every name the bed may have made.
 */
export function claimRecord(record: BedRecord): boolean {
  mkdirSync(RECORD_DIR, { recursive: true });
  try {
    writeFileSync(recordPath(record.subnet), JSON.stringify(record), { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** Rewrites a claimed record (a rename over it, so a reader never sees half a file). */
export function updateRecord(record: BedRecord): void {
  const path = recordPath(record.subnet);
  writeFileSync(`${path}.tmp`, JSON.stringify(record));
  renameSync(`${path}.tmp`, path);
}

/** The record at `path`, or null when it is gone or unreadable. */
export function readRecord(path: string): BedRecord | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as BedRecord;
  } catch {
    return null;
  }
}

/** Every record file's path. */
export function recordPaths(): string[] {
  if (!existsSync(RECORD_DIR)) return [];
  return readdirSync(RECORD_DIR)
    .filter((f) => /^net-\d+\.json$/.test(f))
    .map((f) => join(RECORD_DIR, f));
}

/** Field 22 of /proc/PID/stat (start time in clock ticks), or null when there is no such process. */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the owner of `record` is still the process that made it. */
export function ownerAlive(record: Pick<BedRecord, 'owner' | 'ownerStart'>): boolean {
  const start = processStart(record.owner);
  return start !== null && (record.ownerStart === null || start === record.ownerStart);
}

/** Runs `ip ARGS…`; returns stdout, or null when it failed (and `tolerate` says that is fine). */
export function ip(args: readonly string[], options: { input?: string; tolerate?: boolean } = {}): string | null {
  try {
    return execFileSync(IP, args, { input: options.input ?? '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (error) {
    if (options.tolerate) return null;
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`ip ${args.join(' ')}: ${stderr || (error as Error).message}`, { cause: error });
  }
}

/** iproute2's `ip`, found once (tests run with a PATH that may lack /usr/sbin). */
export const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p)) ?? 'ip';

const sleepSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/** The inode of a network namespace handle, to tell whether a pid still lives in it. */
function nsInode(path: string): number | null {
  try {
    return statSync(path).ino;
  } catch {
    return null;
  }
}

/** Pids living in namespace `ns` now: the recorded ones that are in it, and whatever `ip netns pids` finds. */
function pidsIn(ns: string, recorded: readonly number[]): number[] {
  const inode = nsInode(`/run/netns/${ns}`);
  if (inode === null) return [];
  const found = new Set<number>();
  // A recorded pid counts only while it is in this namespace: a pid reused by another process is left alone.
  for (const pid of recorded) if (nsInode(`/proc/${pid}/ns/net`) === inode) found.add(pid);
  for (const word of (ip(['netns', 'pids', ns], { tolerate: true }) ?? '').split(/\s+/)) if (/^\d+$/.test(word)) found.add(Number(word));
  return [...found];
}

/** Whether `pid` runs the reaper script (its pid may have been reused since it was recorded). */
function isReaper(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(REAPER_MARK);
  } catch {
    return false;
  }
}

/** What the reaper prints once it watches the owner. */
export const REAPER_READY_LINE = 'reaper watching';

/** A word on the reaper's command line (its script's name), by which a recorded reaper pid is recognised. */
export const REAPER_MARK = 'netns/reaper';

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

/**
 * Undoes a bed: SIGKILLs its processes (recorded pids, then anything else in its namespaces), waits
 * until they are gone, deletes the namespaces, the veths (a namespace is freed lazily, and its veth
 * with it: deleting the root end is what makes the link go at once) and the bridge, then the record.
 * Every step tolerates what is already gone, so it is safe to run twice and from two processes.
 */
export function teardownRecord(record: BedRecord, options: { keepReaper?: boolean } = {}): void {
  const deadline = Date.now() + KILL_WAIT_MS;
  for (;;) {
    const pids = record.hosts.flatMap((h) => pidsIn(h.ns, record.pids));
    if (pids.length === 0 || Date.now() > deadline) break;
    // SIGKILL ends a stopped (SIGSTOPped) process too; a killed one leaves its namespace when it is gone.
    for (const pid of pids) kill(pid, 'SIGKILL');
    sleepSync(KILL_POLL_MS);
  }
  for (const h of record.hosts) ip(['netns', 'delete', h.ns], { tolerate: true });
  for (const h of record.hosts) ip(['link', 'delete', h.veth], { tolerate: true });
  ip(['link', 'delete', record.bridge], { tolerate: true });
  if (!options.keepReaper && record.reaper !== null && record.reaper !== process.pid && isReaper(record.reaper)) kill(record.reaper, 'SIGKILL');
  try {
    unlinkSync(recordPath(record.subnet));
  } catch {
    // removed already (a second teardown, or the reaper beat us to it)
  }
}
