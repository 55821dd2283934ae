/**
 * What one leader hands the next: the membership record, saved after every change, and, for a leader
 * that started from a record, the wait for its members to re-join. Saves are one at a time; changes
 * made during a save are saved right after it, and `persist()` resolves once the membership as it
 * was when called is stored. The single state server has no replication: nothing is saved and
 * nothing is awaited.
 */
import { InstanceType, LogEvent, type Logger } from '@scc-ts/shared';
import type { Registry } from '../registry.js';
import type { Replication } from '../coordinator.js';
import { MEMBERSHIP_RECORD_VERSION, type MembershipRecord, type PersistedHandover } from './store.js';

export interface SuccessionOptions {
  replication: Replication | null;
  registry: Registry;
  logger: Logger;
  /** What the record holds besides the members, read at every save. */
  state(): { withdrawn: string[]; lastTime: number; handover: PersistedHandover | null };
  /** The members of the record that did not re-join in time were forgotten: push the settled lists. */
  onSettled(forgotten: { brokers: string[]; workers: string[] }): void;
}

export class Succession {
  private saving: Promise<void> | null = null;
  private dirty = false;
  /** The registry version the last stored record was built from (-1: none stored yet). */
  private storedVersionNow = -1;
  private closed = false;
  private settlingNow: boolean;
  private settleTimer: NodeJS.Timeout | undefined;
  /** Resolves when settled (at once when there was nothing to settle). */
  readonly settled: Promise<void>;
  private resolveSettled: () => void = () => undefined;

  constructor(private readonly options: SuccessionOptions) {
    const { replication, registry, logger } = options;
    const record = replication?.record ?? null;
    this.settlingNow = record !== null;
    this.settled = new Promise<void>((resolve) => {
      this.resolveSettled = resolve;
    });
    if (!record || !replication) {
      this.resolveSettled();
      return;
    }
    // A new leader lists the record's members until they re-join; those that do not within the
    // re-join timeout leave as usual. Meanwhile our workers keep the lists they route by
    // (sccPushFollows); once settled, one coordinated push hands everyone the settled list, which
    // also completes a handover the last leader left half done.
    registry.remember(InstanceType.Broker, record.brokers);
    registry.remember(InstanceType.Worker, record.workers);
    logger.info(
      { event: LogEvent.RecordLoaded, term: replication.term, brokers: record.brokers.length, workers: record.workers.length, handover: record.handover?.phase ?? null },
      `started from the membership record of term ${record.term}: ${record.brokers.length} brokers, ${record.workers.length} workers${record.handover ? `, handover of list ${record.handover.time} at '${record.handover.phase}'` : ''}`,
    );
    this.settleTimer = setTimeout(() => this.settle('re-join timeout'), replication.rejoinTimeoutMs);
  }

  /** Whether members of the last record have yet to re-join (our workers are told a push follows). */
  get settling(): boolean {
    return this.settlingNow;
  }

  /** A member joined: settled once every member of the record is back. */
  memberJoined(): void {
    const { registry } = this.options;
    if (this.settlingNow && registry.rejoining(InstanceType.Broker).length === 0 && registry.rejoining(InstanceType.Worker).length === 0) {
      this.settle('every member re-joined');
    }
  }

  private settle(why: string): void {
    if (!this.settlingNow || this.closed) return;
    this.settlingNow = false;
    clearTimeout(this.settleTimer);
    const { registry, logger } = this.options;
    const forgotten = { brokers: registry.forgetRemembered(InstanceType.Broker), workers: registry.forgetRemembered(InstanceType.Worker) };
    const gone = [...forgotten.brokers, ...forgotten.workers];
    logger.info(
      { event: LogEvent.Settled, why, forgotten: gone },
      `membership settled (${why}): ${registry.brokerURIs().length} brokers, ${registry.workerURIs().length} workers${gone.length > 0 ? `; not re-joined: ${gone.join(', ')}` : ''}`,
    );
    this.resolveSettled();
    this.options.onSettled(forgotten);
    this.persistQuietly();
  }

  /** Whether the stored record holds the membership as it is now. */
  get current(): boolean {
    return this.options.replication === null || this.storedVersionNow === this.options.registry.version;
  }

  private record(term: number): MembershipRecord {
    const { registry } = this.options;
    return {
      version: MEMBERSHIP_RECORD_VERSION,
      term,
      brokers: registry.brokerURIs(),
      workers: registry.workerURIs(),
      ...this.options.state(),
      savedAt: Date.now(),
    };
  }

  /** Resolves once the membership as it is now (or later) is stored; rejects when it cannot be. */
  async persist(): Promise<void> {
    const { replication, logger } = this.options;
    if (!replication || this.closed) return;
    this.dirty = true;
    while (this.dirty) {
      if (this.saving) {
        await this.saving.catch(() => undefined);
        continue;
      }
      this.dirty = false;
      const version = this.options.registry.version;
      this.saving = replication.save(this.record(replication.term));
      try {
        await this.saving;
        this.storedVersionNow = version;
      } catch (error) {
        if (!this.closed) logger.warn({ err: error as Error }, `membership record not saved: ${(error as Error).name}: ${(error as Error).message}`);
        throw error;
      } finally {
        this.saving = null;
      }
    }
  }

  /** Saves after a change; a failure is logged by persist() and the next change tries again. */
  persistQuietly(): void {
    void this.persist().catch(() => undefined);
  }

  /** Stops: no more saves (a replaced leader's would be refused anyway) and no settling. */
  close(): void {
    this.closed = true;
    clearTimeout(this.settleTimer);
  }
}
