/** The parent side of bench/loadgen.ts: forks it (with tsx) and awaits its IPC replies. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, ParentMessage } from '../loadgen.js';

const LOADGEN = fileURLToPath(new URL('../loadgen.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export class LoadGenerator {
  private readonly child: ChildProcess;
  private readonly inbox: ChildMessage[] = [];
  private wake: (() => void) | undefined;
  private exited = false;

  constructor() {
    this.child = fork(LOADGEN, [], { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (message: ChildMessage) => {
      this.inbox.push(message);
      this.wake?.();
    });
    this.child.once('exit', () => {
      this.exited = true;
      this.wake?.();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  send(message: ParentMessage): void {
    this.child.send(message);
  }

  /** Takes a message of `type` already received, if any (an error report throws), without waiting. */
  take<T extends ChildMessage['type']>(type: T): Extract<ChildMessage, { type: T }> | undefined {
    const error = this.inbox.find((m) => m.type === 'error');
    if (error?.type === 'error') throw new Error(`load generator: ${error.message}`);
    const at = this.inbox.findIndex((m) => m.type === type);
    return at < 0 ? undefined : (this.inbox.splice(at, 1)[0] as Extract<ChildMessage, { type: T }>);
  }

  /**
   * Resolves with the next message of `type` (others stay in the inbox for a later wait); rejects on
   * an error report, an exit or the timeout.
   */
  async next<T extends ChildMessage['type']>(type: T, timeoutMs: number): Promise<Extract<ChildMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = this.take(type);
      if (message) return message;
      if (this.exited) throw new Error(`load generator exited while waiting for '${type}'`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`load generator: no '${type}' within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Stops the generator (its sockets close with it); safe to call twice. */
  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await gone;
  }
}
