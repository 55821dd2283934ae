/**
 * How a bed is sure to go away: its owner tears it down on exit, on a crash (the 'exit' event
 * follows it) and on SIGINT/SIGTERM; a detached reaper process (reaper.ts) does it when the owner is
 * SIGKILLed. The teardown itself is record.ts's.
 */
import { spawn } from 'node:child_process';
import { REPO_ROOT } from '../services.js';
import { TestBedUnavailableError } from './errors.js';
import { REAPER_READY_LINE } from './record.js';

/** How long a bed's creation waits for its reaper to be watching, ms (tsx compiles it first). */
const REAPER_START_TIMEOUT_MS = 15_000;
const REAPER_SCRIPT = new URL('./reaper.ts', import.meta.url).pathname;

/** What the exit hooks tear down. */
interface Destroyable {
  destroy(): void;
}

const open = new Set<Destroyable>();
let hooksInstalled = false;

/** Tears `bed` down synchronously if this process exits or is signalled while it is open. */
export function tearDownOnExit(bed: Destroyable): void {
  open.add(bed);
  installExitHooks();
}

/** `bed` is torn down already: the hooks leave it alone. */
export function keepOnExit(bed: Destroyable): void {
  open.delete(bed);
}

/**
 * Spawns the reaper of the record at `recordPath` in its own session (a terminal's Ctrl-C or a test
 * runner ending its workers' group does not reach it), hands its pid to `onPid` at once, and
 * resolves once it watches the owner.
 */
export async function spawnReaper(recordPath: string, onPid: (pid: number | null) => void): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', REAPER_SCRIPT, recordPath], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onPid(child.pid ?? null);
  let output = '';
  const watching = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), REAPER_START_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes(REAPER_READY_LINE)) {
        clearTimeout(timer);
        resolve(true);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  // Its pipes go: it writes nothing after the ready line, and it must not hold this process open.
  child.stdout!.destroy();
  child.stderr!.destroy();
  child.unref();
  if (!watching) throw new TestBedUnavailableError(`the test bed's reaper did not start within ${REAPER_START_TIMEOUT_MS} ms: ${output.trim() || 'no output'}`);
}

/** Every open bed is torn down on exit, on a crash (the 'exit' event follows it) and on SIGINT/SIGTERM. */
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const bed of [...open]) bed.destroy();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      for (const bed of [...open]) bed.destroy();
      // Alone on this signal we would have replaced its default action (exit): restore it.
      if (process.listenerCount(signal) === 1) {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}
