/**
 * Leader election through etcd (the `etcd3` client): each replica holds one lease for its life and
 * keeps it alive every third of the time-to-live; under it, its presence key (`replicas/<id>`) and,
 * while it leads, the leader key. Electing is one transaction, "create the leader key if it does not
 * exist", so etcd alone decides; the term is the leader key's create revision, which only grows.
 * The membership record is written by a transaction that compares that create revision: a replaced
 * leader's write changes nothing.
 *
 * Fencing: a leader whose lease renewal has not succeeded by (when the renewal that did succeed was
 * sent) + the time-to-live etcd granted − a margin steps down, before etcd can expire the lease and
 * elect another. Followers read the leader key every sixth of the time-to-live (a watch would be
 * faster to hear but slower to recover: etcd3 backs a broken watch off for up to 30 s).
 */
import { hostname } from 'node:os';
import { Etcd3, type Lease } from 'etcd3';
import { noop } from 'cockatiel';
import type { Logger } from '@scc-ts/shared';
import {
  MembershipRecordError,
  NotLeaderError,
  parseMembershipRecord,
  type LeaderInfo,
  type LeaderStore,
  type LeadershipHandlers,
  type MembershipRecord,
  type ReplicaInfo,
  type StoreOptions,
} from './store.js';

export interface EtcdStoreOptions extends StoreOptions {
  /** etcd URLs (`http://host:2379`). */
  endpoints: readonly string[];
  /** Key prefix of this cluster (ends with `/`). */
  prefix: string;
  logger: Logger;
}

/** Share of the time-to-live kept back from the lease's expiry before a leader steps down. */
const STEP_DOWN_MARGIN_FRACTION = 1 / 6;

export class EtcdStore implements LeaderStore {
  readonly kind = 'etcd';
  private readonly client: Etcd3;
  private readonly options: EtcdStoreOptions;
  private readonly ttlSeconds: number;
  private readonly keys: { leader: string; record: string; replicas: string };
  private handlers: LeadershipHandlers | null = null;
  private lease: Lease | null = null;
  private leaseId: string | null = null;
  /** Clock ms until which this replica's lease is certainly alive in etcd (0: not known to be). */
  private validUntil = 0;
  private lastRenewal = 0;
  /** The term this replica leads under, or null while it follows. */
  private term: number | null = null;
  private leader: LeaderInfo | null = null;
  private storeUp: boolean | null = null;
  private timer: NodeJS.Timeout | undefined;
  /** Fires at the step-down deadline, whatever the loop is waiting on (a call can take its whole deadline). */
  private deadlineTimer: NodeJS.Timeout | undefined;
  private busy = false;
  private closed = false;

  constructor(options: EtcdStoreOptions) {
    this.options = options;
    // etcd grants whole seconds (and at least its minimum, 2 s with its default election timeout).
    this.ttlSeconds = Math.max(1, Math.ceil(options.leaseTtlMs / 1000));
    const prefix = options.prefix.endsWith('/') ? options.prefix : `${options.prefix}/`;
    this.keys = { leader: `${prefix}leader`, record: `${prefix}membership`, replicas: `${prefix}replicas/` };
    const callMs = Math.max(250, Math.floor(options.leaseTtlMs / 3));
    this.client = new Etcd3({
      hosts: [...options.endpoints],
      dialTimeout: callMs,
      // Every call is bounded well inside the lease; retries are this class's loop, not the client's
      // (its default retries and circuit breaker would hold a renewal past the step-down deadline).
      defaultCallOptions: () => ({ deadline: Date.now() + callMs }),
      faultHandling: { host: () => noop, global: noop },
    });
  }

  start(handlers: LeadershipHandlers): void {
    if (this.handlers) throw new Error('EtcdStore.start() called twice');
    this.handlers = handlers;
    const tickMs = Math.max(100, Math.floor(this.options.leaseTtlMs / 6));
    const tick = (): void => {
      if (this.closed) return;
      void this.step().finally(() => {
        if (!this.closed) this.timer = setTimeout(tick, tickMs);
      });
    };
    tick();
  }

  /** One turn of the loop: keep the lease, then lead (renew, check) or follow (read, campaign). */
  private async step(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      this.checkDeadline();
      await this.keepLease();
      if (this.term !== null) await this.confirmLeadership();
      else await this.follow();
      this.status(true);
    } catch (error) {
      this.status(false, error as Error);
      this.checkDeadline();
    } finally {
      this.busy = false;
    }
  }

  /** A leader past its deadline steps down now, before etcd can hand the lease's keys to another. */
  private checkDeadline(): void {
    if (this.term === null || Date.now() < this.stepDownAt()) return;
    this.stepDown(`lease renewal not confirmed within ${this.options.leaseTtlMs} ms`);
    // The lease may still be alive in etcd; it is of no more use: a new one is granted later.
    this.dropLease();
  }

  private stepDownAt(): number {
    return this.validUntil - this.ttlSeconds * 1000 * STEP_DOWN_MARGIN_FRACTION;
  }

  /** (Re)arms the step-down timer for the lease as last renewed, while leading. */
  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    if (this.term === null || this.closed) return;
    this.deadlineTimer = setTimeout(() => this.checkDeadline(), Math.max(0, this.stepDownAt() - Date.now()));
  }

  /** Grants the lease (and the presence key) when there is none, and renews it every third of its time. */
  private async keepLease(): Promise<void> {
    if (this.lease === null) {
      const sentAt = Date.now();
      const lease = this.client.lease(this.ttlSeconds, { autoKeepAlive: false });
      lease.on('lost', () => undefined);
      this.leaseId = await lease.grant();
      this.lease = lease;
      this.validUntil = sentAt + this.ttlSeconds * 1000;
      this.lastRenewal = sentAt;
      const self: ReplicaInfo = this.options.self;
      await this.client.put(`${this.keys.replicas}${self.id}`).value(JSON.stringify(self)).lease(this.leaseId);
      return;
    }
    if (Date.now() - this.lastRenewal < (this.ttlSeconds * 1000) / 3) return;
    const sentAt = Date.now();
    let ttl: number;
    try {
      const response = await this.lease.keepaliveOnce();
      ttl = Number(response.TTL);
    } catch (error) {
      // An expired lease (TTL 0) or a lease etcd forgot: start over with a new one.
      if ((error as Error).name === 'EtcdLeaseInvalidError') this.dropLease();
      throw error;
    }
    if (!(ttl > 0)) {
      this.dropLease();
      throw new Error('lease expired in etcd');
    }
    this.lastRenewal = sentAt;
    this.validUntil = sentAt + ttl * 1000;
    this.armDeadline();
  }

  private dropLease(): void {
    this.lease?.release();
    this.lease = null;
    this.leaseId = null;
    this.validUntil = 0;
  }

  /** A leader checks the leader key is still its own (a deleted key or another holder: step down). */
  private async confirmLeadership(): Promise<void> {
    const kv = await this.client.get(this.keys.leader).exec();
    const entry = kv.kvs[0];
    if (!entry || Number(entry.create_revision) !== this.term) this.stepDown('the leader key is no longer this replica’s');
  }

  /** A follower learns the leader, and campaigns when there is none. */
  private async follow(): Promise<void> {
    if (this.leaseId === null) return;
    const self = this.options.self;
    const value = JSON.stringify({ id: self.id, address: self.address } satisfies ReplicaInfo);
    const result = await this.client
      .if(this.keys.leader, 'Create', '==', 0)
      .then(this.client.put(this.keys.leader).value(value).lease(this.leaseId), this.client.get(this.keys.record))
      .else(this.client.get(this.keys.leader))
      .commit();
    if (result.succeeded) {
      const term = Number(result.header.revision);
      const recordKv = result.responses[1]?.response_range?.kvs[0];
      let record: MembershipRecord | null = null;
      if (recordKv) {
        try {
          record = parseMembershipRecord(recordKv.value.toString());
        } catch (error) {
          this.options.logger.error({ err: error as MembershipRecordError }, `ignored the stored membership record: ${(error as Error).message}`);
        }
      }
      this.term = term;
      this.armDeadline();
      this.setLeader({ id: self.id, address: self.address, term });
      this.handlers?.elected(term, record);
      return;
    }
    const entry = result.responses[0]?.response_range?.kvs[0];
    if (!entry) {
      this.setLeader(null);
      return;
    }
    let parsed = parseReplicaValue(entry.value.toString());
    // A leader key with this replica's own id, while it does not lead, is its previous life's (a
    // restart before that lease expired): nobody serves under it, an election follows its expiry.
    if (parsed?.id === self.id) parsed = null;
    this.setLeader(parsed ? { ...parsed, term: Number(entry.create_revision) } : null);
  }

  private setLeader(leader: LeaderInfo | null): void {
    const same = leader?.id === this.leader?.id && leader?.term === this.leader?.term && leader?.address === this.leader?.address;
    if (same) return;
    this.leader = leader;
    this.handlers?.leaderChanged(leader);
  }

  private stepDown(reason: string): void {
    if (this.term === null) return;
    this.term = null;
    clearTimeout(this.deadlineTimer);
    this.setLeader(null);
    this.handlers?.deposed(reason);
  }

  private status(up: boolean, error?: Error): void {
    if (this.storeUp === up) return;
    const first = this.storeUp === null;
    this.storeUp = up;
    if (up && !first) this.options.logger.info({ store: 'etcd' }, 'etcd answers again');
    if (!up) this.options.logger.warn({ store: 'etcd', err: error }, `etcd does not answer (${this.options.endpoints.join(', ')}): ${error?.message ?? 'unknown'}`);
    this.handlers?.storeStatus(up);
  }

  async save(record: MembershipRecord): Promise<void> {
    if (this.term === null || record.term !== this.term) throw new NotLeaderError(`this replica does not lead under term ${record.term}`);
    const result = await this.client
      .if(this.keys.leader, 'Create', '==', this.term)
      .then(this.client.put(this.keys.record).value(JSON.stringify(record)))
      .commit();
    if (!result.succeeded) {
      this.stepDown('the leader key is no longer this replica’s');
      throw new NotLeaderError(`term ${record.term} no longer leads: the record was not written`);
    }
  }

  async replicas(): Promise<ReplicaInfo[] | null> {
    const values = await this.client.getAll().prefix(this.keys.replicas).strings();
    const replicas: ReplicaInfo[] = [];
    for (const text of Object.values(values)) {
      const replica = parseReplicaValue(text);
      if (replica) replicas.push(replica);
    }
    return replicas.sort((a, b) => a.id.localeCompare(b.id));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    const leading = this.term !== null;
    this.stepDown('closing');
    // Resign: revoking the lease deletes the leader and presence keys, so the next replica need not
    // wait for the time-to-live.
    if (this.lease) await this.lease.revoke().catch(() => undefined);
    if (leading) this.options.logger.info('resigned the leadership (lease revoked)');
    this.client.close();
  }
}

/**
 * The `{id, address}` a replica writes under its presence key and, leading, the leader key; null for
 * a value this version did not write (not JSON, or without both strings).
 */
function parseReplicaValue(text: string): ReplicaInfo | null {
  try {
    const v = JSON.parse(text) as Partial<ReplicaInfo>;
    return typeof v.id === 'string' && typeof v.address === 'string' ? { id: v.id, address: v.address } : null;
  } catch {
    return null;
  }
}

/** This replica's default id: host name and process id. */
export function defaultReplicaId(): string {
  return `${hostname()}-${process.pid}`;
}
