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
import { ClusterNotReadyError } from './errors.js';

/**
 * How long a wait for the state server (not reachable, or refusing joins for its startup delay) is
 * logged only once at info before it earns one warning, ms: a healthy start never waits this long.
 */
export const STATE_WAIT_WARN_AFTER_MS = 10_000;

/** The name peers match a startup-delay refusal on (it travels over the wire). */
const CLUSTER_NOT_READY = new ClusterNotReadyError('').name;

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
  /** Whether any join succeeded: before that, failing to reach the state server is an expected wait. */
  private everJoined = false;
  /** When the current wait began (start, or the last disconnect); null while joined. */
  private waitingSince: number | null = null;
  /** Whether the current wait has been logged at info, and whether it earned its warning. */
  private waitLogged = false;
  private waitWarned = false;

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
    this.waitingSince = Date.now();
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

  /**
   * Logs one step of an expected wait (the state server not up yet, or in its startup delay): the
   * first at info, repeats at debug, and (`escalate`) one warning once it lasts `STATE_WAIT_WARN_AFTER_MS`.
   * A startup-delay refusal does not escalate: the state server says it waits, for as long as it was told to.
   */
  private logWait(message: string, escalate: boolean): void {
    const { logger } = this.options;
    const waitedMs = Date.now() - (this.waitingSince ?? Date.now());
    if (!this.waitLogged) {
      this.waitLogged = true;
      logger.info(message);
    } else if (escalate && !this.waitWarned && waitedMs >= STATE_WAIT_WARN_AFTER_MS) {
      this.waitWarned = true;
      logger.warn(`still not joined after ${waitedMs} ms: ${message}`);
    } else {
      logger.debug(message);
    }
  }

  private async consume(): Promise<void> {
    const { logger } = this.options;
    void (async () => {
      for await (const { error } of this.socket.listener('error')) {
        // Refusals (auth, version) and connection failures land here; the socket keeps retrying.
        // Before the first join the state server may simply not be up yet (an expected wait);
        // during an outage the disconnect was already warned about: repeats say nothing new.
        const line = `state server link: ${error.name}: ${error.message}; retrying every ${this.options.retryDelayMs} ms`;
        if (!this.everJoined) this.logWait(`waiting for state server ${this.target()} (${line})`, true);
        else if (this.waitingSince !== null && Date.now() - this.waitingSince >= STATE_WAIT_WARN_AFTER_MS && !this.waitWarned) {
          this.waitWarned = true;
          logger.warn(`still disconnected from state server ${this.target()} after ${Date.now() - this.waitingSince} ms: ${line}`);
        } else logger.debug(line);
      }
    })();
    void (async () => {
      for await (const { code, reason } of this.socket.listener('disconnect')) {
        if (this.closed) continue;
        // A drop after a join is news (warn); before any join it is part of the wait above.
        if (this.everJoined && this.waitingSince === null) {
          this.waitingSince = Date.now();
          this.waitLogged = true;
          this.waitWarned = false;
          logger.warn({ event: LogEvent.StateDisconnected, code, reason }, `disconnected from state server ${this.target()} (code ${code}); reconnecting`);
        } else {
          logger.debug({ event: LogEvent.StateDisconnected, code, reason }, `disconnected from state server ${this.target()} (code ${code}); reconnecting`);
        }
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
      const line = `${joinProcedure} failed (${err.name}: ${err.message}); retrying in ${this.options.retryDelayMs} ms`;
      // The state server's startup delay is expected (brokers join first); anything else is a fault.
      if (err.name === CLUSTER_NOT_READY) this.logWait(line, false);
      else logger.warn(line);
      clearTimeout(this.joinTimer);
      this.joinTimer = setTimeout(() => void this.join(connection), this.options.retryDelayMs);
      return;
    }
    if (this.closed || connection !== this.connection) return;
    this.joinedConnection = connection;
    this.everJoined = true;
    this.waitingSince = null;
    this.waitLogged = false;
    this.waitWarned = false;
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
