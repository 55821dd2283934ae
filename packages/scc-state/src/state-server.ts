/**
 * scc-state: the coordinator. Brokers and workers connect over SocketCluster and join; it keeps the
 * membership (registry.ts) and pushes the broker and worker lists to every worker (notifier.ts).
 * It carries no pub/sub traffic. Its wire contract: docs/protocol.md.
 */
import { createServer, type Server } from 'node:http';
import socketClusterServer from 'socketcluster-server';
import {
  AlreadyJoinedError,
  hardenedServerOptions,
  warnIfUnauthenticated,
  ClusterNotReadyError,
  InstanceType,
  InstanceTypeMismatchError,
  HANDSHAKE_REJECTION_CLOSE_CODE,
  STATE_SHUTDOWN_CLOSE_CODE,
  HandoverProcedure,
  HEARTBEATS_PER_LINK_TIMEOUT,
  Procedure,
  STARTUP_DELAY_REFUSAL_MESSAGE,
  formatInstanceUri,
  handleHealthRequest,
  installHandshakeChecks,
  listen,
  closedWithin,
  trackConnections,
  logServerEvents,
  notFound,
  parseBrokerJoin,
  parseHandoverAck,
  parseWorkerJoin,
  type AGServer,
  type InstanceTypeName,
  type Logger,
  type ServerSocket,
  type StateConfig,
  type WorkerJoinPayload,
  type WorkerJoinReply,
  LogEvent,
} from '@scc-ts/shared';
import { Registry, type Member } from './registry.js';
import { Notifier, type ListKind } from './notifier.js';
import { HandoverCoordinator } from './handover.js';
import { createStateMetrics, type StateMetrics } from './metrics.js';
import { ClusterView } from './cluster-view.js';
import { LinkMonitor } from './links.js';
import { PeerStats } from './peer-stats.js';
import { EventLog } from './event-log.js';
import { Dashboard } from './dashboard.js';
import { peerOf, refusePubSub, type Peer } from './peers.js';
import { serveReports } from './reports.js';

type Request = { data: unknown; end(data?: unknown): void; error(error: Error): void };

/** The membership list an instance type belongs to. */
function listKind(type: InstanceTypeName): ListKind {
  return type === InstanceType.Broker ? 'brokers' : 'workers';
}

export interface StateServer {
  /** The port actually bound (useful when configured with 0). */
  readonly port: number;
  readonly registry: Registry;
  readonly metrics: StateMetrics;
  close(): Promise<void>;
}

/** Starts scc-state and resolves once it is listening. */
export async function startStateServer(config: Readonly<StateConfig>, logger: Logger): Promise<StateServer> {
  const registry = new Registry();
  const peers = new WeakMap<ServerSocket, Peer>();
  const sockets = new Map<string, ServerSocket>();
  const startedAt = Date.now();
  let acceptingWorkers = config.startupDelayMs === 0;
  const startupTimer =
    acceptingWorkers
      ? undefined
      : setTimeout(() => {
          acceptingWorkers = true;
          logger.info('startup delay over: scc-worker instances may now join');
        }, config.startupDelayMs);

  const hardened = hardenedServerOptions(config.limits, logger);
  // Set once the notifier exists (withdrawals and restores schedule pushes).
  let listChanged: (direction: 'out' | 'back') => void = () => undefined;
  const events = new EventLog();
  const links = new LinkMonitor({
    restoreDelayMs: config.linkRestoreDelayMs,
    brokers: () => registry.brokerURIs(),
    workerURI: (socketId) => registry.memberOf(InstanceType.Worker, socketId)?.uri,
    logger,
    onChange: (direction) => listChanged(direction),
    onEvent: (kind, broker, text) => events.record(kind, text, broker),
  });
  /** The broker list workers are told: the joined brokers, less those some worker cannot reach. */
  const publishedBrokers = (): string[] => links.published(registry.brokerURIs());
  const metrics = createStateMetrics({
    members: registry,
    connections: () => sockets.size,
    limits: hardened.wsEngine.counters,
    links: () => {
      const view = links.view();
      return { unreachable: view.unreachable.length, withdrawn: view.withdrawn.length, withdrawals: links.withdrawals };
    },
  });
  let view: ClusterView | undefined;
  const peerStats = new PeerStats();
  const dashboard = new Dashboard({
    intervalMs: config.dashboardIntervalMs,
    maxClients: config.dashboardMaxClients,
    snapshot: () => view?.snapshot(new URLSearchParams()),
    logger,
  });
  const httpServer: Server = createServer((req, res) => {
    if (!handleHealthRequest(req, res, undefined, metrics.registry) && !view?.handle(req, res) && !dashboard.handle(req, res)) notFound(res);
  });
  const connections = trackConnections(httpServer);
  // Peers are told to ping within the link timeout (socketcluster-client, ours and the originals',
  // takes pingTimeout from the handshake), so a silent partition from the state server shows in seconds.
  const agServer: AGServer = socketClusterServer.attach(httpServer, {
    ...hardened,
    pingInterval: Math.round(config.linkTimeoutMs / HEARTBEATS_PER_LINK_TIMEOUT),
    pingTimeout: config.linkTimeoutMs,
  });
  refusePubSub(agServer);

  // Worker sockets that joined with `sccHandover: true` (ours); original workers switch on the push alone.
  const handoverWorkers = new Set<string>();
  const handover = new HandoverCoordinator({
    signal: (socketId, event, data) => {
      const socket = sockets.get(socketId);
      if (socket?.state === 'open') socket.transmit(event, data, {});
    },
    timeoutMs: config.handoverTimeoutMs,
    logger,
    onDone: (time, outcome) => {
      logger.info(`handover of broker list ${time}: ${outcome}`);
      events.record('handover', `handover of broker list ${time}: ${outcome}`);
    },
  });

  const notifier = new Notifier({
    registry,
    brokerList: publishedBrokers,
    extraFields: (kind, socketId) => {
      if (kind !== 'brokers' || !handoverWorkers.has(socketId)) return {};
      const withdrawn = links.withdrawn();
      return withdrawn.length === 0 ? { sccHandover: true } : { sccHandover: true, sccWithdrawn: withdrawn };
    },
    push: async (socketId, procedure, data) => {
      const socket = sockets.get(socketId);
      if (!socket) throw new Error('socket closed');
      await socket.invoke(procedure, data, {}).then(
        () => metrics.pushed(procedure, true),
        (error: unknown) => {
          metrics.pushed(procedure, false);
          throw error;
        },
      );
    },
    isOpen: (socketId) => sockets.get(socketId)?.state === 'open',
    scaleOutDelayMs: config.scaleOutDelayMs,
    scaleBackDelayMs: config.scaleBackDelayMs,
    retryDelayMs: config.retryDelayMs,
    logger,
    onBroadcast: (kind, uris, time) => {
      metrics.broadcast(kind, time);
      view?.recordBroadcast(kind, uris, time);
      events.record('list', `${kind} list broadcast (${uris.length} ${kind}, time ${time})`);
      if (kind === 'brokers') {
        handover.begin(
          time,
          registry.workerMembers().map((m) => m.socketId).filter((id) => handoverWorkers.has(id)),
        );
      }
    },
  });
  // A withdrawal is pushed at once: until then the cut-off worker and the others disagree on where
  // the broker's channels go (the reports of the other workers that follow change nothing more).
  listChanged = (direction) => notifier.changed('brokers', direction, direction === 'back' ? 0 : undefined);
  view = new ClusterView({
    registry,
    pending: (kind) => notifier.pending(kind),
    figures: peerStats,
    events,
    handover: () => handover.progress(),
    coordinated: (socketId) => handoverWorkers.has(socketId),
    dashboard: () => ({ intervalMs: config.dashboardIntervalMs, clients: dashboard.clientCount, maxClients: config.dashboardMaxClients }),
    links: () => links.view(),
    published: publishedBrokers,
  });

  installHandshakeChecks(agServer, {
    authKey: config.authKey,
    authErrorMessage: 'Cannot connect to the scc-state instance without providing a valid authKey as a URL query argument.',
    onRefused: (error, remoteAddress) => {
      metrics.handshakeRefused(error);
      logger.warn(`refused ${remoteAddress ?? 'a peer'}: ${error.name}: ${error.message}`);
    },
    checkSocket: (socket) => {
      const peer = peerOf(socket);
      if (peer instanceof Error) return peer;
      peers.set(socket, peer);
      return null;
    },
  });

  function observedIp(socket: ServerSocket): string {
    if (config.forwardedForHeader !== null) {
      const header = socket.request.headers[config.forwardedForHeader];
      const first = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim();
      if (first) return first;
    }
    return socket.remoteAddress;
  }

  function leave(socket: ServerSocket, type: InstanceTypeName, how: string): void {
    const member = registry.leave(type, socket.id);
    if (!member) return;
    if (type === InstanceType.Worker) {
      notifier.forget(socket.id);
      links.forget(socket.id);
    } else {
      links.brokersChanged();
    }
    notifier.changed(listKind(type), 'back');
    const remaining = registry.urisOf(type).length;
    events.record('left', `${type} ${member.uri} left (${how}); ${remaining} ${listKind(type)} remain`, member.uri);
    logger.info({ event: LogEvent.MemberLeft, instanceType: type, uri: member.uri, how, remaining }, `${type} ${member.uri} left (${how}); ${remaining} ${listKind(type)} in the cluster`);
  }

  /** Joins the socket's peer; returns the member and the worker's payload (null for a broker), or null when refused. */
  function handleJoin(socket: ServerSocket, peer: Peer, type: InstanceTypeName, request: Request): { member: Member; worker: WorkerJoinPayload | null } | null {
    if (peer.instanceType !== type) {
      metrics.joinRefused('instance_type_mismatch');
      request.error(new InstanceTypeMismatchError(`a socket that connected as ${peer.instanceType} cannot call the ${type} join procedure`));
      return null;
    }
    let payload;
    try {
      payload = type === InstanceType.Broker ? parseBrokerJoin(request.data) : { ...parseWorkerJoin(request.data), instanceSecure: false };
    } catch (error) {
      metrics.joinRefused('invalid_payload');
      logger.warn(`refused a join from ${socket.remoteAddress}: ${(error as Error).message}`);
      request.error(error as Error);
      return null;
    }
    if (type === InstanceType.Worker && !acceptingWorkers) {
      metrics.joinRefused('startup_delay');
      // An expected wait, not a fault: one info line per worker; its retries (every retry delay) at debug.
      const left = Math.max(0, config.startupDelayMs - (Date.now() - startedAt));
      const line = `scc-worker ${payload.instanceId ?? '(no id)'} at ${socket.remoteAddress} waits for the startup delay (${left} ms left) while brokers join`;
      if (peer.toldToWait === true) logger.debug(line);
      else logger.info(line);
      peer.toldToWait = true;
      request.error(new ClusterNotReadyError(STARTUP_DELAY_REFUSAL_MESSAGE));
      return null;
    }
    const uri = formatInstanceUri({
      explicitIp: payload.instanceIp,
      explicitFamily: payload.instanceIpFamily,
      observedIp: observedIp(socket),
      port: peer.instancePort,
      secure: payload.instanceSecure,
    });
    // An identical repeat is a no-op (a peer retries its join after an ack timeout on the same
    // socket); a different identity on an already-joined socket is refused and changes nothing.
    const previous = registry.memberOf(type, socket.id);
    if (previous && (previous.uri !== uri || previous.instanceId !== payload.instanceId)) {
      const error = new AlreadyJoinedError(`this socket already joined as ${previous.uri} (id ${previous.instanceId ?? 'none'}); reconnect to join as another instance`);
      logger.warn(`refused a join from ${socket.remoteAddress}: ${error.name}: ${error.message}`);
      request.error(error);
      return null;
    }
    const { member, changed } = registry.join({ socketId: socket.id, instanceType: type, instanceId: payload.instanceId, uri, joinedAt: Date.now() });
    const worker = type === InstanceType.Worker ? (payload as WorkerJoinPayload) : null;
    if (worker?.sccHandover === true) handoverWorkers.add(socket.id);
    if (changed && type === InstanceType.Broker) links.brokersChanged();
    if (changed) {
      notifier.changed(listKind(type), 'out');
      events.record('joined', `${type} ${uri} joined (id ${payload.instanceId ?? 'none'}); ${registry.urisOf(type).length} ${listKind(type)}`, uri);
      logger.info(
        `${type} ${uri} joined (id ${payload.instanceId ?? 'none'}, version ${peer.version}); ${registry.urisOf(type).length} ${listKind(type)} in the cluster`,
      );
    }
    return { member, worker };
  }

  function serve(socket: ServerSocket): void {
    const peer = peers.get(socket);
    if (!peer) {
      // Unreachable: the handshake middleware records every socket it allows.
      void socket.disconnect(HANDSHAKE_REJECTION_CLOSE_CODE, 'no handshake record');
      return;
    }
    sockets.set(socket.id, socket);
    void (async () => {
      for await (const request of socket.procedure(Procedure.BrokerJoinCluster) as AsyncIterable<Request>) {
        if (handleJoin(socket, peer, InstanceType.Broker, request)) request.end();
      }
    })();
    void (async () => {
      for await (const request of socket.procedure(Procedure.WorkerJoinCluster) as AsyncIterable<Request>) {
        const joinedAs = handleJoin(socket, peer, InstanceType.Worker, request);
        if (!joinedAs) continue;
        const { member, worker } = joinedAs;
        // A re-joining worker of ours that routes by brokers not joined here (this server has just
        // come back: restarted, or healed from a partition, and they have not re-joined yet) keeps its
        // list; the settled list follows as a coordinated push, so no worker is handed a partial one.
        const joined = new Set(registry.brokerURIs());
        const pushFollows = worker?.sccBrokerURIs?.some((uri) => !joined.has(uri)) ?? false;
        if (pushFollows) {
          notifier.changed('brokers', 'out');
          logger.info(`worker ${member.uri} routes by brokers not joined here yet: it keeps its list until the settled one is pushed`);
        }
        const withdrawn = links.withdrawn();
        const reply: WorkerJoinReply = {
          sccWorkerURIs: registry.workerURIs(),
          sccBrokerURIs: publishedBrokers(),
          time: notifier.nextTime(),
          sccSourceWorkerURI: member.uri,
          sccHandover: true,
          ...(pushFollows ? { sccPushFollows: true } : {}),
          ...(withdrawn.length > 0 ? { sccWithdrawn: withdrawn } : {}),
        };
        request.end(reply);
      }
    })();
    void (async () => {
      for await (const request of socket.procedure(Procedure.BrokerLeaveCluster) as AsyncIterable<Request>) {
        leave(socket, InstanceType.Broker, 'announced');
        request.end();
      }
    })();
    void (async () => {
      for await (const request of socket.procedure(Procedure.WorkerLeaveCluster) as AsyncIterable<Request>) {
        leave(socket, InstanceType.Worker, 'announced');
        request.end();
      }
    })();
    void (async () => {
      for await (const request of socket.procedure(HandoverProcedure.Ack) as AsyncIterable<Request>) {
        try {
          const ack = parseHandoverAck(request.data);
          handover.ack(socket.id, ack.time, ack.phase);
          request.end();
        } catch (error) {
          request.error(error as Error);
        }
      }
    })();
    serveReports(socket, {
      isMember: (type) => registry.memberOf(type, socket.id) !== undefined,
      instanceType: peer.instanceType,
      links,
      peerStats,
      logger,
    });
    void (async () => {
      for await (const event of socket.listener('close')) {
        sockets.delete(socket.id);
        peerStats.forget(socket.id);
        handoverWorkers.delete(socket.id);
        handover.forget(socket.id);
        leave(socket, peer.instanceType, `socket closed, code ${(event as { code?: number }).code ?? '?'}`);
      }
    })();
  }

  void (async () => {
    for await (const { socket } of agServer.listener('connection')) serve(socket as ServerSocket);
  })();
  logServerEvents(agServer, logger);

  const port = await listen(httpServer, config.port, config.bindHost);
  warnIfUnauthenticated(httpServer, config.authKey, 'scc-state', logger);
  if (config.startupDelayMs > 0) {
    logger.info(`waiting ${config.startupDelayMs} ms for initial scc-broker instances before allowing scc-worker instances to join`);
  }

  let closing: Promise<void> | undefined;
  return {
    port,
    registry,
    metrics,
    close() {
      closing ??= (async () => {
        clearTimeout(startupTimer);
        dashboard.close();
        notifier.close();
        links.close();
        handover.close();
        for (const socket of sockets.values()) void socket.disconnect(STATE_SHUTDOWN_CLOSE_CODE, 'scc-state shutting down');
        agServer.close();
        agServer.closeAllListeners();
        // A peer that never answers its close frame must not hold the exit (see shutdown.ts).
        const dropped = await closedWithin(new Promise<void>((resolve) => httpServer.close(() => resolve())), connections);
        if (dropped > 0) logger.info({ dropped }, `dropped ${dropped} connections whose peer did not finish closing`);
        logger.debug(`closed after ${Date.now() - startedAt} ms`);
      })();
      return closing;
    },
  };
}
