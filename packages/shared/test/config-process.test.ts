/**
 * The compiled services (`node server`) stop at start with one line naming a bad variable. These
 * spawn the built entry points: run `npx tsc -b` first when `packages/*\/dist` is missing.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

type Service = 'scc-state' | 'scc-broker' | 'scc-worker';

const packagesDir = fileURLToPath(new URL('../../', import.meta.url));
const cwdOf = (service: Service) => `${packagesDir}${service}`;

/** Longest a service may take to exit on a bad configuration. */
const EXIT_TIMEOUT_MS = 10_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** The test process's env without any SCC setting, so only the variables given here apply. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('SCC_') || key.startsWith('SOCKETCLUSTER_') || key === 'FORWARDED_FOR_HEADER' || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

function runService(service: Service, env: Record<string, string>): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['server'], { cwd: cwdOf(service), env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }, EXIT_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Asserts a non-zero exit with exactly one stderr line that names every `[variable, value]`. */
function expectOneLineRefusal(exit: Exit, service: Service, named: ReadonlyArray<readonly [string, string | null]>): void {
  expect(exit.timedOut, `${service} did not exit within ${EXIT_TIMEOUT_MS} ms; stderr: ${exit.stderr}`).toBe(false);
  expect(exit.code).not.toBeNull();
  expect(exit.code).not.toBe(0);
  expect(exit.stderr.endsWith('\n'), JSON.stringify(exit.stderr)).toBe(true);
  const lines = exit.stderr.replace(/\n$/, '').split('\n');
  expect(lines, JSON.stringify(exit.stderr)).toHaveLength(1);
  const line = lines[0] ?? '';
  expect(line).toContain(service);
  for (const [name, value] of named) {
    expect(line).toContain(name);
    if (value !== null) expect(line).toContain(value);
  }
}

describe('services refuse a bad environment at start', () => {
  beforeAll(() => {
    for (const service of ['scc-state', 'scc-broker', 'scc-worker'] as const) {
      const entry = `${cwdOf(service)}/dist/server.js`;
      if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npx tsc -b\` in the repository root first`);
    }
  });

  it.concurrent('scc-state: SCC_STATE_SERVER_PORT=abc', async () => {
    const exit = await runService('scc-state', { SCC_STATE_SERVER_PORT: 'abc' });
    expectOneLineRefusal(exit, 'scc-state', [['SCC_STATE_SERVER_PORT', 'abc']]);
  });

  it.concurrent('scc-state: SCC_STATE_SERVER_RETRY_DELAY=0', async () => {
    const exit = await runService('scc-state', { SCC_STATE_SERVER_PORT: '0', SCC_STATE_SERVER_RETRY_DELAY: '0' });
    expectOneLineRefusal(exit, 'scc-state', [['SCC_STATE_SERVER_RETRY_DELAY', '0']]);
  });

  it.concurrent('scc-state: etcd and a Kubernetes Lease both configured', async () => {
    const exit = await runService('scc-state', { SCC_STATE_SERVER_PORT: '0', SCC_STATE_SERVER_ETCD_ENDPOINTS: 'http://127.0.0.1:2379', SCC_STATE_SERVER_KUBERNETES_LEASE: 'scc-state' });
    expectOneLineRefusal(exit, 'scc-state', [['SCC_STATE_SERVER_ETCD_ENDPOINTS', null], ['SCC_STATE_SERVER_KUBERNETES_LEASE', null]]);
  });

  it.concurrent('scc-broker: without SCC_STATE_SERVER_HOST', async () => {
    const exit = await runService('scc-broker', { SCC_BROKER_SERVER_PORT: '0' });
    expectOneLineRefusal(exit, 'scc-broker', [['SCC_STATE_SERVER_HOST', null]]);
  });

  it.concurrent('scc-broker: SCC_BROKER_SERVER_SECURE=maybe', async () => {
    const exit = await runService('scc-broker', {
      SCC_STATE_SERVER_HOST: '127.0.0.1',
      SCC_BROKER_SERVER_PORT: '0',
      SCC_BROKER_SERVER_SECURE: 'maybe',
    });
    expectOneLineRefusal(exit, 'scc-broker', [['SCC_BROKER_SERVER_SECURE', 'maybe']]);
  });

  it.concurrent('scc-worker: SOCKETCLUSTER_PORT=99999', async () => {
    const exit = await runService('scc-worker', { SOCKETCLUSTER_PORT: '99999' });
    expectOneLineRefusal(exit, 'scc-worker', [['SOCKETCLUSTER_PORT', '99999']]);
  });

  it.concurrent('scc-worker: two bad variables in standalone mode, one line', async () => {
    const exit = await runService('scc-worker', { SOCKETCLUSTER_PORT: '-1', SCC_CLIENT_POOL_SIZE: 'abc' });
    expectOneLineRefusal(exit, 'scc-worker', [
      ['SOCKETCLUSTER_PORT', '-1'],
      ['SCC_CLIENT_POOL_SIZE', 'abc'],
    ]);
  });

  it.concurrent('scc-worker: SOCKETCLUSTER_OPTIONS that is not JSON', async () => {
    const exit = await runService('scc-worker', { SOCKETCLUSTER_PORT: '0', SOCKETCLUSTER_OPTIONS: '{oops' });
    expectOneLineRefusal(exit, 'scc-worker', [['SOCKETCLUSTER_OPTIONS', '{oops']]);
  });
});
