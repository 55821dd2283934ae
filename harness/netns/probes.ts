/**
 * TCP reachability on the test bed, through probe.mjs: a listener on a host, and one connect()
 * from a host (or from the root namespace, where the test process lives) to an address.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnProcess, type ServiceProcess } from '../service-process.js';
import type { TestBed } from './testbed.js';

const PROBE_SCRIPT = fileURLToPath(new URL('./probe.mjs', import.meta.url));
/** A connect on the bridge takes well under a millisecond; this long without an answer is a drop, ms. */
export const DEFAULT_PROBE_TIMEOUT_MS = 1000;
/** Bound on a probe process's start and report, beyond its connect timeout, ms. */
const PROBE_START_MS = 10_000;

/** What one connect() got: `connected`, `timeout` (dropped silently) or an error code (EINVAL: a local blackhole route). */
export type ProbeResult = 'connected' | 'timeout' | string;

/** Starts a listener on `host`:`port` that accepts and closes each connection; resolves once it listens. */
export async function listenProbe(bed: TestBed, host: string, port: number): Promise<ServiceProcess> {
  const proc = bed.run(host, { name: `probe ${host}:${port}`, args: [PROBE_SCRIPT, 'listen', String(port)], cwd: dirname(PROBE_SCRIPT), env: {} });
  await proc.waitForEvent('listening', { port }, PROBE_START_MS);
  return proc;
}

/** One TCP connect from `from` (a host, or `'root'` for the root namespace) to `to` (a host name) on `port`. */
export async function probe(bed: TestBed, from: string, to: string, port: number, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  const options = { name: `probe ${from}→${to}`, args: [PROBE_SCRIPT, 'connect', bed.address(to), String(port), String(timeoutMs)], cwd: dirname(PROBE_SCRIPT), env: {} };
  const proc = from === 'root' ? spawnProcess(options) : bed.run(from, options);
  const line = await proc.waitForEvent('probe', {}, timeoutMs + PROBE_START_MS);
  await proc.exited;
  return String(line['result']);
}
