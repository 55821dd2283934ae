/**
 * scc-broker: a plain socketcluster-server that workers subscribe and publish to. It relays each
 * `#publish` to every socket subscribed to the channel (the publisher's too; the worker skips its
 * own packets by `sender`). It joins the state server so workers learn its URI.
 */
import { createServer, type Server } from 'node:http';
import socketClusterServer from 'socketcluster-server';
import {
  Procedure,
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
} from '@scc-ts/shared';
import { createBrokerStateLink } from './state-link.js';


export interface BrokerServer {
  readonly port: number;
  readonly instanceId: string;
  readonly agServer: AGServer;
  /** Whether the broker has joined the state server on its current connection. */
  readonly joined: boolean;
  /** Tells the state server we are leaving, then stops serving. Safe to call twice. */
  close(): Promise<void>;
}

/** Starts a broker and resolves once it listens; joining the state server follows in the background. */
export async function startBrokerServer(config: Readonly<BrokerConfig>, logger: Logger): Promise<BrokerServer> {
  const lifecycle = lifecycleLogger(logger, config.logLevel);
  let link: StateLink | undefined;
  const httpServer: Server = createServer((req, res) => {
    const handled = handleHealthRequest(req, res, () =>
      link?.joined ? { ready: true } : { ready: false, detail: 'not joined to the state server' },
    );
    if (!handled) notFound(res);
  });
  const agServer: AGServer = socketClusterServer.attach(httpServer, {
    // config.limits has no per-socket channel limit: a broker carries every channel its workers need.
    ...limitServerOptions(config.limits),
    ackTimeout: config.brokerAckTimeoutMs,
    ...(config.socketClusterOptions ?? {}),
  });
  enforceLimits(agServer, config.limits, logger);
  hardenServer(agServer);

  installHandshakeChecks(agServer, {
    authKey: config.authKey,
    authErrorMessage: 'Cannot connect to the cluster broker server without providing a valid authKey as a URL query argument.',
    onRefused: (error, remoteAddress) => logger.warn(`refused ${remoteAddress ?? 'a peer'}: ${error.name}: ${error.message}`),
  });

  logServerEvents(agServer, logger);
  if (logger.isLevelEnabled('debug')) {
    void (async () => {
      for await (const { socket, channel } of agServer.listener('subscription')) {
        logger.debug(`${socket.remoteAddress} subscribed to ${channel}`);
      }
    })();
  }
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
      lifecycle.info(`${wasJoined ? 're-joined' : 'joined'} the cluster at state server ${config.stateServerHost}:${config.stateServerPort}`);
      wasJoined = true;
    },
  });
  link = created.link;
  link.start();

  let closing: Promise<void> | undefined;
  const stateLink = link;
  return {
    port,
    instanceId: created.instanceId,
    agServer,
    get joined() {
      return stateLink.joined;
    },
    close() {
      closing ??= (async () => {
        await stateLink.leave(Procedure.BrokerLeaveCluster);
        await stateLink.close();
        agServer.close();
        agServer.closeAllListeners();
        await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      })();
      return closing;
    },
  };
}
