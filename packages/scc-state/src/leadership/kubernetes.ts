/**
 * The Kubernetes backend of leader election: one coordination.k8s.io/v1 Lease, run with client-go's
 * leader-election algorithm (tools/leaderelection: tryAcquireOrRenew, release), adapted:
 *
 * - `leaseDurationSeconds` = ceil(ttl / 1000); every replica tries to acquire or renew every ttl / 3.
 * - A follower trusts no other clock: it counts the lease as expired only when the Lease it read has
 *   kept the same resourceVersion for longer than its `leaseDurationSeconds`, on its own monotonic clock.
 * - Every write is a PUT carrying the resourceVersion last read, so of two replicas racing for an
 *   expired lease the API lets exactly one win (the other gets 409 Conflict). A missing Lease is
 *   created with POST (409 AlreadyExists: another replica did first), though the manifests create it
 *   so that the Role needs no `create`.
 * - The term is `spec.leaseTransitions`, incremented by every acquisition (client-go increments it on a
 *   change of holder; a replica re-acquiring its own lapsed lease is a new term here too).
 * - Fencing: the leader's deadline is (when its last successful renewal was sent) + the duration − a
 *   margin. Every follower's expiry counts from a read that came after that write, so `deposed()`
 *   fires before anyone else can acquire. `save()` is such a renewal, carrying the record.
 * - The holder's address and the membership record ride in the Lease's annotations
 *   (LEASE_ADDRESS_ANNOTATION, LEASE_MEMBERSHIP_ANNOTATION); an acquisition keeps the record, so the
 *   new leader starts from the last one saved.
 * - `close()` resigns as client-go's ReleaseOnCancel does (empty holder, duration 1 s), so a follower
 *   takes over on its next try instead of waiting out the lease.
 */
import { performance } from 'node:perf_hooks';
import { ConfigError, type Logger } from '@scc-ts/shared';
import {
  LeaseClient,
  LEASE_API_VERSION,
  KubernetesApiError,
  isConflict,
  microTime,
  type Lease,
} from './kubernetes-api.js';
import {
  NotLeaderError,
  MembershipRecordError,
  parseMembershipRecord,
  type LeaderInfo,
  type LeaderStore,
  type LeadershipHandlers,
  type MembershipRecord,
  type ReplicaInfo,
} from './store.js';
import { LEASE_ADDRESS_ANNOTATION, LEASE_MEMBERSHIP_ANNOTATION, optionProblems, type KubernetesLeaseStoreOptions } from './kubernetes-options.js';

/** Longest address annotation taken from a Lease; a longer one is ignored. */
const MAX_ADDRESS_LENGTH = 512;
/** API answers that refuse the request itself, not the store being unusable. */
const REFUSED_ON_ITS_MERITS: ReadonlySet<number> = new Set([400, 404, 422]);

/** Leader election and the membership record on one Kubernetes Lease. */
export class KubernetesLeaseStore implements LeaderStore {
  readonly kind = 'kubernetes';
  private readonly client: LeaseClient;
  private readonly logger: Logger;
  /** `leaseDurationSeconds` we write. */
  private readonly durationSeconds: number;
  /** Between two tries to acquire or renew, ms. */
  private readonly retryMs: number;
  /** Taken off the leader's deadline, ms: covers timer lateness and clocks running at slightly different rates. */
  private readonly marginMs: number;
  private handlers: LeadershipHandlers | null = null;
  private closing: Promise<void> | null = null;
  private loop: NodeJS.Timeout | null = null;
  private deadline: NodeJS.Timeout | null = null;
  /** The Lease as last read or written. */
  private lease: Lease | null = null;
  /** When `lease`'s resourceVersion was first seen here (monotonic ms). */
  private observedAt = 0;
  /** Our term while we lead. */
  private term: number | null = null;
  /** The resourceVersion our last successful write produced: close() releases only a Lease we wrote last. */
  private writtenVersion: string | null = null;
  /** Every write and the try loop's steps, one at a time, so that no two PUTs race each other. */
  private queue: Promise<unknown> = Promise.resolve();
  private reportedLeader: string | undefined = undefined;
  private storeUp: boolean | null = null;
  private lastProblem: string | null = null;

  constructor(private readonly options: KubernetesLeaseStoreOptions) {
    const problems = optionProblems(options);
    if (problems.length > 0) throw new ConfigError(problems);
    this.logger = options.logger.child({ store: 'kubernetes', lease: `${options.namespace}/${options.leaseName}` });
    this.durationSeconds = Math.ceil(options.leaseTtlMs / 1000);
    this.retryMs = Math.floor(options.leaseTtlMs / 3);
    this.marginMs = Math.ceil(this.retryMs / 2);
    this.client = new LeaseClient({
      apiServer: options.apiServer,
      namespace: options.namespace,
      leaseName: options.leaseName,
      token: options.token,
      ca: options.ca,
      // Under the retry period, so that a hung request never delays the next try.
      timeoutMs: Math.floor(this.retryMs * 0.8),
    });
  }

  start(handlers: LeadershipHandlers): void {
    if (this.handlers || this.closing) {
      this.logger.warn('start() called again; ignored');
      return;
    }
    this.handlers = handlers;
    this.schedule(0);
  }

  async save(record: MembershipRecord): Promise<void> {
    const refuse = (): NotLeaderError => new NotLeaderError(`not the leader under term ${record.term} (leading: ${this.term === null ? 'no' : `term ${this.term}`})`);
    if (this.term !== record.term || this.closing) throw refuse();
    const text = JSON.stringify(record);
    await this.serially(async () => {
      if (this.term !== record.term || this.closing) throw refuse();
      // 'written' even when the deadline deposed us meanwhile: the PUT was fenced by the resourceVersion.
      if ((await this.renew(text)) === 'lost') throw refuse();
    });
  }

  /** A Lease cannot list followers (and the Role grants access to this one Lease only). */
  async replicas(): Promise<ReplicaInfo[] | null> {
    return null;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.loop) clearTimeout(this.loop);
      this.loop = null;
      // deposed() before the release: once released, another replica may be elected at once.
      this.depose('closed');
      await this.queue.catch(() => undefined);
      // Also when an acquisition in flight returned after close() began (it never reported elected), or
      // when the deadline deposed us but nobody wrote the Lease since (the PUT is fenced either way).
      await this.release();
      this.client.close();
    })();
    return this.closing;
  }

  private schedule(delayMs: number): void {
    this.loop = setTimeout(() => {
      this.loop = null;
      const started = performance.now();
      void this.serially(async () => {
        if (this.term === null) await this.campaign();
        else await this.renew();
      })
        .catch((error: unknown) => this.logger.error({ err: error }, 'lease step failed unexpectedly'))
        .finally(() => {
          if (!this.closing) this.schedule(Math.max(0, this.retryMs - (performance.now() - started)));
        });
    }, delayMs);
  }

  private serially<T>(step: () => Promise<T>): Promise<T> {
    const run = this.queue.then(step, step);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Not leading: read the Lease, follow its holder, and take it when free or expired. */
  private async campaign(): Promise<void> {
    let lease: Lease | null;
    try {
      lease = await this.client.get();
      this.storeAnswered();
    } catch (error) {
      this.storeFailed(error);
      return;
    }
    if (lease === null) {
      await this.acquire(null);
      return;
    }
    if (lease.metadata.resourceVersion !== this.lease?.metadata.resourceVersion) this.observedAt = performance.now();
    this.lease = lease;
    // Our own id on a Lease we do not hold (a previous run in this pod, or a term we were deposed from)
    // is waited out like any other: were two processes given one id, they must not both lead.
    const free = (lease.spec.holderIdentity ?? '') === '';
    const expired = performance.now() - this.observedAt >= (lease.spec.leaseDurationSeconds ?? 0) * 1000;
    if (!free && !expired) {
      this.reportLeader(leaderOf(lease));
      return;
    }
    this.reportLeader(null);
    await this.acquire(lease);
  }

  /** Takes the lease: PUT over `observed` (its resourceVersion fences the race), or POST when there is none. */
  private async acquire(observed: Lease | null): Promise<void> {
    const term = (observed?.spec.leaseTransitions ?? 0) + 1;
    const now = microTime(new Date());
    const annotations = { ...observed?.metadata.annotations, [LEASE_ADDRESS_ANNOTATION]: this.options.self.address };
    const next: Lease = {
      ...(observed ?? { apiVersion: LEASE_API_VERSION, kind: 'Lease' }),
      metadata: observed
        ? { ...observed.metadata, annotations }
        : { name: this.options.leaseName, namespace: this.options.namespace, annotations },
      spec: {
        ...observed?.spec,
        holderIdentity: this.options.self.id,
        leaseDurationSeconds: this.durationSeconds,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: term,
      },
    };
    const sentAt = performance.now();
    let written: Lease;
    try {
      written = observed ? await this.client.replace(next) : await this.client.create(next);
      this.storeAnswered();
    } catch (error) {
      if (isConflict(error)) {
        this.storeAnswered();
        this.logger.debug({ reason: error.reason }, 'another replica took the lease first');
      } else {
        this.storeFailed(error);
      }
      return;
    }
    this.lease = written;
    this.observedAt = performance.now();
    this.writtenVersion = written.metadata.resourceVersion ?? null;
    if (this.closing) return; // close() releases it
    this.term = term;
    this.armDeadline(sentAt);
    this.logger.info({ term }, 'elected: this replica holds the lease');
    this.handlers?.elected(term, this.recordOf(written));
    this.reportLeader({ id: this.options.self.id, address: this.options.self.address, term });
  }

  /**
   * Leading: renews the lease, with `membership` as the new record when given. A 409 is looked into
   * once (a renewal that timed out may still have been applied): if the Lease still names us under
   * our term, the write is retried on its new resourceVersion; otherwise the lease is lost. With a
   * `membership` (a save), a failure to get an answer is thrown.
   */
  private async renew(membership?: string): Promise<'written' | 'lost' | 'failed'> {
    const term = this.term;
    if (term === null || !this.lease) return 'lost';
    for (let attempt = 0; attempt < 2; attempt++) {
      const base: Lease = this.lease;
      const annotations: Record<string, string> = { ...base.metadata.annotations, [LEASE_ADDRESS_ANNOTATION]: this.options.self.address };
      if (membership !== undefined) annotations[LEASE_MEMBERSHIP_ANNOTATION] = membership;
      const next: Lease = {
        ...base,
        metadata: { ...base.metadata, annotations },
        spec: { ...base.spec, holderIdentity: this.options.self.id, leaseDurationSeconds: this.durationSeconds, renewTime: microTime(new Date()), leaseTransitions: term },
      };
      const sentAt = performance.now();
      try {
        const written = await this.client.replace(next);
        this.storeAnswered();
        this.lease = written;
        this.observedAt = performance.now();
        this.writtenVersion = written.metadata.resourceVersion ?? null;
        if (written.spec.holderIdentity !== this.options.self.id) {
          this.depose(`the Lease names ${JSON.stringify(written.spec.holderIdentity)} as its holder`);
          return 'lost';
        }
        if (this.term === term) this.armDeadline(sentAt);
        return 'written';
      } catch (error) {
        if (!isConflict(error)) {
          // The deadline timer deposes us if no renewal succeeds in time; a save() reports the failure.
          this.storeFailed(error);
          if (membership !== undefined) throw error;
          return 'failed';
        }
        this.storeAnswered();
      }
      let current: Lease | null;
      try {
        current = await this.client.get();
      } catch (error) {
        this.storeFailed(error);
        if (membership !== undefined) throw error;
        return 'failed';
      }
      const ours = current !== null && current.spec.holderIdentity === this.options.self.id && current.spec.leaseTransitions === term;
      if (!current || !ours || this.term !== term) {
        if (current) this.lease = current;
        this.depose('lost the lease: it was changed by another writer (409 Conflict)');
        return 'lost';
      }
      this.lease = current;
    }
    this.depose('the Lease keeps changing under this replica (409 Conflict twice)');
    return 'lost';
  }

  /** Gives the lease up so the next replica need not wait for it to expire (client-go's release). */
  private async release(): Promise<void> {
    const base = this.lease;
    if (!base || base.metadata.resourceVersion !== this.writtenVersion || base.spec.holderIdentity !== this.options.self.id) return;
    const annotations = { ...base.metadata.annotations };
    delete annotations[LEASE_ADDRESS_ANNOTATION];
    const now = microTime(new Date());
    try {
      await this.client.replace({ ...base, metadata: { ...base.metadata, annotations }, spec: { ...base.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now } });
      this.logger.info('released the lease');
    } catch (error) {
      this.logger.warn({ err: error }, 'could not release the lease; it expires on its own');
    }
  }

  /** Leading: deposes this replica if no renewal succeeds before the lease could expire anywhere. */
  private armDeadline(sentAt: number): void {
    if (this.deadline) clearTimeout(this.deadline);
    const due = sentAt + this.durationSeconds * 1000 - this.marginMs;
    this.deadline = setTimeout(() => {
      this.deadline = null;
      this.depose(`no renewal succeeded within ${this.durationSeconds * 1000 - this.marginMs} ms: the lease may expire for others`);
    }, Math.max(0, due - performance.now()));
  }

  private depose(reason: string): void {
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = null;
    if (this.term === null) return;
    const term = this.term;
    this.term = null;
    if (reason === 'closed') this.logger.info({ term }, 'resigning: closed');
    else this.logger.warn({ term, reason }, 'deposed');
    this.handlers?.deposed(reason);
    this.reportLeader(null);
  }

  /** The membership record on `lease`, or null when none or unusable (logged). */
  private recordOf(lease: Lease): MembershipRecord | null {
    const text = lease.metadata.annotations?.[LEASE_MEMBERSHIP_ANNOTATION];
    if (text === undefined) return null;
    try {
      return parseMembershipRecord(text);
    } catch (error) {
      if (!(error instanceof MembershipRecordError)) throw error;
      this.logger.warn({ err: error }, 'the Lease holds a membership record this replica cannot use; starting from none');
      return null;
    }
  }

  private reportLeader(leader: LeaderInfo | null): void {
    const key = leader ? JSON.stringify([leader.id, leader.address, leader.term]) : '';
    if (key === this.reportedLeader) return;
    this.reportedLeader = key;
    this.handlers?.leaderChanged(leader);
  }

  private storeAnswered(): void {
    if (this.storeUp === true) return;
    if (this.storeUp === false) this.logger.info('the Kubernetes API answers again');
    this.storeUp = true;
    this.lastProblem = null;
    this.handlers?.storeStatus(true);
  }

  /**
   * Logged once per change of problem, not once per retry. A request the API refused on its merits
   * (400, 404, 422: a record too large for an annotation, say) leaves the store up: it answered.
   */
  private storeFailed(error: unknown): void {
    const problem = error instanceof KubernetesApiError ? `${error.code} ${error.reason}` : error instanceof Error ? error.message : String(error);
    const refused = error instanceof KubernetesApiError && REFUSED_ON_ITS_MERITS.has(error.code);
    if (refused) this.storeAnswered();
    if (problem !== this.lastProblem) {
      const hint = error instanceof KubernetesApiError && (error.code === 401 || error.code === 403) ? ' (check the service account token and the Role)' : '';
      this.logger.warn({ err: error }, refused ? 'the Kubernetes API refused the request' : `the Kubernetes API is not usable${hint}`);
      this.lastProblem = problem;
    }
    if (!refused && this.storeUp !== false) {
      this.storeUp = false;
      this.handlers?.storeStatus(false);
    }
  }
}

/** The leader a Lease names, or null when it names none, or no usable address. */
function leaderOf(lease: Lease): LeaderInfo | null {
  const id = lease.spec.holderIdentity ?? '';
  const address = lease.metadata.annotations?.[LEASE_ADDRESS_ANNOTATION];
  if (id === '' || address === undefined || address === '' || address.length > MAX_ADDRESS_LENGTH) return null;
  return { id, address, term: lease.spec.leaseTransitions ?? 0 };
}
