/**
 * A broker's or worker's connection to the state server (docs/protocol.md, "Joining"). It reconnects forever (every retry delay
 * plus up to `reconnectRandomnessMs`) and calls the join procedure on every connect, so a
 * restarted state server rebuilds its view from its peers, as the originals do.
 */
import socketClusterClient from 'socketcluster-client';
import type { Logger } from './logger.js';
import { STATS_EVENT, StateQuery, type InstanceTypeName, type ProcedureName } from './protocol.js';
import type { StatsReport } from './payloads.js';
import { LogEvent } from './log-events.js';

/** A socketcluster-client socket. */
export type ClientSocket = ReturnType<typeof socketClusterClient.create>;

export interface StateLinkOptions {
  stateServerHost: string;
  stateServerPort: number;
  /** Sent as the `authKey` query parameter; null is sent as the string "null", as the originals do. */
  authKey: string | null;
  instanceType: InstanceTypeName;
  /** The port this instance serves on; the state server builds our URI from it. */
  instancePort: number;
  /** Semver announced as the `version` query parameter. */
  version: string;
  connectTimeoutMs: number;
  ackTimeoutMs: number;
  retryDelayMs: number;
  reconnectRandomnessMs: number;
  joinProcedure: ProcedureName;
  /** The join request's payload, or a function making it afresh for every join (a re-join may say more). */
  joinData: Readonly<Record<string, unknown>> | (() => Readonly<Record<string, unknown>>);
  logger: Logger;
  /** Called with the join reply after every successful join (once per connection). */
  onJoined?: (reply: unknown) => void;
  /**
   * Our dashboard extension: while joined, `collect()` is transmitted as `sccStats` right after each
   * join and then every `intervalMs` (0: never). The figures are the caller's existing counters.
   */
  stats?: StatsSource;
}

/** Where a state link's `sccStats` reports come from. */
export interface StatsSource {
  /** Interval between two reports, ms; 0 sends none. */
  intervalMs: number;
  /** The figures now; called once per report, only while joined. */
  collect: () => StatsReport;
}

/** The state-server connection; `start()` connects, `close()` stops for good. */
export class StateLink {
  /** The underlying socket, for registering the procedures the state server calls. */
  readonly socket: ClientSocket;
  private readonly options: StateLinkOptions;
  private joinTimer: NodeJS.Timeout | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  // Bumped on every (re)connect: a join retry scheduled for an older connection is dropped.
  private connection = 0;
  private joinedConnection = -1;
  private closed = false;

  constructor(options: StateLinkOptions) {
    this.options = options;
    this.socket = socketClusterClient.create({
      hostname: options.stateServerHost,
      port: options.stateServerPort,
      connectTimeout: options.connectTimeoutMs,
      ackTimeout: options.ackTimeoutMs,
      autoConnect: false,
      autoReconnectOptions: {
        initialDelay: options.retryDelayMs,
        randomness: options.reconnectRandomnessMs,
        multiplier: 1,
        maxDelay: options.retryDelayMs + options.reconnectRandomnessMs,
      },
      // The handshake query of docs/protocol.md, "Joining"; socketcluster-client serialises a null
      // authKey as the string "null", which original state servers expect.
      query: {
        [StateQuery.AuthKey]: options.authKey as string,
        [StateQuery.InstancePort]: String(options.instancePort),
        [StateQuery.InstanceType]: options.instanceType,
        [StateQuery.Version]: options.version,
      },
    });
    void this.consume();
  }

  /** True while connected and joined on the current connection. */
  get joined(): boolean {
    return this.joinedConnection === this.connection && this.socket.state === this.socket.OPEN;
  }

  /** Connects; joining follows on every connect. */
  start(): void {
    this.socket.connect();
    const stats = this.options.stats;
    if (stats && stats.intervalMs > 0 && !this.statsTimer) {
      this.statsTimer = setInterval(() => this.sendStats(), stats.intervalMs);
      // Reports are a courtesy to the dashboard: they must not keep a process alive.
      this.statsTimer.unref();
    }
  }

  /** Transmits one `sccStats` report if joined; a failure costs one report, never the link. */
  private sendStats(): void {
    const stats = this.options.stats;
    if (!stats || stats.intervalMs === 0 || this.closed || !this.joined) return;
    let report: StatsReport;
    try {
      report = stats.collect();
    } catch (error) {
      this.options.logger.debug(`no ${STATS_EVENT} report: ${(error as Error).message}`);
      return;
    }
    this.socket.transmit(STATS_EVENT, report).catch(() => undefined);
  }

  private async consume(): Promise<void> {
    const { logger } = this.options;
    void (async () => {
      for await (const { error } of this.socket.listener('error')) {
        // Refusals (auth, version) and connection failures land here; the socket keeps retrying.
        logger.warn(`state server link: ${error.name}: ${error.message}`);
      }
    })();
    void (async () => {
      for await (const { code, reason } of this.socket.listener('disconnect')) {
        if (this.closed) continue;
        logger.warn({ event: LogEvent.StateDisconnected, code, reason }, `disconnected from state server ${this.target()} (code ${code}); reconnecting`);
      }
    })();
    for await (const _event of this.socket.listener('connect')) {
      this.connection += 1;
      logger.debug(`connected to state server ${this.target()}`);
      void this.join(this.connection);
    }
  }

  private target(): string {
    return `${this.options.stateServerHost}:${this.options.stateServerPort}`;
  }

  private async join(connection: number): Promise<void> {
    const { logger, joinProcedure, joinData } = this.options;
    if (this.closed || connection !== this.connection) return;
    let reply: unknown;
    try {
      reply = await this.socket.invoke(joinProcedure, typeof joinData === 'function' ? joinData() : joinData);
    } catch (error) {
      if (this.closed || connection !== this.connection) return;
      const err = error as Error;
      logger.warn(`${joinProcedure} failed (${err.name}: ${err.message}); retrying in ${this.options.retryDelayMs} ms`);
      clearTimeout(this.joinTimer);
      this.joinTimer = setTimeout(() => void this.join(connection), this.options.retryDelayMs);
      return;
    }
    if (this.closed || connection !== this.connection) return;
    this.joinedConnection = connection;
    this.options.onJoined?.(reply);
    // The state server shows figures from the first moment, not one interval later.
    this.sendStats();
  }

  /**
   * Calls a leave procedure if connected; resolves once acknowledged, on failure or after the ack
   * timeout. Never throws: leaving is best effort, the state server also notices a closed socket.
   */
  async leave(procedure: ProcedureName): Promise<boolean> {
    if (this.socket.state !== this.socket.OPEN) return false;
    try {
      await this.socket.invoke(procedure, undefined);
      return true;
    } catch (error) {
      this.options.logger.warn(`${procedure} was not acknowledged: ${(error as Error).message}`);
      return false;
    }
  }

  /** Disconnects and stops reconnecting. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.joinTimer);
    clearInterval(this.statsTimer);
    this.socket.disconnect();
    this.socket.killAllProcedures();
    this.socket.closeAllListeners();
  }
}
