/**
 * scc-worker: the front-facing HTTP server with socketcluster-server for browsers and apps, the demo
 * page at `/`, and, when a state server is configured, the cluster plugin.
 */
import { readFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import socketClusterServer from 'socketcluster-server';
import {
  enforceLimits,
  hardenServer,
  limitServerOptions,
  handleHealthRequest,
  listen,
  logServerEvents,
  notFound,
  type AGServer,
  type Logger,
  type Readiness,
  type WorkerConfig,
} from '@scc-ts/shared';
import { attach, type ClusterClient } from './cluster/index.js';


export interface WorkerServer {
  readonly port: number;
  readonly agServer: AGServer;
  /** The cluster plugin; null in standalone mode. */
  readonly cluster: ClusterClient | null;
  readiness(): Readiness;
  close(): Promise<void>;
}

/** Close code sent to clients when the worker shuts down: 1001 "going away", which clients reconnect after. */
export const SHUTDOWN_CLOSE_CODE = 1001;

/** The package's `public/` folder, found from both `src/` (tests) and `dist/src/` (built). */
function publicDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'public', 'index.html'))) return join(dir, 'public');
    dir = dirname(dir);
  }
  throw new Error('scc-worker: public/index.html not found');
}

/** Static files the demo needs, read once at start. */
function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const require = createRequire(import.meta.url);
  const clientBundle = require.resolve('socketcluster-client/socketcluster-client.min.js');
  return new Map([
    ['/', { type: 'text/html; charset=utf-8', body: readFileSync(join(publicDir(), 'index.html')) }],
    ['/socketcluster-client.min.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(clientBundle) }],
  ]);
}

/** Starts a worker; in cluster mode it joins the state server in the background. */
export async function startWorkerServer(config: Readonly<WorkerConfig>, logger: Logger): Promise<WorkerServer> {
  const assets = loadAssets();
  let cluster: ClusterClient | null = null;
  const readiness = (): Readiness => (cluster ? cluster.readiness() : { ready: true });

  const httpServer: Server = createServer((req, res) => {
    if (handleHealthRequest(req, res, readiness)) return;
    const asset = req.method === 'GET' || req.method === 'HEAD' ? assets.get((req.url ?? '/').split('?', 1)[0] ?? '/') : undefined;
    if (!asset) return notFound(res);
    res.writeHead(200, { 'Content-Type': asset.type, 'Content-Length': asset.body.length, 'Cache-Control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  });
  const agServer: AGServer = socketClusterServer.attach(httpServer, { ...limitServerOptions(config.limits), ...(config.socketClusterOptions ?? {}) });
  enforceLimits(agServer, config.limits, logger);
  hardenServer(agServer);

  logServerEvents(agServer, logger);

  const port = await listen(httpServer, config.port);

  if (config.cluster) {
    const c = config.cluster;
    cluster = attach(agServer, {
      stateServerHost: c.stateServerHost,
      stateServerPort: c.stateServerPort,
      authKey: config.authKey,
      instanceIp: c.instanceIp,
      instanceIpFamily: c.instanceIpFamily,
      instancePort: port,
      mappingEngine: c.mappingEngine,
      clientPoolSize: c.clientPoolSize,
      pubSubBatchDuration: c.pubSubBatchDurationMs,
      brokerRetryDelay: c.brokerRetryDelayMs,
      stateServerConnectTimeout: c.stateServerConnectTimeoutMs,
      stateServerAckTimeout: c.stateServerAckTimeoutMs,
      stateServerReconnectRandomness: c.stateServerReconnectRandomnessMs,
      logger,
    });
  }

  let closing: Promise<void> | undefined;
  return {
    port,
    agServer,
    cluster,
    readiness,
    close() {
      closing ??= (async () => {
        // Stop accepting first, then tell clients to go elsewhere, then leave the cluster.
        const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        for (const socket of Object.values(agServer.clients)) void socket.disconnect(SHUTDOWN_CLOSE_CODE, 'scc-worker shutting down');
        await cluster?.close();
        agServer.close();
        agServer.closeAllListeners();
        httpServer.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}
