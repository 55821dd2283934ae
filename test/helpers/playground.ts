/**
 * The playground runner (`pnpm start` execs scripts/local-cluster.ts) started as a user starts it, as
 * a child process on free ports with its control API on `controlPort`, so a test never clashes with a
 * developer's own `pnpm start`. Its `GET /status` answer is the runner's own type.
 */
import { spawnProcess, type ServiceProcess } from '../../harness/service-process.js';
import { REPO_ROOT } from '../../harness/services.js';

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

/** Whether no process has `pid` any more. */
export function pidGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
