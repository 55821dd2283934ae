/**
 * Debounced membership pushes to workers. One timer per list: a broker join re-arms the broker
 * timer with the scale-out delay, a leave with the scale-back delay ("only the latest scale request
 * counts", as in the original). When it fires, every worker gets the full current list with a fresh
 * `time`. A failed push is retried every retry delay while that worker's socket is open, unless a
 * newer push to that worker has superseded it. Push payloads: docs/protocol.md, "Procedures".
 */
import { Procedure, type BrokerListPush, type Logger, type ProcedureName, type WorkerListPush } from '@scc-ts/shared';
import type { Member, Registry } from './registry.js';

/** Sends one push to one worker; rejects when it is not acknowledged. */
export type PushFn = (socketId: string, procedure: ProcedureName, data: Record<string, unknown>) => Promise<void>;

export interface NotifierOptions {
  registry: Registry;
  /** The broker list to publish (the joined brokers, less any withdrawn); default all joined brokers. */
  brokerList?: () => string[];
  push: PushFn;
  /** Whether the worker's socket is still open (retries stop when it is not). */
  isOpen: (socketId: string) => boolean;
  scaleOutDelayMs: number;
  scaleBackDelayMs: number;
  retryDelayMs: number;
  logger: Logger;
  /** Called after each broadcast with the list and time, for logs, views and the handover. */
  onBroadcast?: (kind: ListKind, uris: readonly string[], time: number) => void;
  /** Extra fields for one worker's push (our extensions; original workers get none). */
  extraFields?: (kind: ListKind, socketId: string) => Record<string, unknown>;
  /**
   * Replicated state servers: resolves once the membership the list was built from is stored, so a
   * leader that dies right after a push leaves a record that lists at least what it pushed. A
   * rejection (no longer the leader, store unreachable) skips the push.
   */
  beforeBroadcast?: () => Promise<void>;
  /**
   * Replicated state servers: resolves once a broker list may be pushed at all. A new leader waits
   * for the members of the last record to re-join: a coordinated handover pushed before then would
   * leave out the workers still on their way back, which keep publishing by their old list.
   */
  brokersReady?: () => Promise<void>;
  /** The newest `time` handed out before (the last leader's, from its record): later times exceed it. */
  lastTime?: number;
}

/** Which membership list a push carries. */
export type ListKind = 'brokers' | 'workers';
/** Whether the list grew (scale-out delay) or shrank (scale-back delay). */
export type Direction = 'out' | 'back';

export class Notifier {
  private readonly options: NotifierOptions;
  private readonly timers: Record<ListKind, NodeJS.Timeout | undefined> = { brokers: undefined, workers: undefined };
  private readonly retries = new Set<NodeJS.Timeout>();
  // The time of the newest push per worker and list: a retry of an older push is dropped.
  private readonly latest = new Map<string, number>();
  private lastTime = 0;
  private closed = false;

  constructor(options: NotifierOptions) {
    this.options = options;
    this.lastTime = options.lastTime ?? 0;
  }

  /** The newest `time` handed out (a join reply or a push). */
  get newestTime(): number {
    return this.lastTime;
  }

  /**
   * A strictly increasing `Date.now()`: workers apply only a newer `time`, so two lists built in the
   * same millisecond must not share one (the original can lose the second).
   */
  nextTime(): number {
    this.lastTime = Math.max(Date.now(), this.lastTime + 1);
    return this.lastTime;
  }

  /** Schedules a push of the list after the delay for `direction` (or `delayMs`), replacing any pending one. */
  changed(kind: ListKind, direction: Direction, delayMs?: number): void {
    if (this.closed) return;
    clearTimeout(this.timers[kind]);
    const delay = delayMs ?? (direction === 'out' ? this.options.scaleOutDelayMs : this.options.scaleBackDelayMs);
    const timer = setTimeout(() => {
      const ready = kind === 'brokers' ? this.options.brokersReady?.() : undefined;
      if (!ready && !this.options.beforeBroadcast) {
        this.timers[kind] = undefined;
        this.broadcast(kind, direction, this.list(kind));
        return;
      }
      // Pending until pushed: a view asking meanwhile sees the push as still to come. A newer
      // change meanwhile re-armed the timer: its own push follows, this one still goes out.
      const settle = (): void => {
        if (this.timers[kind] === timer) this.timers[kind] = undefined;
      };
      void (async () => {
        try {
          await ready;
          // The list as it is once pushing may go ahead, stored before it is pushed.
          const list = this.list(kind);
          await this.options.beforeBroadcast?.();
          settle();
          if (!this.closed) this.broadcast(kind, direction, list);
        } catch (error) {
          settle();
          if (!this.closed) this.options.logger.warn(`${kind} list not pushed: the membership could not be stored (${(error as Error).name}: ${(error as Error).message})`);
        }
      })();
    }, delay);
    this.timers[kind] = timer;
  }

  /** Whether a debounced push of the list is waiting to fire. */
  pending(kind: ListKind): boolean {
    return this.timers[kind] !== undefined;
  }

  /** Forgets a worker (its socket closed). */
  forget(socketId: string): void {
    this.latest.delete(`brokers:${socketId}`);
    this.latest.delete(`workers:${socketId}`);
  }

  private list(kind: ListKind): string[] {
    const { registry } = this.options;
    return kind === 'brokers' ? (this.options.brokerList?.() ?? registry.brokerURIs()) : registry.workerURIs();
  }

  private broadcast(kind: ListKind, direction: Direction, uris: string[]): void {
    const { registry, logger } = this.options;
    const time = this.nextTime();
    const procedure =
      kind === 'brokers'
        ? direction === 'out' ? Procedure.BrokerJoinCluster : Procedure.BrokerLeaveCluster
        : direction === 'out' ? Procedure.WorkerJoinCluster : Procedure.WorkerLeaveCluster;
    const workers = registry.workerMembers();
    logger.info(`pushing ${uris.length} ${kind} to ${workers.length} workers: ${uris.join(', ') || '(none)'}`);
    for (const worker of workers) {
      // Each worker is told its own URI (the original sends every worker the same one).
      const list: BrokerListPush | WorkerListPush =
        kind === 'brokers' ? { sccBrokerURIs: uris, time, sccSourceWorkerURI: worker.uri } : { sccWorkerURIs: uris, time, sccSourceWorkerURI: worker.uri };
      const data: Record<string, unknown> = { ...list, ...this.options.extraFields?.(kind, worker.socketId) };
      this.latest.set(`${kind}:${worker.socketId}`, time);
      void this.send(kind, worker, procedure, data, time);
    }
    this.options.onBroadcast?.(kind, uris, time);
  }

  private async send(kind: ListKind, worker: Member, procedure: ProcedureName, data: Record<string, unknown>, time: number): Promise<void> {
    try {
      await this.options.push(worker.socketId, procedure, data);
    } catch (error) {
      const err = error as Error;
      if (this.closed || !this.options.isOpen(worker.socketId)) return;
      if (this.latest.get(`${kind}:${worker.socketId}`) !== time) return;
      this.options.logger.warn(
        `${procedure} push to ${worker.uri} failed (${err.name}: ${err.message}); retrying in ${this.options.retryDelayMs} ms`,
      );
      const timer = setTimeout(() => {
        this.retries.delete(timer);
        if (this.closed || !this.options.isOpen(worker.socketId)) return;
        if (this.latest.get(`${kind}:${worker.socketId}`) !== time) return;
        void this.send(kind, worker, procedure, data, time);
      }, this.options.retryDelayMs);
      this.retries.add(timer);
    }
  }

  /** Cancels pending pushes and retries. Safe to call twice. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timers.brokers);
    clearTimeout(this.timers.workers);
    for (const timer of this.retries) clearTimeout(timer);
    this.retries.clear();
  }
}
