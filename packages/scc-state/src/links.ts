/**
 * Links between workers and brokers, as our workers report them (`sccWorkerLinks`): which worker
 * cannot reach which broker. A broker that some worker cannot reach — while it is still joined here
 * and other workers may still reach it (a partition, not a crash) — is withdrawn from the broker list
 * the state server publishes, so every worker moves its channels with the normal coordinated
 * handover and all of them agree on each channel's owner again. It is restored once no worker has
 * reported it for `restoreDelayMs`, which bounds how often a flapping link reshards the cluster: at
 * most one withdrawal and one restore per restore delay.
 *
 * Two guards keep one bad vantage point from emptying the list: a worker that reaches none of several
 * brokers is cut off itself (its reports are ignored; its /ready already says it is unusable), and the
 * last broker standing is never withdrawn.
 */
import { LogEvent, type Logger } from '@scc-ts/shared';

/** One worker → broker link a worker reported unreachable. */
export interface UnreachableLink {
  worker: string;
  broker: string;
  /** When it was first reported (ms since the epoch). */
  since: number;
}

/** A broker withdrawn from the published list. */
export interface WithdrawnBroker {
  broker: string;
  since: number;
  /** The workers (URIs) that cannot reach it. */
  workers: string[];
}

export interface LinkView {
  unreachable: UnreachableLink[];
  withdrawn: WithdrawnBroker[];
}

export interface LinkMonitorOptions {
  /** How long no worker may report a withdrawn broker before it is restored, ms. */
  restoreDelayMs: number;
  /** The joined brokers' URIs. */
  brokers(): readonly string[];
  /** A joined worker's URI by its socket id (for logs and the view). */
  workerURI(socketId: string): string | undefined;
  logger: Logger;
  /** The published broker list changed: a broker was withdrawn ('back') or restored ('out'). */
  onChange(direction: 'out' | 'back'): void;
  /** A broker was withdrawn or restored, with the line logged for it (the dashboard's recent events). */
  onEvent?(kind: 'withdrawn' | 'restored', broker: string, text: string): void;
}

export class LinkMonitor {
  /** Per worker socket: the brokers it cannot reach, with when each was first reported. */
  private readonly reports = new Map<string, Map<string, number>>();
  private readonly withdrawnSince = new Map<string, number>();
  private readonly restoreTimers = new Map<string, NodeJS.Timeout>();
  /** Withdrawals so far (a counter for /metrics). */
  withdrawals = 0;
  private closed = false;

  constructor(private readonly options: LinkMonitorOptions) {}

  /** A worker's whole current report (an empty list clears it). */
  report(workerSocketId: string, unreachable: readonly string[]): void {
    if (this.closed) return;
    const previous = this.reports.get(workerSocketId) ?? new Map<string, number>();
    const next = new Map<string, number>();
    const now = Date.now();
    const worker = this.options.workerURI(workerSocketId) ?? workerSocketId;
    for (const broker of unreachable) {
      const since = previous.get(broker);
      next.set(broker, since ?? now);
      if (since === undefined) this.options.logger.info(`worker ${worker} cannot reach broker ${broker}`);
    }
    // A broker dropped from a report is reachable again, or no longer in the worker's lists (it left).
    const joined = new Set(this.options.brokers());
    for (const broker of previous.keys()) {
      if (!next.has(broker) && joined.has(broker)) this.options.logger.info(`worker ${worker} reaches broker ${broker} again`);
    }
    if (next.size === 0) this.reports.delete(workerSocketId);
    else this.reports.set(workerSocketId, next);
    this.reconcile();
  }

  /** A worker left: its reports go with it. */
  forget(workerSocketId: string): void {
    if (this.reports.delete(workerSocketId)) this.reconcile();
  }

  /** Re-checks after the broker list changed (a broker joined or left). */
  brokersChanged(): void {
    this.reconcile();
  }

  /** The published broker list: the joined brokers, less the withdrawn ones, in join order. */
  published(brokers: readonly string[]): string[] {
    return brokers.filter((uri) => !this.withdrawnSince.has(uri));
  }

  /** Brokers withdrawn now. */
  withdrawn(): string[] {
    return [...this.withdrawnSince.keys()];
  }

  /** Which brokers each counted worker cannot reach (workers cut off from every broker left out). */
  private counted(): Map<string, string[]> {
    const joined = new Set(this.options.brokers());
    const byBroker = new Map<string, string[]>();
    for (const [socketId, brokers] of this.reports) {
      const known = [...brokers.keys()].filter((uri) => joined.has(uri));
      // Cut off from every one of several brokers: the worker is the problem, not the brokers.
      if (joined.size > 1 && known.length === joined.size) continue;
      for (const broker of known) {
        const workers = byBroker.get(broker) ?? [];
        workers.push(this.options.workerURI(socketId) ?? socketId);
        byBroker.set(broker, workers);
      }
    }
    return byBroker;
  }

  private reconcile(): void {
    if (this.closed) return;
    const joined = this.options.brokers();
    const reported = this.counted();
    let withdrewAny = false;
    // A withdrawn broker that left the cluster needs no restoring.
    for (const broker of this.withdrawnSince.keys()) {
      if (!joined.includes(broker)) {
        this.withdrawnSince.delete(broker);
        this.stopRestore(broker);
      }
    }
    for (const broker of joined) {
      const workers = reported.get(broker);
      if (workers === undefined) {
        if (this.withdrawnSince.has(broker) && !this.restoreTimers.has(broker)) this.scheduleRestore(broker);
        continue;
      }
      this.stopRestore(broker);
      if (this.withdrawnSince.has(broker)) continue;
      // The last broker standing stays: a list without brokers helps nobody.
      if (joined.length - this.withdrawnSince.size <= 1) {
        this.options.logger.warn(`broker ${broker} is unreachable from ${workers.join(', ')} but is the last broker listed: not withdrawn`);
        continue;
      }
      this.withdrawnSince.set(broker, Date.now());
      this.withdrawals += 1;
      withdrewAny = true;
      const text = `withdrew broker ${broker} from the list: ${workers.join(', ')} cannot reach it; its channels move to the other brokers`;
      this.options.logger.warn({ event: LogEvent.BrokerWithdrawn, broker, workers }, text);
      this.options.onEvent?.('withdrawn', broker, text);
    }
    if (withdrewAny) this.options.onChange('back');
  }

  private scheduleRestore(broker: string): void {
    const timer = setTimeout(() => {
      this.restoreTimers.delete(broker);
      const since = this.withdrawnSince.get(broker);
      if (this.closed || since === undefined || this.counted().has(broker)) return;
      this.withdrawnSince.delete(broker);
      const withdrawnMs = Date.now() - since;
      const text = `restored broker ${broker} to the list: every worker reaches it again (withdrawn for ${withdrawnMs} ms)`;
      this.options.logger.info({ event: LogEvent.BrokerRestored, broker, withdrawnMs }, text);
      this.options.onEvent?.('restored', broker, text);
      this.options.onChange('out');
    }, this.options.restoreDelayMs);
    this.restoreTimers.set(broker, timer);
  }

  private stopRestore(broker: string): void {
    clearTimeout(this.restoreTimers.get(broker));
    this.restoreTimers.delete(broker);
  }

  /** The links and withdrawals, for /cluster.json and /metrics. */
  view(): LinkView {
    const unreachable: UnreachableLink[] = [];
    for (const [socketId, brokers] of this.reports) {
      const worker = this.options.workerURI(socketId) ?? socketId;
      for (const [broker, since] of brokers) unreachable.push({ worker, broker, since });
    }
    const reported = this.counted();
    const withdrawn = [...this.withdrawnSince].map(([broker, since]) => ({ broker, since, workers: reported.get(broker) ?? [] }));
    return { unreachable, withdrawn };
  }

  /** Stops every timer. Safe to call twice. */
  close(): void {
    this.closed = true;
    for (const timer of this.restoreTimers.values()) clearTimeout(timer);
    this.restoreTimers.clear();
  }
}
