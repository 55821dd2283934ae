/**
 * scc-broker: a plain socketcluster-server that workers subscribe and publish to. It relays each
 * `#publish` to every socket subscribed to the channel (the publisher's too; the worker skips its
 * own packets by `sender`). It joins the state server so workers learn its URI.
 */
import { createServer, type Server } from 'node:http';
import socketClusterServer from 'socketcluster-server';
import {
  Procedure,
  SERVICE_RESTART_CLOSE_CODE,
  enforceLimits,
  hardenServer,
  limitServerOptions,
  warnIfUnauthenticated,
  handleHealthRequest,
  installHandshakeChecks,
  lifecycleLogger,
  notFound,
  type BrokerConfig,
  type Logger,
  type StateLink,
  listen,
  logServerEvents,
  type AGServer,
  ServerFrames,
  batchServerFrames,
  internalCodec,
  LogEvent,
} from '@scc-ts/shared';
import { createBrokerStateLink } from './state-link.js';
import { installFastRelay } from './fast-relay.js';
import { createBrokerMetrics, type BrokerMetrics } from './metrics.js';
import { drainBroker, type DrainResult } from './drain.js';


export interface BrokerServer {
  readonly port: number;
  readonly instanceId: string;
  readonly agServer: AGServer;
  /** Whether the broker has joined the state server on its current connection. */
  readonly joined: boolean;
  readonly metrics: BrokerMetrics;
  /** Whether drain() has started (readiness is false from then on). */
  readonly draining: boolean;
  /**
   * Leaves the cluster and keeps relaying until workers have moved every subscription away, or
   * `timeoutMs` (default: the config's drain timeout). Call close() after. Safe to call twice.
   */
  drain(timeoutMs?: number): Promise<DrainResult>;
  /** Tells the state server we are leaving, then stops serving. Safe to call twice. */
  close(): Promise<void>;
}

/** Starts a broker and resolves once it listens; joining the state server follows in the background. */
export async function startBrokerServer(config: Readonly<BrokerConfig>, logger: Logger): Promise<BrokerServer> {
  const lifecycle = lifecycleLogger(logger, config.logLevel);
  let link: StateLink | undefined;
  let draining: Promise<DrainResult> | undefined;
  let metrics: BrokerMetrics | undefined;
  const httpServer: Server = createServer((req, res) => {
    const handled = handleHealthRequest(
      req,
      res,
      () =>
        draining ? { ready: false, detail: 'draining' } : link?.joined ? { ready: true } : { ready: false, detail: 'not joined to the state server' },
      metrics?.registry,
    );
    if (!handled) notFound(res);
  });
  const agServer: AGServer = socketClusterServer.attach(httpServer, {
    // config.limits has no per-socket channel limit: a broker carries every channel its workers need.
    ...limitServerOptions(config.limits),
    ackTimeout: config.brokerAckTimeoutMs,
    // Workers are its only peers: JSON without sc-formatter's per-value binary check (see codec.ts).
    codecEngine: internalCodec,
    ...(config.socketClusterOptions ?? {}),
  });
  enforceLimits(agServer, config.limits, logger);
  hardenServer(agServer);

  installHandshakeChecks(agServer, {
    authKey: config.authKey,
    authErrorMessage: 'Cannot connect to the cluster broker server without providing a valid authKey as a URL query argument.',
    onRefused: (error, remoteAddress) => {
      metrics?.handshakeRefused(error);
      logger.warn(`refused ${remoteAddress ?? 'a peer'}: ${error.name}: ${error.message}`);
    },
  });
  metrics = createBrokerMetrics({ agServer, joined: () => link?.joined ?? false, draining: () => draining !== undefined });

  logServerEvents(agServer, logger);
  if (logger.isLevelEnabled('debug')) {
    void (async () => {
      for await (const { socket, channel } of agServer.listener('subscription')) {
        logger.debug(`${socket.remoteAddress} subscribed to ${channel}`);
      }
    })();
  }
  // What the broker relays to a worker in one event-loop turn goes out as one frame.
  const frames = new ServerFrames();
  batchServerFrames(agServer, frames);
  installFastRelay(agServer, logger);
  void (async () => {
    for await (const { socket } of agServer.listener('connection')) {
      logger.info(`worker connected from ${socket.remoteAddress} (${agServer.clientsCount} connections)`);
    }
  })();

  const port = await listen(httpServer, config.port);
  // Through the lifecycle logger: the broker's default level (errors only) would hide this warning.
  warnIfUnauthenticated(httpServer, config.authKey, 'scc-broker', lifecycle);

  let wasJoined = false;
  const created = createBrokerStateLink({
    config,
    port,
    logger,
    onJoined: () => {
      lifecycle.info({ event: LogEvent.Joined, rejoin: wasJoined }, `${wasJoined ? 're-joined' : 'joined'} the cluster at state server ${config.stateServerHost}:${config.stateServerPort}`);
      wasJoined = true;
    },
  });
  link = created.link;
  link.start();

  let closing: Promise<void> | undefined;
  const stateLink = link;
  const brokerMetrics = metrics;
  return {
    port,
    instanceId: created.instanceId,
    agServer,
    metrics: brokerMetrics,
    get joined() {
      return stateLink.joined;
    },
    get draining() {
      return draining !== undefined;
    },
    drain(timeoutMs = config.drainTimeoutMs) {
      draining ??= drainBroker({
        agServer,
        logger: lifecycle,
        timeoutMs,
        leave: async () => {
          await stateLink.leave(Procedure.BrokerLeaveCluster);
          await stateLink.close();
        },
      });
      return draining;
    },
    close() {
      closing ??= (async () => {
        brokerMetrics.close();
        await stateLink.leave(Procedure.BrokerLeaveCluster);
        await stateLink.close();
        // Workers still connected (a drain that timed out) reconnect elsewhere on 1012.
        for (const socket of Object.values(agServer.clients)) void socket.disconnect(SERVICE_RESTART_CLOSE_CODE, 'scc-broker shutting down');
        frames.close();
        agServer.close();
        agServer.closeAllListeners();
        await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      })();
      return closing;
    },
  };
}
