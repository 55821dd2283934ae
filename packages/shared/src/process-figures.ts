/** The figures of the running process that every `sccStats` report carries (payloads.ts). */
import type { StatsReport } from './payloads.js';

/** This process's uptime (ms), CPU time used (µs) and resident set size (bytes), read now. */
export function processFigures(): Pick<StatsReport, 'uptimeMs' | 'cpuMicros' | 'rssBytes'> {
  const cpu = process.cpuUsage();
  return { uptimeMs: Math.round(process.uptime() * 1000), cpuMicros: cpu.user + cpu.system, rssBytes: process.memoryUsage.rss() };
}
