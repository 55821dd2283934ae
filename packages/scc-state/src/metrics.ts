/**
 * scc-state's Prometheus series. Membership gauges read the registry at scrape time; pushes,
 * broadcasts and refusals are counted by the one-line hooks the server calls.
 */
import { Counter, Gauge } from 'prom-client';
import {
  Procedure,
  SCC_TS_VERSION,
  createMetricsRegistry,
  gaugeFrom,
  counterFrom,
  limitCounters,
  type LimitCounts,
  handshakeRefusalCounter,
  type MetricsRegistry,
  type ProcedureName,
} from '@scc-ts/shared';
import type { Registry } from './registry.js';
import type { ListKind } from './notifier.js';

/** Why a join was refused (label of `scc_state_join_refusals_total`). */
export type JoinRefusalReason = 'startup_delay' | 'invalid_payload' | 'instance_type_mismatch';

export interface StateMetrics {
  readonly registry: MetricsRegistry;
  handshakeRefused(error: Error): void;
  joinRefused(reason: JoinRefusalReason): void;
  /** One push call to one worker finished, acknowledged or not. */
  pushed(procedure: ProcedureName, ok: boolean): void;
  /** A list was broadcast to every worker at `time` (ms since the epoch). */
  broadcast(kind: ListKind, time: number): void;
}

/** A replica's standing, for the replication series. */
export interface ReplicationFigures {
  /** 1 while this replica leads. */
  leader: boolean;
  /** The leader's term as this replica knows it (0: none known). */
  term: number;
  /** Whether the election store answers. */
  storeUp: boolean;
  /** Times this replica became the leader. */
  elections: number;
  /** Replicas the store lists (null: it cannot list them). */
  replicas: number | null;
}

export interface StateMetricsSources {
  /** The membership served now (null: this replica does not lead). */
  members: () => Registry | null;
  /** Open peer sockets (joined or not). */
  connections: () => number;
  /** What the server's ws engine refused (hardenedServerOptions().wsEngine.counters). */
  limits: Readonly<LimitCounts>;
  /** Worker → broker links reported unreachable, and the withdrawals they caused. */
  links: () => { unreachable: number; withdrawn: number; withdrawals: number };
  /** Replicated state servers only. */
  replication?: () => ReplicationFigures;
}

/** Builds scc-state's registry: default Node metrics plus the `scc_state_*` series. */
export function createStateMetrics(sources: StateMetricsSources): StateMetrics {
  const registry = createMetricsRegistry('scc-state', SCC_TS_VERSION);
  const { members } = sources;
  gaugeFrom(registry, 'scc_state_brokers', 'Brokers listed (distinct URIs)', () => members()?.brokerURIs().length ?? 0);
  gaugeFrom(registry, 'scc_state_workers', 'Workers listed (distinct URIs)', () => members()?.workerURIs().length ?? 0);
  const replication = sources.replication;
  if (replication) {
    gaugeFrom(registry, 'scc_state_leader', '1 while this replica leads the state servers', () => (replication().leader ? 1 : 0));
    gaugeFrom(registry, 'scc_state_term', "The leader's term as this replica knows it (0: none known)", () => replication().term);
    gaugeFrom(registry, 'scc_state_store_up', '1 while the election store (etcd or the Kubernetes API) answers', () => (replication().storeUp ? 1 : 0));
    counterFrom(registry, 'scc_state_elections_total', 'Times this replica became the leader', () => replication().elections);
    gaugeFrom(registry, 'scc_state_replicas', 'State server replicas the store lists (absent where it cannot list them)', () => replication().replicas ?? 0);
  }
  gaugeFrom(registry, 'scc_state_connections', 'Open peer sockets (brokers and workers, joined or not)', sources.connections);
  gaugeFrom(registry, 'scc_state_unreachable_links', 'Worker → broker links that workers report unreachable', () => sources.links().unreachable);
  gaugeFrom(registry, 'scc_state_withdrawn_brokers', 'Joined brokers withdrawn from the published list (unreachable from some worker)', () => sources.links().withdrawn);
  counterFrom(registry, 'scc_state_broker_withdrawals_total', 'Brokers withdrawn from the published list because a worker could not reach them', () => sources.links().withdrawals);
  limitCounters(registry, 'scc_state', sources.limits);
  const handshakeRefused = handshakeRefusalCounter(registry);
  const joinRefusals = new Counter({
    name: 'scc_state_join_refusals_total',
    help: 'Join calls refused, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of ['startup_delay', 'invalid_payload', 'instance_type_mismatch']) joinRefusals.inc({ reason }, 0);
  const pushes = new Counter({
    name: 'scc_state_pushes_total',
    help: 'Membership pushes to individual workers (retries included), by list and result',
    labelNames: ['list', 'result'] as const,
    registers: [registry],
  });
  const broadcasts = new Counter({
    name: 'scc_state_broadcasts_total',
    help: 'Membership lists broadcast to every worker, by list',
    labelNames: ['list'] as const,
    registers: [registry],
  });
  const lastBroadcast = new Gauge({
    name: 'scc_state_last_broadcast_timestamp_seconds',
    help: 'Unix time of the last broadcast of each list (absent before the first)',
    labelNames: ['list'] as const,
    registers: [registry],
  });
  for (const list of ['brokers', 'workers']) {
    broadcasts.inc({ list }, 0);
    for (const result of ['ok', 'error']) pushes.inc({ list, result }, 0);
  }
  return {
    registry,
    handshakeRefused,
    joinRefused: (reason) => joinRefusals.inc({ reason }),
    pushed(procedure, ok) {
      const list = procedure === Procedure.BrokerJoinCluster || procedure === Procedure.BrokerLeaveCluster ? 'brokers' : 'workers';
      pushes.inc({ list, result: ok ? 'ok' : 'error' });
    },
    broadcast(kind, time) {
      broadcasts.inc({ list: kind });
      lastBroadcast.set({ list: kind }, time / 1000);
    },
  };
}
