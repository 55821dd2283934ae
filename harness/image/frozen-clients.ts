/** The TypeScript side of frozen-clients.mjs: start it, wait for its clients, freeze and thaw it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Waiters } from '../waiters.js';
import { ROOT } from './manifests.js';

/**
 * Clients in a child process (frozen-clients.mjs) that the check freezes with SIGSTOP while a worker
 * is stopped: a worker must not wait on peers that cannot answer its close frame.
 */
export class FrozenClients {
  private readonly open = new Map<number, number>();
  private readonly waiters = new Waiters();
  private readonly child: ChildProcess;
  private exited = false;

  constructor(ports: number[], private readonly perPort: number) {
    const script = fileURLToPath(new URL('./frozen-clients.mjs', import.meta.url));
    // From the repository root, where socketcluster-client resolves.
    this.child = spawn(process.execPath, [script, String(perPort), ...ports.map(String)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.once('exit', () => {
      this.exited = true;
      this.waiters.notify();
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const { port, open } = JSON.parse(line) as { port: number; open: number };
      this.open.set(port, open);
      this.waiters.notify();
    });
  }

  /** Waits until every client of `port` is connected. */
  async connected(port: number, timeoutMs: number): Promise<void> {
    if (!(await this.waiters.until(() => this.exited || (this.open.get(port) ?? 0) >= this.perPort, timeoutMs)) || this.exited) {
      throw new Error(`frozen-clients: ${this.open.get(port) ?? 0}/${this.perPort} connected to :${port} after ${timeoutMs} ms${this.exited ? ' (process exited)' : ''}`);
    }
  }

  freeze(): void {
    this.child.kill('SIGSTOP');
  }

  thaw(): void {
    this.child.kill('SIGCONT');
  }

  /** Ends the process (thawed first, so it can exit). Safe to call twice. */
  close(): void {
    if (this.exited) return;
    this.thaw();
    this.child.stdin!.end();
    this.child.kill('SIGTERM');
  }
}
