/**
 * A real etcd for tests and chaos runs (Debian's `etcd-server`, installed by .ci/run when missing):
 * one member on free loopback ports with its data in a temporary folder, started and stopped by pid
 * through the harness's process registry, so stopAll() reaps it with the services. Paused with
 * SIGSTOP to make the store unavailable without losing its data.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './ports.js';
import { spawnProcess, type ServiceProcess } from './service-process.js';

/** Where Debian's etcd-server puts the binary. */
export const ETCD_BINARY = process.env['ETCD_BINARY'] ?? '/usr/bin/etcd';

/** etcd is not installed here: the message says how to install it. */
export class EtcdUnavailableError extends Error {
  override readonly name = 'EtcdUnavailableError';
}

export interface Etcd {
  /** `http://127.0.0.1:PORT`. */
  readonly endpoint: string;
  readonly process: ServiceProcess;
  /** Makes the store unavailable (SIGSTOP): requests hang until resume(). */
  pause(): void;
  resume(): void;
  /** Stops the process (SIGTERM) but keeps its data: requests are refused until restart(). */
  halt(): Promise<void>;
  /** Starts it again on the same ports and data (after halt()). */
  restart(): Promise<void>;
  /** Stops it (SIGTERM, then SIGKILL) and removes its data. */
  stop(): Promise<void>;
}

/** Starts a single-member etcd; resolves once it answers /health. */
export async function startEtcd(options: { name?: string; timeoutMs?: number } = {}): Promise<Etcd> {
  if (!existsSync(ETCD_BINARY)) throw new EtcdUnavailableError(`etcd not available at ${ETCD_BINARY}: install Debian's etcd-server (apt-get install etcd-server), or set ETCD_BINARY`);
  const [clientPort, peerPort] = await freePorts(2);
  const dataDir = mkdtempSync(join(tmpdir(), 'scc-etcd-'));
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const spawnEtcd = (): ServiceProcess => spawnProcess({
    name: options.name ?? 'etcd',
    command: ETCD_BINARY,
    args: [
      '--name', 'scc-test',
      '--data-dir', dataDir,
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `scc-test=http://127.0.0.1:${peerPort}`,
      '--log-level', 'warn',
    ],
    cwd: dataDir,
    env: {},
  });
  const timeoutMs = options.timeoutMs ?? 15_000;
  const healthy = async (child: ServiceProcess): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!child.alive) throw new Error(`etcd exited at start: ${child.tail(5)}`);
      const ok = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(500) })
        .then(async (r) => r.ok && ((await r.json()) as { health?: string }).health === 'true')
        .catch(() => false);
      if (ok) return;
      if (Date.now() > deadline) {
        await child.stop('SIGKILL');
        throw new Error(`etcd did not become healthy within ${timeoutMs} ms: ${child.tail(5)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  let child = spawnEtcd();
  await healthy(child);
  let stopped = false;
  return {
    endpoint,
    get process() {
      return child;
    },
    pause: () => process.kill(child.pid, 'SIGSTOP'),
    resume: () => process.kill(child.pid, 'SIGCONT'),
    async halt() {
      await child.stop('SIGTERM');
    },
    async restart() {
      child = spawnEtcd();
      await healthy(child);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.alive) {
        try {
          process.kill(child.pid, 'SIGCONT');
        } catch {
          // Already gone.
        }
        await child.stop('SIGTERM');
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
