/**
 * SCC_HEALTH_PORT (issue 17): /health-check and /ready answered by a thread of their own. Real
 * services, real sockets: a worker whose main event loop is held for 1.5 s (a test-only preload,
 * helpers/stall-on-signal.mjs, turns SIGUSR2 into a busy wait) still answers on its health port during
 * the stall, says busy on /ready there while held and ready again after, while its main port answers only
 * once the loop is free; the three services serve the same readiness on both ports; bad values stop
 * a service at start with one line.
 */
import http from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { HEALTH_CHECK_PATH, LogEvent, READY_PATH } from '@scc-ts/shared';
import { startBroker, startState, startWorker } from '../../harness/services.js';
import { spawnService, stopAll, waitReady, type ServiceProcess } from '../helpers/processes.js';

const STALL_PRELOAD = fileURLToPath(new URL('../helpers/stall-on-signal.mjs', import.meta.url));
const STALL_MS = 1_500;
/**
 * What each health-port answer must come within during the 1,500 ms stall, ms: a third of it, so the
 * answers came from the thread while the main loop was held. How fast they are (issue 17: < 100 ms)
 * is measured by the bench's huge workload, not here: a loaded CI core once took 143 ms for one.
 */
const HEALTH_BOUND_MS = 500;
/** Probe period during the stall, ms. */
const PROBE_EVERY_MS = 50;

afterAll(stopAll);

interface Answer {
  status: number;
  body: string;
  ms: number;
}

/** One GET on a fresh connection, with its latency. */
function get(port: number, path: string, timeoutMs = 10_000): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
    });
    req.once('timeout', () => req.destroy(new Error(`GET :${port}${path} timed out`)));
    req.once('error', reject);
  });
}

/** The health port a service wrote in its listening line. */
async function healthPortOf(service: ServiceProcess): Promise<number> {
  const line = await service.waitForEvent(LogEvent.Listening);
  expect(line['healthPort'], `${service.name} healthPort`).toEqual(expect.any(Number));
  return Number(line['healthPort']);
}

/** A port something else holds, and a function to let it go. */
async function heldPort(): Promise<{ port: number; release: () => void }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { port: typeof address === 'object' && address !== null ? address.port : 0, release: () => server.close() };
}

describe('SCC_HEALTH_PORT', () => {
  it('answers while the main event loop is held, says busy on /ready, and the main port waits', async () => {
    const worker = await startWorker(null, { name: 'worker-stall', env: { SCC_HEALTH_PORT: '0', SCC_TEST_STALL_MS: String(STALL_MS) }, nodeArgs: ['--import', STALL_PRELOAD] });
    const healthPort = await healthPortOf(worker);
    expect(healthPort).not.toBe(worker.port);
    // Same bodies and codes as the main port while idle; nothing else is served there.
    for (const path of [HEALTH_CHECK_PATH, READY_PATH]) {
      const [main, health] = [await get(worker.port, path), await get(healthPort, path)];
      expect({ status: health.status, body: health.body }, path).toEqual({ status: main.status, body: main.body });
    }
    expect((await get(healthPort, '/')).status).toBe(404);

    const from = worker.mark();
    worker.child.kill('SIGUSR2');
    await worker.waitForEvent('testStall', {}, 5_000, from);
    const stallStart = performance.now();
    const mainAnswer = get(worker.port, HEALTH_CHECK_PATH);
    const probes: Array<Answer & { path: string; at: number }> = [];
    // Past the stall's end by 700 ms, so the last probes see the loop free again; bounded by count too.
    for (let i = 0; i < 60 && performance.now() - stallStart < STALL_MS + 700; i++) {
      const at = performance.now() - stallStart;
      const [check, ready] = await Promise.all([get(healthPort, HEALTH_CHECK_PATH), get(healthPort, READY_PATH)]);
      probes.push({ ...check, path: HEALTH_CHECK_PATH, at }, { ...ready, path: READY_PATH, at });
      await new Promise((resolve) => setTimeout(resolve, PROBE_EVERY_MS));
    }
    const main = await mainAnswer;

    const slowest = Math.max(...probes.map((p) => p.ms));
    expect(slowest, 'slowest health-port answer, ms').toBeLessThan(HEALTH_BOUND_MS);
    expect(probes.filter((p) => p.path === HEALTH_CHECK_PATH).every((p) => p.status === 200 && p.body === 'OK')).toBe(true);
    const busy = probes.filter((p) => p.path === READY_PATH && p.status === 503);
    expect(busy.length, 'busy /ready answers').toBeGreaterThan(0);
    for (const b of busy) expect(JSON.parse(b.body)).toEqual({ ready: false, detail: expect.stringMatching(/^busy: event loop stalled for \d+ ms$/) });
    // Busy only once the heartbeat is a second old, and not after the stall.
    expect(Math.min(...busy.map((b) => b.at))).toBeGreaterThan(900);
    const last = probes.filter((p) => p.path === READY_PATH).at(-1)!;
    expect({ status: last.status, body: last.body }).toEqual({ status: 200, body: '{"ready":true}' });
    // The main port shares the held loop: its answer came only after the stall.
    expect(main.status).toBe(200);
    expect(main.ms, 'main-port latency, ms').toBeGreaterThan(STALL_MS - 300);

    // The thread does not keep the process alive: SIGTERM exits as without it.
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
  });

  it('serves each service\'s readiness on both ports', async () => {
    const state = await startState({ name: 'state-health', env: { SCC_HEALTH_PORT: '0' } });
    const broker = await startBroker(state.port, { name: 'broker-health', env: { SCC_HEALTH_PORT: '0' } });
    const worker = await startWorker(state.port, { name: 'worker-health', env: { SCC_HEALTH_PORT: '0' } });
    await waitReady(worker.port, 15_000, worker);
    for (const service of [state, broker, worker]) {
      const healthPort = await healthPortOf(service);
      for (const path of [HEALTH_CHECK_PATH, READY_PATH]) {
        const [main, health] = [await get(service.port, path), await get(healthPort, path)];
        expect({ status: health.status, body: health.body }, `${service.name} ${path}`).toEqual({ status: main.status, body: main.body });
        expect(health.status).toBe(200);
      }
    }
    for (const service of [worker, broker, state]) {
      service.child.kill('SIGTERM');
      expect((await service.exited).code, service.name).toBe(0);
    }
  });

  it('stops a service at start with one line naming a bad value or a port it cannot bind', async () => {
    const bad = spawnService('worker-bad-health', 'scc-worker', { SOCKETCLUSTER_PORT: '0', SCC_HEALTH_PORT: '65536' });
    expect((await bad.exited).code).toBe(1);
    expect(bad.stderr).toEqual(['scc-worker: ConfigError: SCC_HEALTH_PORT="65536": must be an integer from 0 to 65535']);

    const same = spawnService('broker-same-health', 'scc-broker', { SCC_STATE_SERVER_HOST: '127.0.0.1', SCC_BROKER_SERVER_PORT: '8888', SCC_HEALTH_PORT: '8888' });
    expect((await same.exited).code).toBe(1);
    expect(same.stderr).toEqual(['scc-broker: ConfigError: SCC_HEALTH_PORT=8888: must differ from SCC_BROKER_SERVER_PORT']);

    const held = await heldPort();
    try {
      const busy = spawnService('state-held-health', 'scc-state', { SCC_STATE_SERVER_PORT: '0', SCC_BIND_HOST: '127.0.0.1', SCC_HEALTH_PORT: String(held.port) });
      expect((await busy.exited).code).toBe(1);
      expect(busy.stderr).toHaveLength(1);
      expect(busy.stderr[0]).toMatch(new RegExp(`^scc-state: failed to start: HealthPortError: health port ${held.port}: listen EADDRINUSE`));
    } finally {
      held.release();
    }
  });
});
