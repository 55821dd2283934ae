/**
 * scc-broker: a SocketCluster-protocol relay (relay.ts) that workers subscribe and publish to. It
 * relays each `#publish` to every socket subscribed to the channel (the publisher's too; the
 * worker skips its own packets by `sender`). It joins the state server so workers learn its URI.
 */
import { createServer, type Server } from 'node:http';
import {
  Procedure,
  SERVICE_RESTART_CLOSE_CODE,
  warnIfUnauthenticated,
  handleHealthRequest,
  startHealthResponder,
  type Readiness,
  lifecycleLogger,
  notFound,
  type BrokerConfig,
  type Logger,
  type StateLink,
  listen,
  processFigures,
  isSafeChannelName,
  InvalidChannelError,
  LogEvent,
} from '@scc-ts/shared';
import { createBrokerStateLink } from './state-link.js';
import { Relay } from './relay.js';
import { readRelaySettings } from './relay-settings.js';
import { createBrokerMetrics, type BrokerMetrics } from './metrics.js';
import { drainBroker, type DrainResult } from './drain.js';

/** The original broker's refusal message for a wrong or missing auth key (HTTP 401 body). */
const AUTH_ERROR_MESSAGE = 'Cannot connect to the cluster broker server without providing a valid authKey as a URL query argument.';

/**
 * Channel names that are Object.prototype members are refused, as before: the relay keys nothing
 * by them, but workers built on socketcluster-client (originals) key plain objects by channel
 * name, so relaying `constructor` to one could kill it.
 */
function refusePrototypeName(channel: string): Error | null {
  return isSafeChannelName(channel) ? null : new InvalidChannelError(`channel name ${JSON.stringify(channel)} is refused: it must be a string that is not an Object.prototype member`);
}

export interface BrokerServer {
  readonly port: number;
  /** The health responder's port (`SCC_HEALTH_PORT`, health.ts); null: health on `port` only. */
  readonly healthPort: number | null;
  readonly instanceId: string;
  /** The relay (connection, subscription and channel counts; relayed-packet events). */
  readonly relay: Relay;
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
  // Before anything starts: an unknown SOCKETCLUSTER_OPTIONS key stops the broker here.
  const settings = readRelaySettings(config.socketClusterOptions, config.linkTimeoutMs);
  const lifecycle = lifecycleLogger(logger, config.logLevel);
  let link: StateLink | undefined;
  let draining: Promise<DrainResult> | undefined;
  let metrics: BrokerMetrics | undefined;
  const readiness = (): Readiness =>
    draining ? { ready: false, detail: 'draining' } : link?.joined ? { ready: true } : { ready: false, detail: 'not joined to the state server' };
  const httpServer: Server = createServer((req, res) => {
    if (!handleHealthRequest(req, res, readiness, metrics?.registry)) notFound(res);
  });
  const relay = new Relay({
    server: httpServer,
    authKey: config.authKey,
    authErrorMessage: AUTH_ERROR_MESSAGE,
    maxPayloadBytes: config.limits.maxPayloadBytes,
    handshakeTimeoutMs: config.limits.handshakeTimeoutMs,
    maxConnections: config.limits.maxConnections,
    maxOutboundBufferBytes: config.limits.maxOutboundBufferBytes,
    pingIntervalMs: settings.pingIntervalMs,
    pingTimeoutMs: settings.pingTimeoutMs,
    logger,
    refuseChannel: refusePrototypeName,
    onAuthRefused: (error) => metrics?.handshakeRefused(error),
    history: config.history,
  });
  metrics = createBrokerMetrics({ relay, joined: () => link?.joined ?? false, draining: () => draining !== undefined });
  relay.onConnection(({ remoteAddress }) => logger.info(`worker connected from ${remoteAddress} (${relay.connectionCount} connections)`));

  let port: number;
  try {
    port = await listen(httpServer, config.port, config.bindHost);
  } catch (error) {
    await relay.close();
    metrics.close();
    throw error;
  }
  // Through the lifecycle logger: the broker's default level (errors only) would hide this warning.
  warnIfUnauthenticated(httpServer, config.authKey, 'scc-broker', lifecycle);

  let wasJoined = false;
  const totals = metrics.totals;
  const created = createBrokerStateLink({
    config,
    port,
    logger,
    // The dashboard's figures: the relay's counts and the totals /metrics reads, nothing recounted.
    collectStats: () => ({
      ...processFigures(),
      connections: relay.connectionCount,
      channels: relay.channelCount,
      messagesIn: totals.messagesIn,
      messagesOut: totals.messagesOut,
    }),
    onJoined: () => {
      lifecycle.info({ event: LogEvent.Joined, rejoin: wasJoined }, `${wasJoined ? 're-joined' : 'joined'} the cluster at state server ${config.stateServerHost}:${config.stateServerPort}`);
      wasJoined = true;
    },
  });
  link = created.link;
  link.start();

  // Stopped last, so that probes see the drain.
  const health = config.healthPort === null ? null : await startHealthResponder({ port: config.healthPort, host: config.bindHost, readiness, logger }).catch(async (error: unknown) => {
    await created.link.close();
    await relay.close();
    httpServer.close();
    metrics?.close();
    throw error;
  });

  let closing: Promise<void> | undefined;
  const stateLink = link;
  const brokerMetrics = metrics;
  return {
    port,
    healthPort: health?.port ?? null,
    instanceId: created.instanceId,
    relay,
    metrics: brokerMetrics,
    get joined() {
      return stateLink.joined;
    },
    get draining() {
      return draining !== undefined;
    },
    drain(timeoutMs = config.drainTimeoutMs) {
      draining ??= drainBroker({
        relay,
        history: relay.history,
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
        await relay.close(SERVICE_RESTART_CLOSE_CODE, 'scc-broker shutting down');
        await new Promise<void>((resolve) => httpServer.close(() => resolve()));
        await health?.close();
      })();
      return closing;
    },
  };
}
