/**
 * One child process of the harness: spawned with an explicit environment, its stdout read as JSON
 * log lines (pino, or our original-worker script), its stderr kept, stopped by pid. Every process
 * spawned here is registered until it exits, so `stopAll()` (a test's afterAll, a bench's finally)
 * ends whatever is still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { Waiters } from './waiters.js';

/** One parsed log line; a line that is not JSON becomes `{ level: 30, msg: line }`. */
export interface LogLine {
  level: number;
  msg: string;
  /** A stable event name (LogEvent in @scc-ts/shared) on the lines launchers wait on. */
  event?: string;
  [key: string]: unknown;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Default bound on a wait for a log line, ms. */
export const DEFAULT_WAIT_TIMEOUT_MS = 10_000;
/** Default time a process gets after SIGTERM before SIGKILL, ms. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

const running = new Set<ServiceProcess>();

/** A predicate on one log line, with a description for the timeout error. */
export interface LineMatcher {
  test(line: LogLine): boolean;
  describe: string;
}

export class ServiceProcess {
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<ExitStatus>;
  private readonly waiters = new Waiters();
  /** The HTTP port the service listens on (set by the launcher once known). */
  port = 0;
  /** The address it is reached at: 127.0.0.1, or its host's address on the network test bed. */
  host = '127.0.0.1';

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    onLine?: (stream: 'stdout' | 'stderr', line: string) => void,
  ) {
    running.add(this);
    // A failed spawn (no such command) emits 'error' instead of crashing the launcher.
    child.once('error', (error) => {
      this.stderr.push(`spawn error: ${error.message}`);
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        running.delete(this);
        resolve({ code, signal });
        this.notify();
      });
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      onLine?.('stdout', line);
      this.logs.push(parseLine(line));
      this.notify();
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      onLine?.('stderr', line);
      this.stderr.push(line);
      this.notify();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The log position now: pass it as `from` to wait for something that happens after this point. */
  mark(): number {
    return this.logs.length;
  }

  private notify(): void {
    this.waiters.notify();
  }

  /** Resolves with the first log line at index ≥ `from` (past or future) that `matcher` accepts. */
  async waitFor(matcher: LineMatcher, timeoutMs = DEFAULT_WAIT_TIMEOUT_MS, from = 0): Promise<LogLine> {
    let scanned = from;
    let found: LogLine | undefined;
    // Settled when a line matches or the process has exited (then no line can come any more).
    const settled = (): boolean => {
      for (; scanned < this.logs.length; scanned++) {
        const line = this.logs[scanned]!;
        if (matcher.test(line)) {
          found = line;
          return true;
        }
      }
      return !this.alive;
    };
    if (!(await this.waiters.until(settled, timeoutMs))) {
      throw new Error(`${this.name}: no log line with ${matcher.describe} within ${timeoutMs} ms; last lines:\n${this.tail(8)}`);
    }
    if (found) return found;
    throw new Error(`${this.name} exited while waiting for ${matcher.describe}; stderr: ${this.stderr.join('\n')}`);
  }

  /**
   * Waits for a line with `event` (a LogEvent name) whose other fields equal `fields`, e.g.
   * `waitForEvent(LogEvent.BrokerList, { brokers: 3 })`.
   */
  waitForEvent(event: string, fields: Record<string, unknown> = {}, timeoutMs = DEFAULT_WAIT_TIMEOUT_MS, from = 0): Promise<LogLine> {
    const entries = Object.entries(fields);
    return this.waitFor(
      { test: (l) => l.event === event && entries.every(([k, v]) => l[k] === v), describe: `event ${JSON.stringify({ event, ...fields })}` },
      timeoutMs,
      from,
    );
  }

  /**
   * Waits for a message matching `pattern`. For asserting what a service says (a refusal, a drain
   * report); readiness is awaited on events or endpoints instead.
   */
  waitForLog(pattern: RegExp, timeoutMs = DEFAULT_WAIT_TIMEOUT_MS, from = 0): Promise<LogLine> {
    return this.waitFor({ test: (l) => pattern.test(l.msg), describe: `a message matching ${pattern}` }, timeoutMs, from);
  }

  /** The last `lines` messages and stderr lines, for an error report. */
  tail(lines = 5): string {
    return [...this.logs.slice(-lines).map((l) => l.msg), ...this.stderr.slice(-lines).map((l) => `stderr: ${l}`)].join('\n');
  }

  /** Writes every log line (as JSON) and stderr line to `file`, for a post-mortem. */
  writeLog(file: string): void {
    mkdirSync(dirname(file), { recursive: true });
    const lines = [...this.logs.map((l) => JSON.stringify(l)), ...this.stderr.map((l) => `stderr: ${l}`)];
    writeFileSync(file, `${lines.join('\n')}\n`);
  }

  /** Sends `signal` by pid unless the process has exited (it may exit between the check and the kill). */
  private signal(signal: NodeJS.Signals): void {
    if (!this.alive) return;
    try {
      process.kill(this.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  /** Sends `signal` by pid, SIGKILLs after `timeoutMs` if still alive, and resolves with the exit. Safe to call twice. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<ExitStatus> {
    this.signal(signal);
    const timer = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

function parseLine(line: string): LogLine {
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as LogLine).msg === 'string') return parsed as LogLine;
  } catch {
    // not JSON: kept as text below
  }
  return { level: 30, msg: line };
}

export interface SpawnOptions {
  name: string;
  /** The executable; default: this Node binary. */
  command?: string;
  /** Node flags before the script (e.g. `--cpu-prof`; Node refuses some of them in NODE_OPTIONS). */
  nodeArgs?: readonly string[];
  /**
   * The child's argv[0] (default: the command). Linux shows a process title in the space of the
   * original command line, so our services get their package name here: room for `scc-broker :PORT`.
   */
  argv0?: string;
  /** Script and its arguments (or the command's arguments). */
  args: readonly string[];
  cwd: string;
  /** The child's whole environment beyond PATH (nothing else is inherited unless `inheritEnv`). */
  env: Readonly<Record<string, string>>;
  /** Start from this process's environment (the local cluster passes the caller's SCC_* through). */
  inheritEnv?: boolean;
  /** Its own process group, so a terminal's Ctrl-C reaches only the launcher. */
  detached?: boolean;
  /** Sees every output line as it comes (the local cluster prints them prefixed). */
  onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
  /**
   * A command prefix the process runs under, e.g. `['ip', 'netns', 'exec', NS]` (harness/netns): it
   * must exec the command, so that the pid stays the service's own (pause, kill and stop go by pid).
   */
  wrap?: readonly string[];
}

/** Spawns a process with piped output and registers it for stopAll(). */
export function spawnProcess(options: SpawnOptions): ServiceProcess {
  const command = options.command ?? process.execPath;
  const args = options.command === undefined ? [...(options.nodeArgs ?? []), ...options.args] : [...options.args];
  const base: Record<string, string | undefined> = options.inheritEnv ? { ...process.env } : { PATH: process.env['PATH'] ?? '' };
  const [wrapper, ...prefix] = options.wrap ?? [];
  const child = spawn(wrapper ?? command, wrapper === undefined ? args : [...prefix, command, ...args], {
    cwd: options.cwd,
    env: { ...base, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
    ...(options.argv0 !== undefined && { argv0: options.argv0 }),
  });
  return new ServiceProcess(options.name, child, options.onLine);
}

/** Every process spawned by the harness that has not exited yet. */
export function runningProcesses(): ServiceProcess[] {
  return [...running];
}

/** SIGKILLs every process the harness started that is still running (a test checking clean exits stops its own first). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop('SIGKILL')));
}
