/**
 * Per-process resource figures read from /proc (Linux only): CPU seconds (utime + stime) and
 * resident memory (VmRSS now, VmHWM the peak since the process started).
 */
import { readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_S = 100; // USER_HZ; 100 on every Linux the bench targets

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after the last ')' are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After ')': field 3 is index 0, so utime (14) and stime (15) are indexes 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

/**
 * Seconds the process's main thread has waited on a run queue for a CPU so far (/proc/<pid>/schedstat,
 * field 2, ns): on a shared machine a process can be starved rather than idle, which CPU time alone
 * does not show.
 */
export function runQueueWaitSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/);
  return Number(fields[1]) / 1e9;
}

/** Resident memory now and at its peak, in KiB. */
export function memoryKiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** This process's soft limit on open files (children inherit it), or Infinity when unlimited/unknown. */
export function openFileLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
  return soft === undefined || soft === 'unlimited' ? Infinity : Number(soft);
}
