/**
 * scc-state: the state server's HTTP port. It answers health, readiness and metrics itself and hands
 * everything else to the coordinator (coordinator.ts): for its whole life as the single state server
 * of the original, or, as one of several replicas (SCC_STATE_SERVER_ETCD_ENDPOINTS or
 * SCC_STATE_SERVER_KUBERNETES_LEASE), only while it leads; a follower passes connections through
 * to the leader (leadership/relay.ts), so peers may dial any replica.
 */
import { networkInterfaces } from 'node:os';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  hardenedServerOptions,
  warnIfUnauthenticated,
  handleHealthRequest,
  listen,
  startHealthResponder,
  closedWithin,
  trackConnections,
  notFound,
  hostPort,
  type Logger,
  type StateConfig,
  type Readiness,
} from '@scc-ts/shared';
import type { Registry } from './registry.js';
import { createStateMetrics, type StateMetrics } from './metrics.js';
import { startCoordinator, type Coordinator } from './coordinator.js';
import { Replica } from './leadership/replica.js';
import { EtcdStore, defaultReplicaId } from './leadership/etcd.js';
import { kubernetesStoreFromServiceAccount } from './leadership/kubernetes-service-account.js';
import type { LeaderStore, ReplicaInfo } from './leadership/store.js';

/** Answers 200 only on the leader of replicated state servers (and on the single state server). */
export const LEADER_PATH = '/leader';

export interface StateServer {
  /** The port actually bound (useful when configured with 0). */
  readonly port: number;
  /** The health responder's port (`SCC_HEALTH_PORT`, health.ts); null: health on `port` only. */
  readonly healthPort: number | null;
  /** The membership served now (null on a replica that does not lead). */
  readonly registry: Registry | null;
  readonly metrics: StateMetrics;
  /** The replica (null for the single state server). */
  readonly replica: Replica | null;
  close(): Promise<void>;
}

/** The host's first external IPv4 address, else the loopback one: where other replicas dial this one by default. */
function defaultReplicaHost(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}


/** The election store the configuration names. */
function makeStore(config: Readonly<StateConfig>, self: ReplicaInfo, logger: Logger): LeaderStore {
  const election = config.election;
  if (!election) throw new Error('no election configured');
  const { store } = election;
  if (store.kind === 'etcd') return new EtcdStore({ self, leaseTtlMs: election.leaseTtlMs, endpoints: store.endpoints, prefix: store.prefix, logger });
  // Inside a pod: the API server and credentials the service account mounts (KubernetesUnavailableError otherwise).
  return kubernetesStoreFromServiceAccount({ self, leaseTtlMs: election.leaseTtlMs, leaseName: store.lease, ...(store.namespace === null ? {} : { namespace: store.namespace }), logger });
}

/** Starts scc-state and resolves once it is listening. */
export async function startStateServer(config: Readonly<StateConfig>, logger: Logger): Promise<StateServer> {
  const hardened = hardenedServerOptions(config.limits, logger);
  let replica: Replica | null = null;
  let single: Coordinator | null = null;
  const current = (): Coordinator | null => single ?? replica?.coordinator ?? null;
  const metrics = createStateMetrics({
    members: () => current()?.registry ?? null,
    connections: () => current()?.connections() ?? 0,
    limits: hardened.wsEngine.counters,
    links: () => current()?.links() ?? { unreachable: 0, withdrawn: 0, withdrawals: 0 },
    ...(config.election ? { replication: () => replica?.figures() ?? { leader: false, term: 0, storeUp: false, elections: 0, replicas: null } } : {}),
  });

  const readiness = (): Readiness => {
    if (!replica) return { ready: true };
    const view = replica.view();
    // A follower that knows the leader serves peers (it passes them through); during an election none does.
    const ready = view.role === 'leader' || view.leader !== null;
    return { ready, role: view.role, leader: view.leader, storeUp: view.storeUp, ...(ready ? {} : { reason: 'no leader elected' }) } as Readiness;
  };
  const httpServer: Server = createServer((req, res) => {
    if (handleHealthRequest(req, res, readiness, metrics.registry)) return;
    if ((req.url ?? '/').split('?', 1)[0] === LEADER_PATH) {
      const leads = replica ? replica.coordinator !== null : true;
      res.writeHead(leads ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify({ leader: leads }));
      return;
    }
    const coordinator = current();
    if (coordinator?.handleRequest(req, res)) return;
    if (!coordinator && replica) {
      if (replica.relay.request(req, res)) return;
      // A follower during an election: the view is the leader's, and there is none yet.
      res.writeHead(503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Retry-After': '1' });
      res.end(JSON.stringify({ error: 'no state server leader is elected; try again shortly' }));
      return;
    }
    notFound(res);
  });
  httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (single) single.handleUpgrade(request, socket, head);
    else if (replica) replica.upgrade(request, socket, head);
    else socket.destroy();
  });
  const connections = trackConnections(httpServer);

  if (!config.election) single = startCoordinator(config, logger, { hardened, metrics, replication: null });
  const port = await listen(httpServer, config.port, config.bindHost);
  warnIfUnauthenticated(httpServer, config.authKey, 'scc-state', logger);

  if (config.election) {
    const election = config.election;
    const self: ReplicaInfo = {
      id: election.instanceId ?? defaultReplicaId(),
      address: hostPort(election.instanceIp ?? defaultReplicaHost(), port),
    };
    replica = new Replica({
      store: makeStore(config, self, logger),
      self,
      leaseTtlMs: election.leaseTtlMs,
      rejoinTimeoutMs: election.rejoinTimeoutMs,
      relayKey: config.authKey ?? '',
      logger,
      startCoordinator: (replication) => startCoordinator(config, logger, { hardened, metrics, replication }),
    });
    logger.info({ store: election.store.kind, id: self.id, address: self.address }, `replica ${self.id} (${self.address}) campaigns through ${election.store.kind}`);
    replica.start();
  }

  const health = config.healthPort === null ? null : await startHealthResponder({ port: config.healthPort, host: config.bindHost, readiness, logger }).catch(async (error: unknown) => {
    await Promise.all([single?.close(), replica?.close()]);
    httpServer.close();
    throw error;
  });

  let closing: Promise<void> | undefined;
  return {
    port,
    healthPort: health?.port ?? null,
    get registry() {
      return current()?.registry ?? null;
    },
    metrics,
    replica,
    close() {
      closing ??= (async () => {
        await Promise.all([single?.close(), replica?.close()]);
        // A peer that never answers its close frame must not hold the exit (see shutdown.ts).
        const dropped = await closedWithin(new Promise<void>((resolve) => httpServer.close(() => resolve())), connections);
        if (dropped > 0) logger.info({ dropped }, `dropped ${dropped} connections whose peer did not finish closing`);
        await health?.close();
      })();
      return closing;
    },
  };
}
