/**
 * The coordinator: brokers and workers connect over SocketCluster and join; it keeps the
 * membership (registry.ts) and pushes the broker and worker lists to every worker (notifier.ts).
 * It carries no pub/sub traffic. Its wire contract: docs/protocol.md.
 *
 * The single state server runs one for its life; a replica runs one for each term it leads
 * (leadership/replica.ts), started from the last membership record and saving every change to it.
 * The HTTP server and its port belong to state-server.ts: it hands this one the WebSocket upgrades.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
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
  CLOSE_HANDSHAKE_GRACE_MS,
  Procedure,
  STARTUP_DELAY_REFUSAL_MESSAGE,
  formatInstanceUri,
  installHandshakeChecks,
  logServerEvents,
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
import type { StateMetrics } from './metrics.js';
import { ClusterView } from './cluster-view.js';
import { LinkMonitor } from './links.js';
import { PeerStats } from './peer-stats.js';
import { EventLog } from './event-log.js';
import { Dashboard } from './dashboard.js';
import { peerOf, refusePubSub, type Peer } from './peers.js';
import { serveReports } from './reports.js';
import type { MembershipRecord } from './leadership/store.js';
import { Succession } from './leadership/succession.js';
import type { ReplicaView } from './leadership/replica.js';

type Request = { data: unknown; end(data?: unknown): void; error(error: Error): void };

/** The membership list an instance type belongs to. */
function listKind(type: InstanceTypeName): ListKind {
  return type === InstanceType.Broker ? 'brokers' : 'workers';
}

/** Most saves of the record a worker's join reply waits for while the membership keeps changing. */
const MAX_SAVES_BEFORE_REPLY = 3;

/** Headers by which a follower replica passes on the address of the peer it relays. */
export const RELAYED_FOR_HEADER = 'x-scc-relayed-for';
export const RELAY_PROOF_HEADER = 'x-scc-relay-proof';

/** The proof a relaying replica adds: an HMAC of the peer's address under the cluster's key. */
export function relayProof(key: string, address: string): string {
  return createHmac('sha256', key).update(address).digest('base64url');
}

/** A term of a replicated state server: what the coordinator starts from and where it saves. */
export interface Replication {
  term: number;
  /** The last membership record (null: none saved yet, a new cluster). */
  record: MembershipRecord | null;
  /** Saves a record, fenced by the term; rejects when this replica no longer leads. */
  save(record: MembershipRecord): Promise<void>;
  /** How long a member of the record is listed without having re-joined, ms. */
  rejoinTimeoutMs: number;
  /** The key that relay proofs are made with (the auth key; peers relayed by a follower). */
  relayKey: string;
  /** The replicas' standing, for the cluster view. */
  view: () => ReplicaView;
}

export interface CoordinatorContext {
  hardened: ReturnType<typeof hardenedServerOptions>;
  metrics: StateMetrics;
  /** null: the single state server of the original, which starts empty and saves nothing. */
  replication: Replication | null;
}

/** The membership service of one state server (or of one term of a replica). */
export interface Coordinator {
  readonly registry: Registry;
  /** Serves a WebSocket upgrade request on the state server's port. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Serves the cluster view and dashboard; false for any other path. */
  handleRequest(request: IncomingMessage, response: ServerResponse): boolean;
  /** Open peer sockets. */
  connections(): number;
  links(): { unreachable: number; withdrawn: number; withdrawals: number };
  /** Members of the record that have not re-joined yet (replicas; empty otherwise). */
  rejoining(): { brokers: string[]; workers: string[] };
  /** Disconnects every peer (they reconnect, to the next leader) and stops every timer. */
  close(): Promise<void>;
}

/** Starts a coordinator; it serves the upgrades it is handed. */
export function startCoordinator(config: Readonly<StateConfig>, logger: Logger, context: CoordinatorContext): Coordinator {
  const { hardened, metrics, replication } = context;
  const record = replication?.record ?? null;
  const registry = new Registry();
  const peers = new WeakMap<ServerSocket, Peer>();
  const sockets = new Map<string, ServerSocket>();
  const startedAt = Date.now();
  // A new leader with a record starts from it: workers may join at once (the brokers are listed).
  let acceptingWorkers = config.startupDelayMs === 0 || (record !== null && record.brokers.length > 0);
  const startupTimer =
    acceptingWorkers
      ? undefined
      : setTimeout(() => {
          acceptingWorkers = true;
          logger.info('startup delay over: scc-worker instances may now join');
        }, config.startupDelayMs);

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
  let view: ClusterView | undefined;
  const peerStats = new PeerStats();
  const dashboard = new Dashboard({
    intervalMs: config.dashboardIntervalMs,
    maxClients: config.dashboardMaxClients,
    snapshot: () => view?.snapshot(new URLSearchParams()),
    logger,
  });
  // socketcluster-server is attached to an HTTP server that never listens: the state server's own
  // (state-server.ts) hands it the upgrades while this coordinator serves, so a replica can stop and
  // start coordinators under one port. Its upgraded TCP sockets are kept to drop them on close.
  const innerServer = createServer();
  const upgraded = new Set<Duplex>();
  // Peers are told to ping within the link timeout (socketcluster-client, ours and the originals',
  // takes pingTimeout from the handshake), so a silent partition from the state server shows in seconds.
  const agServer: AGServer = socketClusterServer.attach(innerServer, {
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
      persistQuietly();
    },
  });
  /** The broker list of each broadcast, by time (the record names the list a handover moves to). */
  let lastBrokerBroadcast: { time: number; uris: string[] } | null = null;
  const termField = replication ? { sccTerm: replication.term } : {};

  const notifier: Notifier = new Notifier({
    registry,
    brokerList: publishedBrokers,
    extraFields: (kind, socketId) => {
      if (kind !== 'brokers' || !handoverWorkers.has(socketId)) return termField;
      const withdrawn = links.withdrawn();
      return withdrawn.length === 0 ? { sccHandover: true, ...termField } : { sccHandover: true, sccWithdrawn: withdrawn, ...termField };
    },
    ...(replication ? { beforeBroadcast: () => persist(), brokersReady: (): Promise<void> => succession.settled, lastTime: record?.lastTime ?? 0 } : {}),
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
        lastBrokerBroadcast = { time, uris: [...uris] };
        handover.begin(
          time,
          registry.workerMembers().map((m) => m.socketId).filter((id) => handoverWorkers.has(id)),
        );
      }
      persistQuietly();
    },
  });

  const succession: Succession = new Succession({
    replication,
    registry,
    logger,
    state: () => {
      const progress = handover.progress();
      return {
        withdrawn: links.withdrawn(),
        lastTime: notifier.newestTime,
        handover: progress && lastBrokerBroadcast?.time === progress.time ? { time: progress.time, phase: progress.phase, brokers: lastBrokerBroadcast.uris } : null,
      };
    },
    onSettled: (forgotten) => {
      const timeout = replication?.rejoinTimeoutMs;
      for (const uri of forgotten.brokers) events.record('left', `broker ${uri} did not re-join within ${timeout} ms`, uri);
      for (const uri of forgotten.workers) events.record('left', `worker ${uri} did not re-join within ${timeout} ms`, uri);
      if (forgotten.brokers.length > 0) links.brokersChanged();
      notifier.changed('brokers', forgotten.brokers.length > 0 ? 'back' : 'out', 0);
      if (forgotten.workers.length > 0) notifier.changed('workers', 'back', 0);
    },
  });
  const persist = (): Promise<void> => succession.persist();
  const persistQuietly = (): void => succession.persistQuietly();
  let closedForGood = false;

  // A withdrawal is pushed at once: until then the cut-off worker and the others disagree on where
  // the broker's channels go (the reports of the other workers that follow change nothing more).
  listChanged = (direction) => {
    notifier.changed('brokers', direction, direction === 'back' ? 0 : undefined);
    persistQuietly();
  };
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
    ...(replication ? { replication: () => ({ ...replication.view(), term: replication.term, rejoining: { brokers: registry.rejoining(InstanceType.Broker), workers: registry.rejoining(InstanceType.Worker) }, settling: succession.settling }) } : {}),
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
    // A peer relayed by a follower replica: the follower says whom it relays, with a proof only
    // replicas sharing the key can make (anyone else's header is ignored).
    const relayedFor = socket.request.headers[RELAYED_FOR_HEADER];
    const proof = socket.request.headers[RELAY_PROOF_HEADER];
    if (replication && typeof relayedFor === 'string' && typeof proof === 'string') {
      const expected = Buffer.from(relayProof(replication.relayKey, relayedFor));
      const given = Buffer.from(proof);
      if (expected.length === given.length && timingSafeEqual(expected, given)) return relayedFor;
    }
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
    persistQuietly();
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
    succession.memberJoined();
    if (changed) {
      persistQuietly();
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
        void replyToWorker(request, joinedAs.member, joinedAs.worker);
      }
    })();
    async function replyToWorker(request: Request, member: Member, worker: WorkerJoinPayload | null): Promise<void> {
      // The reply lists what is stored, so a leader that dies next leaves no worker ahead of its
      // record: saved again while members joined or left during the save (bounded: under constant
      // churn the reply goes out with the last save).
      try {
        for (let saves = 0; saves === 0 || (!succession.current && saves < MAX_SAVES_BEFORE_REPLY); saves += 1) await persist();
      } catch (error) {
        request.error(error as Error);
        return;
      }
      // Decided with the reply's time, in one turn: a push that follows has a newer time, and one
      // already sent (older) is not waited for. A re-joining worker of ours that routes by brokers
      // not joined here (this server has just come back: restarted, or healed from a partition, and
      // they have not re-joined yet) keeps its list; so does one joining a new leader that still
      // waits for the last record's members. The settled list follows as a coordinated push, so no
      // worker is handed a partial one.
      const joined = new Set(registry.brokerURIs());
      const unknownBrokers = worker?.sccBrokerURIs?.some((uri) => !joined.has(uri)) ?? false;
      if (unknownBrokers) {
        notifier.changed('brokers', 'out');
        logger.info(`worker ${member.uri} routes by brokers not joined here yet: it keeps its list until the settled one is pushed`);
      }
      // And one already taking part in a coordinated handover (pushed while its join waited for the
      // save): the reply must not replace that round's list with an uncoordinated copy of it, or the
      // round would wait for this worker's acknowledgements until its timeout.
      const inRound = handover.progress()?.participants.includes(member.socketId) ?? false;
      const pushFollows = unknownBrokers || (worker?.sccHandover === true && (succession.settling || inRound));
      const withdrawn = links.withdrawn();
      const reply: WorkerJoinReply = {
        sccWorkerURIs: registry.workerURIs(),
        sccBrokerURIs: publishedBrokers(),
        time: notifier.nextTime(),
        sccSourceWorkerURI: member.uri,
        sccHandover: true,
        ...(pushFollows ? { sccPushFollows: true } : {}),
        ...(withdrawn.length > 0 ? { sccWithdrawn: withdrawn } : {}),
        ...termField,
      };
      request.end(reply);
    }
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

  if (!acceptingWorkers && config.startupDelayMs > 0) {
    logger.info(`waiting ${config.startupDelayMs} ms for initial scc-broker instances before allowing scc-worker instances to join`);
  }

  let closing: Promise<void> | undefined;
  return {
    registry,
    handleUpgrade(request, socket, head) {
      if (closedForGood) {
        socket.destroy();
        return;
      }
      upgraded.add(socket);
      socket.once('close', () => upgraded.delete(socket));
      innerServer.emit('upgrade', request, socket, head);
    },
    handleRequest: (req, res) => view?.handle(req, res) === true || dashboard.handle(req, res),
    connections: () => sockets.size,
    links() {
      const v = links.view();
      return { unreachable: v.unreachable.length, withdrawn: v.withdrawn.length, withdrawals: links.withdrawals };
    },
    rejoining: () => ({ brokers: registry.rejoining(InstanceType.Broker), workers: registry.rejoining(InstanceType.Worker) }),
    close() {
      closing ??= (async () => {
        closedForGood = true;
        clearTimeout(startupTimer);
        succession.close();
        dashboard.close();
        notifier.close();
        links.close();
        handover.close();
        for (const socket of sockets.values()) void socket.disconnect(STATE_SHUTDOWN_CLOSE_CODE, 'scc-state shutting down');
        agServer.close();
        agServer.closeAllListeners();
        // A peer that never answers its close frame must not hold the exit or keep a replaced
        // leader's connection: after a grace, what is still open is dropped.
        if (upgraded.size > 0) {
          await new Promise((resolve) => setTimeout(resolve, CLOSE_HANDSHAKE_GRACE_MS).unref());
          const dropped = upgraded.size;
          for (const socket of upgraded) socket.destroy();
          if (dropped > 0) logger.info({ dropped }, `dropped ${dropped} connections whose peer did not finish closing`);
        }
        logger.debug(`coordinator closed after ${Date.now() - startedAt} ms`);
      })();
      return closing;
    },
  };
}
