/** The worker's drain in process: readiness turns false at once, clients get 1012, metrics say draining. */
import socketClusterClient from 'socketcluster-client';
import { describe, expect, it } from 'vitest';
import { createLogger, readWorkerConfig } from '@scc-ts/shared';
import { SHUTDOWN_CLOSE_CODE, startWorkerServer } from '../src/worker-server.js';

describe('worker drain (standalone, in process)', () => {
  it('reports draining on /ready and scc_draining, closes clients with 1012, and stops serving', async () => {
    const config = readWorkerConfig({ SOCKETCLUSTER_PORT: '0', SOCKETCLUSTER_LOG_LEVEL: '0', SCC_LOG_FORMAT: 'json' }, false);
    const worker = await startWorkerServer(config, createLogger({ name: 'scc-worker', level: 0, format: 'json' }));
    const client = socketClusterClient.create({ hostname: '127.0.0.1', port: worker.port, autoReconnect: false });
    await client.listener('connect').once(5000);
    const metrics = await (await fetch(`http://127.0.0.1:${worker.port}/metrics`)).text();
    expect(metrics).toMatch(/^scc_worker_client_connections 1$/m);
    expect(metrics).toMatch(/^scc_draining 0$/m);
    expect(worker.readiness()).toEqual({ ready: true });

    const disconnected = client.listener('disconnect').once(5000) as Promise<{ code: number; reason: string }>;
    const closing = worker.close();
    expect(worker.draining).toBe(true);
    expect(worker.readiness()).toEqual({ ready: false, detail: 'draining' });
    expect(await worker.metrics.registry.getSingleMetricAsString('scc_draining')).toMatch(/^scc_draining 1$/m);
    expect(await worker.metrics.registry.getSingleMetricAsString('scc_worker_ready')).toMatch(/^scc_worker_ready 0$/m);
    expect(await disconnected).toEqual({ code: SHUTDOWN_CLOSE_CODE, reason: 'scc-worker shutting down' });
    expect(SHUTDOWN_CLOSE_CODE).toBe(1012);
    await closing;
    await expect(fetch(`http://127.0.0.1:${worker.port}/health-check`)).rejects.toThrow();
    expect(worker.close()).toBe(closing);
    client.closeAllListeners();
  });
});
