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
  ConfigError,
  SERVICE_RESTART_CLOSE_CODE,
  closedWithin,
  trackConnections,
  handleHealthRequest,
  lifecycleLogger,
  listen,
  startHealthResponder,
  logServerEvents,
  notFound,
  type AGServer,
  type HeartbeatSettings,
  type Logger,
  type Readiness,
  type WorkerClusterConfig,
  type WorkerConfig,
  LogEvent,
} from '@scc-ts/shared';
import { attach, type ClusterClient, type DeliveryMode } from './cluster/index.js';
import { skipAbsentTokens } from './auth-engine.js';
import { WorkerBrokerEngine } from './broker-engine.js';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.js';
import { heartbeatSettings, workerServerOptions } from './server-options.js';


export interface WorkerServer {
  readonly port: number;
  /** The health responder's port (`SCC_HEALTH_PORT`, health.ts); null: health on `port` only. */
  readonly healthPort: number | null;
  readonly agServer: AGServer;
  /** The cluster plugin; null in standalone mode. */
  readonly cluster: ClusterClient | null;
  readonly metrics: WorkerMetrics;
  /** Whether close() has started (readiness is false from then on). */
  readonly draining: boolean;
  readiness(): Readiness;
  /**
   * Drains and stops: refuses new connections, closes client sockets with SHUTDOWN_CLOSE_CODE,
   * leaves the cluster; bounded by the config's drain timeout. Safe to call twice.
   */
  close(): Promise<void>;
}

/**
 * Close code sent to clients when the worker drains: 1012 "Service Restart" (RFC 6455 registry),
 * which tells a client the server is going away and to reconnect (socketcluster-client does, after
 * its reconnect delay, and a load balancer sends it to another worker).
 */
export const SHUTDOWN_CLOSE_CODE = SERVICE_RESTART_CLOSE_CODE;

/** The package's `public/` folder, found from both `src/` (tests) and `dist/src/` (built). */
function publicDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'public', 'index.html'))) return join(dir, 'public');
    dir = dirname(dir);
  }
  throw new Error('scc-worker: public/index.html not found');
}

/**
 * Where the demo page takes the worker's payload limit: filled in when the page is served, so the
 * page refuses what the socket would be closed for (1009) and needs no extra route behind a proxy.
 */
const PAYLOAD_LIMIT_MARK = '{{maxPayloadBytes}}';

/** Static files the demo needs, read once at start; the page carries `maxPayloadBytes` (the worker's `SCC_MAX_PAYLOAD`). */
function loadAssets(maxPayloadBytes: number): Map<string, { type: string; body: Buffer }> {
  const require = createRequire(import.meta.url);
  const clientBundle = require.resolve('socketcluster-client/socketcluster-client.min.js');
  const page = readFileSync(join(publicDir(), 'index.html'), 'utf8');
  if (!page.includes(PAYLOAD_LIMIT_MARK)) throw new Error(`scc-worker: public/index.html has no ${PAYLOAD_LIMIT_MARK} for the payload limit`);
  return new Map([
    ['/', { type: 'text/html; charset=utf-8', body: Buffer.from(page.replaceAll(PAYLOAD_LIMIT_MARK, String(maxPayloadBytes))) }],
    ['/favicon.svg', { type: 'image/svg+xml', body: readFileSync(join(publicDir(), 'favicon.svg')) }],
    ['/socketcluster-client.min.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(clientBundle) }],
    // The history helper is one ES module without imports: the page imports it as it is.
    ['/scc-history-client.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(require.resolve('@scc-ts/history-client')) }],
  ]);
}

/** The plugin's delivery mode from the env settings: one mode, or a per-channel choice by prefix. */
function deliveryModeFor(c: WorkerClusterConfig): DeliveryMode | ((channel: string) => DeliveryMode) {
  const prefixes = c.atLeastOnceChannelPrefixes;
  if (prefixes.length === 0 || c.deliveryMode === 'at-least-once') return c.deliveryMode;
  return (channel) => (prefixes.some((prefix) => channel.startsWith(prefix)) ? 'at-least-once' : 'at-most-once');
}

/** Starts a worker; in cluster mode it joins the state server in the background. */
export async function startWorkerServer(config: Readonly<WorkerConfig>, logger: Logger): Promise<WorkerServer> {
  let cluster: ClusterClient | null = null;
  let closing: Promise<void> | undefined;
  const readiness = (): Readiness =>
    closing ? { ready: false, detail: 'draining' } : cluster ? cluster.readiness() : { ready: true };

  const httpServer: Server = createServer((req, res) => {
    if (handleHealthRequest(req, res, readiness, workerMetrics.registry)) return;
    const asset = req.method === 'GET' || req.method === 'HEAD' ? assets.get((req.url ?? '/').split('?', 1)[0] ?? '/') : undefined;
    if (!asset) return notFound(res);
    res.writeHead(200, { 'Content-Type': asset.type, 'Content-Length': asset.body.length, 'Cache-Control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  });
  const connections = trackConnections(httpServer);
  // Limits, refusals and per-turn frame batching come with the codec and ws engine (public options),
  // built by the same call a plugin user's own server is built with.
  // The ws engine keeps the pings (one timer for every socket) with SOCKETCLUSTER_OPTIONS' ping
  // settings, unless those switch pings off (`pingTimeoutDisabled`, then there are none, as before).
  const { pingTimeoutDisabled, pingInterval, pingTimeout, protocolVersion, ...otherOptions } = config.socketClusterOptions ?? {};
  const engineBeats = pingTimeoutDisabled !== true;
  let heartbeat: HeartbeatSettings | false = false;
  if (engineBeats) {
    const resolved = heartbeatSettings({ pingInterval, pingTimeout, protocolVersion }, 'SOCKETCLUSTER_OPTIONS');
    if (resolved.problems.length > 0) throw new ConfigError(resolved.problems);
    heartbeat = resolved.settings;
  }
  const hardened = workerServerOptions({ limits: config.limits, batchFrames: config.batchClientFrames, logger, heartbeat });
  // Our broker engine holds subscribe acks for the cluster (no per-socket middleware) and fans out
  // without a pipeline per subscriber; see broker-engine.ts.
  const brokerEngine = new WorkerBrokerEngine();
  const serverOptions = { ...hardened, brokerEngine, ...(engineBeats ? otherOptions : (config.socketClusterOptions ?? {})) };
  // The limit in force: SOCKETCLUSTER_OPTIONS may override SCC_MAX_PAYLOAD.
  const assets = loadAssets(Number(serverOptions.maxPayload));
  const agServer: AGServer = socketClusterServer.attach(httpServer, serverOptions);
  brokerEngine.bindServer(agServer);
  agServer.setAuthEngine(skipAbsentTokens(agServer.auth));
  const workerMetrics = createWorkerMetrics({ agServer, cluster: () => cluster, draining: () => closing !== undefined, limits: hardened.wsEngine.counters,
    ...(engineBeats ? { pingTimeouts: () => hardened.wsEngine.counters.pingTimeouts } : {}),
  });

  logServerEvents(agServer, logger);

  const port = await listen(httpServer, config.port, config.bindHost);

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
      pubSubBatchInterval: c.pubSubBatchIntervalMs,
      brokerRetryDelay: c.brokerRetryDelayMs,
      stateServerConnectTimeout: c.stateServerConnectTimeoutMs,
      stateServerAckTimeout: c.stateServerAckTimeoutMs,
      stateServerReconnectRandomness: c.stateServerReconnectRandomnessMs,
      deliveryMode: deliveryModeFor(c),
      handoverDelay: c.handoverDelayMs,
      handoverGrace: c.handoverGraceMs,
      reorderWindow: c.reorderWindowMs,
      publishRetryTimeout: c.publishRetryTimeoutMs,
      linkTimeout: config.linkTimeoutMs,
      version: c.announceVersion,
      statsInterval: c.statsIntervalMs,
      holdSubscribeAcks: false,
      historyChannels: c.historyChannelPrefixes,
      logger,
    });
    brokerEngine.ready = cluster.subscriptionReady.bind(cluster);
  }

  // Last, so that its first readiness is the cluster plugin's; stopped last, so probes see the drain.
  const health = config.healthPort === null ? null : await startHealthResponder({ port: config.healthPort, host: config.bindHost, readiness, logger }).catch(async (error: unknown) => {
    await cluster?.close();
    agServer.close();
    httpServer.close();
    workerMetrics.close();
    throw error;
  });

  return {
    port,
    healthPort: health?.port ?? null,
    agServer,
    cluster,
    metrics: workerMetrics,
    get draining() {
      return closing !== undefined;
    },
    readiness,
    close() {
      closing ??= (async () => {
        const startedAt = Date.now();
        const clients = agServer.clientsCount;
        const lifecycle = lifecycleLogger(logger, config.logLevel);
        lifecycle.info({ event: LogEvent.DrainStarted, clients }, `drain started: closing ${clients} client sockets with code ${SHUTDOWN_CLOSE_CODE} and leaving the cluster (at most ${config.drainTimeoutMs} ms)`);
        // Stop accepting first, then tell clients to go elsewhere, then leave the cluster.
        const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        // Fan-outs still being sliced reach their subscribers before the close frames.
        brokerEngine.flush();
        for (const socket of Object.values(agServer.clients)) void socket.disconnect(SHUTDOWN_CLOSE_CODE, 'scc-worker shutting down');
        hardened.wsEngine.flush();
        let timer: NodeJS.Timeout | undefined;
        const left = await Promise.race([
          (cluster?.close() ?? Promise.resolve()).then(() => true),
          new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), config.drainTimeoutMs))),
        ]);
        clearTimeout(timer);
        lifecycle.info({ event: LogEvent.DrainFinished, clients, left, durationMs: Date.now() - startedAt }, `drain finished in ${Date.now() - startedAt} ms${left ? '' : ' (timed out leaving the cluster)'}`);
        workerMetrics.close();
        agServer.close();
        agServer.closeAllListeners();
        hardened.wsEngine.close();
        httpServer.closeAllConnections();
        // A client that never answers its 1012 close frame must not hold the exit (see shutdown.ts).
        const dropped = await closedWithin(closed, connections);
        if (dropped > 0) lifecycle.info({ dropped }, `dropped ${dropped} connections whose peer did not finish closing`);
        await health?.close();
      })();
      return closing;
    },
  };
}
