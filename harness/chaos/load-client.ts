/** The orchestrator's handle on the load generator process (load.ts), over an IPC channel. */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChaosLog } from './checker.js';
import type { LoadInit, LoadStatus } from './load.js';

const SCRIPT = fileURLToPath(new URL('./load.ts', import.meta.url));
/** The repository root, where `--import tsx` resolves. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Bound on any one request but `stop` (whose drain has its own bound), ms. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Bound on `stop`: outstanding acks, the generator's drain wait and its late window, ms. */
const STOP_TIMEOUT_MS = 60_000;

interface Reply {
  id: number;
  ok: boolean;
  error?: string;
  status?: LoadStatus;
}

export class LoadClient {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, (reply: Reply) => void>();
  private readonly exited: Promise<void>;
  private nextId = 1;
  private readonly dir = mkdtempSync(join(tmpdir(), 'scc-chaos-'));

  private constructor() {
    // tsx runs the TypeScript source directly; the generator gets its own event loop and CPU time.
    this.child = fork(SCRIPT, [], { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (raw) => {
      const reply = raw as Reply;
      this.pending.get(reply.id)?.(reply);
      this.pending.delete(reply.id);
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    void this.exited.then(() => {
      for (const [id, resolve] of this.pending) resolve({ id, ok: false, error: 'load generator exited' });
      this.pending.clear();
    });
  }

  /** Forks the generator process; call `init` once the workers are up (forking early hides tsx's start-up time). */
  static spawn(): LoadClient {
    return new LoadClient();
  }

  /** Connects to the workers, subscribes every channel on every worker and primes them. */
  async init(init: LoadInit): Promise<void> {
    await this.request({ cmd: 'init', init }, init.setupTimeoutMs + 5000);
  }

  private request(body: Record<string, unknown>, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`load generator: no reply to ${String(body['cmd'])} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, (reply) => {
        clearTimeout(timer);
        if (reply.ok) resolve(reply);
        else reject(new Error(`load generator: ${String(body['cmd'])} failed: ${reply.error ?? '?'}`));
      });
      if (!this.child.connected) {
        this.pending.get(id)?.({ id, ok: false, error: 'not connected' });
        return;
      }
      this.child.send({ id, ...body });
    });
  }

  /** Starts paced publishing. */
  async startLoad(): Promise<void> {
    await this.request({ cmd: 'start' });
  }

  async status(): Promise<LoadStatus> {
    return (await this.request({ cmd: 'status' })).status!;
  }

  /** Stops publishing, lets the generator drain, and returns its log. */
  async stop(): Promise<ChaosLog> {
    const path = join(this.dir, 'log.json');
    await this.request({ cmd: 'stop', path }, STOP_TIMEOUT_MS);
    return JSON.parse(readFileSync(path, 'utf8')) as ChaosLog;
  }

  /** Disconnects the generator's sockets and waits for the process to end (killed by pid if it hangs). Idempotent. */
  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await this.request({ cmd: 'close' }, 5000).catch(() => undefined);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
