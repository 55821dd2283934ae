/**
 * The playground runner (`pnpm start` execs scripts/local-cluster.ts) started as a user starts it, as
 * a child process on free ports with its control API on `controlPort`, so a test never clashes with a
 * developer's own `pnpm start`. Its `GET /status` answer is the runner's own type.
 */
import { freePort } from '../../harness/ports.js';
import { spawnProcess, type ServiceProcess } from '../../harness/service-process.js';
import { REPO_ROOT } from '../../harness/services.js';
import type { PlaygroundStatus } from '../../scripts/playground/playground.js';

export type { ChildStatus, PlaygroundStatus } from '../../scripts/playground/playground.js';

/** Starts the runner; `env` passes through to every service it starts. */
export function startPlayground(controlPort: number, env: Readonly<Record<string, string>> = {}, extraArgs: readonly string[] = []): ServiceProcess {
  return spawnProcess({
    name: 'playground',
    command: process.execPath,
    args: ['--import', 'tsx', 'scripts/local-cluster.ts', '--free-ports', '--control-port', String(controlPort), ...extraArgs],
    cwd: REPO_ROOT,
    env,
  });
}

/** Tries at starting the runner on a fresh free port before giving up. */
const START_ATTEMPTS = 3;
/** How long one try waits for the control API to answer, ms. */
const CONTROL_WAIT_MS = 30_000;

/**
 * Starts the runner with its control API on a free port, and returns once `GET /status` answers from it.
 * A port found free can be taken by another test's process before the runner binds it (the runner then
 * exits): that try is given up and the next one takes another port, at most START_ATTEMPTS in all.
 */
export async function startPlaygroundOnFreePort(env: Readonly<Record<string, string>> = {}, extraArgs: readonly string[] = []): Promise<{ playground: ServiceProcess; controlPort: number }> {
  const failures: string[] = [];
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const controlPort = await freePort();
    const playground = startPlayground(controlPort, env, extraArgs);
    const deadline = Date.now() + CONTROL_WAIT_MS;
    while (playground.alive && Date.now() < deadline) {
      const status = await fetch(`http://127.0.0.1:${controlPort}/status`)
        .then(async (res) => (res.ok ? ((await res.json()) as PlaygroundStatus) : undefined))
        .catch(() => undefined);
      // Only the runner's own answer counts (another process may hold the port), and only while it runs.
      if (status !== undefined && typeof status.phase === 'string' && playground.alive) return { playground, controlPort };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    failures.push(`try ${attempt} (control port ${controlPort}): ${playground.alive ? `no answer within ${CONTROL_WAIT_MS} ms` : 'exited'}: ${playground.tail(5)}`);
    if (playground.alive) await playground.stop();
  }
  throw new Error(`the playground's control API did not come up in ${START_ATTEMPTS} tries:\n${failures.join('\n')}`);
}

/** Whether no process has `pid` any more. */
export function pidGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
