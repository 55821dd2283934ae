/**
 * The SIGTERM exit a pod's rollout waits on, with peers that cannot answer the close frame (their
 * process stopped with SIGSTOP, as a dead host or a blocked event loop would be): the service must
 * still exit with code 0 within STOP_LIMIT_MS, not wait for ws's 30 s close timeout and overrun its
 * shutdown timeout (exit 1). The docker image check (docker-image.test.ts) does the same in containers.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { STOP_LIMIT_MS } from '../../harness/image/check.js';
import { FrozenClients } from '../../harness/image/frozen-clients.js';
import { startState, startWorker, stopAll, waitForMembers } from '../helpers/processes.js';

/** Frozen clients on the worker: more than one, so the close cannot hinge on a single socket. */
const FROZEN = 5;
/** Bound on the frozen clients connecting, ms. */
const CONNECT_TIMEOUT_MS = 10_000;

let frozen: FrozenClients | undefined;

afterAll(async () => {
  frozen?.close();
  await stopAll();
});

describe('SIGTERM with peers that cannot answer', () => {
  it(`a worker with frozen clients exits 0 within ${STOP_LIMIT_MS} ms`, async () => {
    const worker = await startWorker(null);
    frozen = new FrozenClients([worker.port], FROZEN);
    await frozen.connected(worker.port, CONNECT_TIMEOUT_MS);
    frozen.freeze();
    const startedAt = performance.now();
    // SIGKILL only well past the limit, so a hang shows as a slow exit rather than a kill.
    const exit = await worker.stop('SIGTERM', 4 * STOP_LIMIT_MS);
    const ms = performance.now() - startedAt;
    frozen.thaw();
    expect(exit, worker.tail()).toEqual({ code: 0, signal: null });
    expect(ms).toBeLessThan(STOP_LIMIT_MS);
  }, 60_000);

  it(`the state server exits 0 within ${STOP_LIMIT_MS} ms while a joined worker is frozen`, async () => {
    const state = await startState();
    const worker = await startWorker(state.port);
    // Joined: the worker holds an open SocketCluster socket to the state server.
    await waitForMembers(state.port, { workerCount: 1 });
    process.kill(worker.pid, 'SIGSTOP');
    try {
      const startedAt = performance.now();
      const exit = await state.stop('SIGTERM', 4 * STOP_LIMIT_MS);
      const ms = performance.now() - startedAt;
      expect(exit, state.tail()).toEqual({ code: 0, signal: null });
      expect(ms).toBeLessThan(STOP_LIMIT_MS);
    } finally {
      process.kill(worker.pid, 'SIGCONT');
    }
  }, 60_000);
});
