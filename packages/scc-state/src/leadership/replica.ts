/**
 * One replica of a replicated scc-state: it campaigns through its store, runs a coordinator for
 * each term it leads (started from the last membership record, saving every change to it) and, while
 * it follows, passes peer connections through to the leader (relay.ts). Stepping down closes the
 * coordinator, so its peers reconnect and reach the new leader through whichever replica they dial.
 */
import { LogEvent, type Logger } from '@scc-ts/shared';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Coordinator, Replication } from '../coordinator.js';
import type { ReplicationFigures } from '../metrics.js';
import { Relay } from './relay.js';
import type { LeaderInfo, LeaderStore, MembershipRecord, ReplicaInfo } from './store.js';

/** A replica's standing, for /ready, the cluster view and logs. */
export interface ReplicaView {
  store: string;
  role: 'leader' | 'follower';
  self: ReplicaInfo;
  /** The leader as this replica knows it (itself while it leads), or null during an election. */
  leader: LeaderInfo | null;
  storeUp: boolean;
  /** Replicas the store lists, with their role (null: the store cannot list them). */
  replicas: Array<ReplicaInfo & { role: 'leader' | 'follower' }> | null;
  /** Times this replica was elected. */
  elections: number;
  /** Peer connections this follower passes through to the leader now. */
  relayed: number;
}

export interface ReplicaOptions {
  store: LeaderStore;
  self: ReplicaInfo;
  leaseTtlMs: number;
  rejoinTimeoutMs: number;
  relayKey: string;
  logger: Logger;
  /** Starts the coordinator of a term. */
  startCoordinator(replication: Replication): Coordinator;
}

export class Replica {
  private coordinatorNow: Coordinator | null = null;
  private leader: LeaderInfo | null = null;
  private storeUp = false;
  private elections = 0;
  private replicaList: ReplicaInfo[] | null = null;
  /** When this replica last saw no leader (or started), for the election time it logs. */
  private leaderlessSince = Date.now();
  private replicasTimer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly relay: Relay;

  constructor(private readonly options: ReplicaOptions) {
    this.relay = new Relay({
      target: () => (this.leader && this.leader.id !== this.options.self.id ? this.leader : null),
      relayKey: options.relayKey,
      // Covers an election: the dead leader's lease running out, plus the new leader starting.
      holdMs: options.leaseTtlMs * 2,
      dispatch: (request, socket, head) => this.upgrade(request, socket, head),
      logger: options.logger,
    });
  }

  /** The coordinator while this replica leads, else null. */
  get coordinator(): Coordinator | null {
    return this.coordinatorNow;
  }

  /** Serves a WebSocket upgrade: here while leading, else through to the leader (or held until one is known). */
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.coordinatorNow) this.coordinatorNow.handleUpgrade(request, socket, head);
    else this.relay.upgrade(request, socket, head);
  }

  start(): void {
    const { store, logger, self } = this.options;
    store.start({
      elected: (term, record) => this.elected(term, record),
      deposed: (reason) => this.deposed(reason),
      leaderChanged: (leader) => {
        const before = this.leader;
        this.leader = leader;
        if (leader === null) this.leaderlessSince = Date.now();
        if (before?.id !== leader?.id || before?.term !== leader?.term) {
          logger.info({ event: LogEvent.LeaderChanged, leader }, leader ? `leader: ${leader.id} at ${leader.address} (term ${leader.term})` : 'no leader known');
        }
        // Relayed connections are not dropped here: one to a dead leader ends with its TCP
        // connection, one to a leader that stepped down is closed by it, and one to a leader cut
        // off ends at the peer's ping timeout (the link timeout). Dropping them on every change would
        // also drop those relayed on to a replica restarted on the old address, which passes them to
        // the new leader: their peers would re-join twice.
        if (leader && leader.id !== self.id) this.relay.release();
      },
      storeStatus: (up) => {
        this.storeUp = up;
      },
    });
    this.refreshReplicas();
    this.replicasTimer = setInterval(() => this.refreshReplicas(), Math.max(250, Math.floor(this.options.leaseTtlMs / 2)));
    this.replicasTimer.unref();
  }

  /** Reads the replicas the store lists (for the view and metrics; a failed read keeps the last list). */
  private refreshReplicas(): void {
    void this.options.store.replicas().then(
      (list) => {
        this.replicaList = list;
      },
      (error: unknown) => this.options.logger.debug(`replica list not read: ${(error as Error).message}`),
    );
  }

  private elected(term: number, record: MembershipRecord | null): void {
    if (this.closed) return;
    const { logger, store } = this.options;
    this.elections += 1;
    const electedMs = Date.now() - this.leaderlessSince;
    void this.coordinatorNow?.close();
    this.coordinatorNow = this.options.startCoordinator({
      term,
      record,
      save: (r) => store.save(r),
      rejoinTimeoutMs: this.options.rejoinTimeoutMs,
      relayKey: this.options.relayKey,
      view: () => this.view(),
    });
    logger.info({ event: LogEvent.Elected, term, store: store.kind, electedMs }, `elected leader of the state servers (term ${term}, through ${store.kind}, ${electedMs} ms after the last leader was lost)`);
    // Connections this replica relayed to the last leader: their peers reconnect, here.
    this.relay.dropRelayed();
    this.relay.release();
    this.refreshReplicas();
  }

  private deposed(reason: string): void {
    const coordinator = this.coordinatorNow;
    this.coordinatorNow = null;
    if (!coordinator) return;
    const level = this.closed ? 'info' : 'warn';
    this.options.logger[level]({ event: LogEvent.SteppedDown, reason }, `stepped down as leader: ${reason}; peers reconnect to the next leader`);
    void coordinator.close();
  }

  /** This replica's standing now. */
  view(): ReplicaView {
    const leading = this.coordinatorNow !== null;
    const leaderId = leading ? this.options.self.id : this.leader?.id;
    return {
      store: this.options.store.kind,
      role: leading ? 'leader' : 'follower',
      self: this.options.self,
      leader: this.leader,
      storeUp: this.storeUp,
      replicas: this.replicaList?.map((r) => ({ ...r, role: r.id === leaderId ? 'leader' : 'follower' })) ?? null,
      elections: this.elections,
      relayed: this.relay.open,
    };
  }

  /** The replication series of /metrics. */
  figures(): ReplicationFigures {
    return {
      leader: this.coordinatorNow !== null,
      term: this.leader?.term ?? 0,
      storeUp: this.storeUp,
      elections: this.elections,
      replicas: this.replicaList?.length ?? null,
    };
  }

  /** Resigns (the next leader need not wait for the lease), closes the coordinator and the relay. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.replicasTimer);
    this.relay.close();
    const coordinator = this.coordinatorNow;
    await this.options.store.close();
    this.coordinatorNow = null;
    await coordinator?.close();
  }
}
