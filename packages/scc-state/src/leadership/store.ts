/**
 * Leader election and the membership record, through an existing store (etcd, or a Kubernetes
 * Lease): never a consensus protocol of our own. A store elects at most one replica at a time,
 * fences it by lease expiry and a term, and keeps the leader's last membership record, written only
 * under the term that leads. The replica (replica.ts) runs the coordinator only while it leads.
 *
 * Guarantee every store gives: `deposed()` is called before another replica can be elected, that is
 * before the lease this replica last renewed can expire anywhere (the local deadline counts from
 * when the renewal that succeeded was sent, so it is earlier than the store's expiry).
 */
import type { HandoverPhase } from '@scc-ts/shared';

/** The replica that leads, as every replica learns it from the store. */
export interface LeaderInfo {
  /** The replica's id (SCC_INSTANCE_ID, else host name and pid). */
  id: string;
  /** `host:port` other replicas pass connections through to. */
  address: string;
  /** Grows by at least one with every change of leader; pushes carry it (`sccTerm`). */
  term: number;
}

/** A replica the store knows of (leader or follower). */
export interface ReplicaInfo {
  id: string;
  address: string;
}

/** The handover the leader had in progress when it saved the record. */
export interface PersistedHandover {
  /** The broker list's `time`. */
  time: number;
  phase: HandoverPhase;
  /** The list being handed over to. */
  brokers: string[];
}

/** What a leader saves after every membership change, and a new leader starts from. */
export interface MembershipRecord {
  /** Record format; a replica refuses a record of a format it does not know. */
  version: 1;
  /** The term that wrote it. */
  term: number;
  /** Joined broker URIs, in join order. */
  brokers: string[];
  /** Joined worker URIs, in join order. */
  workers: string[];
  /** Brokers withdrawn from the published list (unreachable from some worker). */
  withdrawn: string[];
  /** The newest list `time` handed out: a new leader's times are greater. */
  lastTime: number;
  handover: PersistedHandover | null;
  /** When it was written, ms since the epoch (for views only). */
  savedAt: number;
}

export const MEMBERSHIP_RECORD_VERSION = 1;

/** What a store tells the replica. */
export interface LeadershipHandlers {
  /** This replica leads now under `term`; `record` is the last one saved (null: none yet). */
  elected(term: number, record: MembershipRecord | null): void;
  /** This replica no longer leads (renewal failed or late, store unreachable, lease lost, closed). */
  deposed(reason: string): void;
  /** The leader as this replica now sees it, or null while none is known. */
  leaderChanged(leader: LeaderInfo | null): void;
  /** Whether the store answers (for metrics and /ready). */
  storeStatus(up: boolean): void;
}

/** One election backend. */
export interface LeaderStore {
  /** 'etcd' or 'kubernetes', for logs, metrics and the view. */
  readonly kind: string;
  /** Starts campaigning (and watching the leader). Call once. */
  start(handlers: LeadershipHandlers): void;
  /**
   * Saves the record, fenced: it is written only while this replica still leads under
   * `record.term`. Rejects with NotLeaderError otherwise (nothing is written), or with the store's
   * error when it does not answer.
   */
  save(record: MembershipRecord): Promise<void>;
  /** Replicas the store knows of now, or null when this store cannot list them. */
  replicas(): Promise<ReplicaInfo[] | null>;
  /** Resigns (the next replica need not wait for the lease to expire) and stops. Safe to call twice. */
  close(): Promise<void>;
}

/** What every store is built with. */
export interface StoreOptions {
  /** This replica's id and the address it serves peers on. */
  self: ReplicaInfo;
  /** Lease time-to-live, ms: a dead leader is replaced within about this long. */
  leaseTtlMs: number;
}

/** A fenced write from a replica that does not lead (any more) under the record's term. */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
}

/** A membership record the store holds that this replica cannot use (bad JSON, unknown version). */
export class MembershipRecordError extends Error {
  override readonly name = 'MembershipRecordError';
}

/** Parses a stored record; throws MembershipRecordError naming what is wrong. */
export function parseMembershipRecord(text: string): MembershipRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new MembershipRecordError(`membership record is not JSON: ${(error as Error).message}`);
  }
  const r = value as Partial<MembershipRecord> | null;
  if (r === null || typeof r !== 'object') throw new MembershipRecordError('membership record is not an object');
  if (r.version !== MEMBERSHIP_RECORD_VERSION) throw new MembershipRecordError(`membership record version ${JSON.stringify(r.version)} is not ${MEMBERSHIP_RECORD_VERSION}`);
  const strings = (v: unknown, what: string): string[] => {
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw new MembershipRecordError(`membership record: ${what} must be a list of strings`);
    return v as string[];
  };
  const count = (v: unknown, what: string): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new MembershipRecordError(`membership record: ${what} must be a whole number ≥ 0`);
    return v;
  };
  let handover: PersistedHandover | null = null;
  if (r.handover !== null && r.handover !== undefined) {
    const h = r.handover as Partial<PersistedHandover>;
    if (h.phase !== 'subscribed' && h.phase !== 'switched') throw new MembershipRecordError('membership record: handover.phase must be subscribed or switched');
    handover = { time: count(h.time, 'handover.time'), phase: h.phase, brokers: strings(h.brokers, 'handover.brokers') };
  }
  return {
    version: MEMBERSHIP_RECORD_VERSION,
    term: count(r.term, 'term'),
    brokers: strings(r.brokers, 'brokers'),
    workers: strings(r.workers, 'workers'),
    withdrawn: strings(r.withdrawn ?? [], 'withdrawn'),
    lastTime: count(r.lastTime, 'lastTime'),
    handover,
    savedAt: count(r.savedAt ?? 0, 'savedAt'),
  };
}
