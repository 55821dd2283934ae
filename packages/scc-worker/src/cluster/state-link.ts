/**
 * The worker's link to the state server: joins on every connect, answers the four membership
 * pushes, and hands on a broker or worker list only when its `time` is newer than the last applied
 * (pushes can arrive out of order after retries; the join reply sets the baseline). The procedures
 * and payloads: docs/protocol.md.
 */
import {
  HandoverProcedure,
  InstanceType,
  LinkProcedure,
  Procedure,
  StaleTermError,
  StateLink,
  parseBrokerListPush,
  parseHandoverSignal,
  type HandoverPhase,
  parseWorkerJoinReply,
  parseWorkerListPush,
  type ClientSocket,
  type HandoverAck,
  type LinkReport,
  type StatsReport,
  type WorkerJoinPayload,
} from '@scc-ts/shared';
import type { ResolvedClusterOptions } from './options.js';

type PushRequest = { data: unknown; end(data?: unknown): void; error(error: Error): void };

/** How a broker list handed on by the link came. */
export interface AppliedList {
  /** With the join reply or in a push. */
  source: 'join' | 'push';
  time: number;
  /** The state server will signal the handover's phases for this list (our extension). */
  coordinated: boolean;
  /** Brokers the state server withdrew from this list: up, but unreachable from some worker. */
  withdrawn: string[];
  /** The list comes from our state server (it coordinates and withdraws; an original does neither). */
  ourStateServer: boolean;
}

export interface MembershipHandlers {
  /** A newer broker list. */
  onBrokers(uris: string[], list: AppliedList): void;
  /** The broker list routed by now (sent with a re-join), or null before the first. */
  currentBrokers(): readonly string[] | null;
  /** The brokers this worker cannot reach now (reported after every join). */
  unreachable(): string[];
  /** The state server's handover signal for the list with `time`. */
  onHandoverSignal(kind: 'switch' | 'release', time: number): void;
  /** A newer worker list; `selfURI` is this worker's URI as the state server sees it. */
  onWorkers(uris: string[], selfURI: string | null): void;
}

export class WorkerStateLink {
  private readonly link: StateLink;
  private brokersTime = -1;
  private workersTime = -1;
  /**
   * The highest term heard from a replicated state server (-1: none, or an unreplicated one). A
   * push or reply of a lower term comes from a replaced leader and is refused; a higher term starts
   * a new baseline of times (the new leader's clock is another machine's).
   */
  private term = -1;
  /** Whether this worker has joined at least once (it keeps its last lists while the state server is away). */
  hasJoined = false;
  /** Whether a push has shown the state server to be ours (it coordinates handovers). */
  private ours = false;

  constructor(
    private readonly options: Readonly<ResolvedClusterOptions>,
    private readonly handlers: MembershipHandlers,
    /** The figures of each `sccStats` report, sent every `statsInterval` ms (0: none). */
    collectStats?: () => StatsReport,
  ) {
    this.link = new StateLink({
      stateServerHost: options.stateServerHost,
      stateServerPort: options.stateServerPort,
      authKey: options.authKey,
      instanceType: InstanceType.Worker,
      instancePort: options.instancePort,
      version: options.version,
      connectTimeoutMs: options.stateServerConnectTimeout,
      ackTimeoutMs: options.stateServerAckTimeout,
      retryDelayMs: options.brokerRetryDelay,
      reconnectRandomnessMs: options.stateServerReconnectRandomness,
      joinProcedure: Procedure.WorkerJoinCluster,
      // sccHandover: we take part in acknowledged handover; sccBrokerURIs (a re-join): the list we
      // route by, so a state server that has just come back does not hand us a partial one. An
      // original state server ignores both fields.
      joinData: () => {
        const current = this.hasJoined ? handlers.currentBrokers() : null;
        return {
          instanceId: options.instanceId,
          instanceIp: options.instanceIp,
          instanceIpFamily: options.instanceIpFamily,
          sccHandover: true,
          ...(current === null ? {} : { sccBrokerURIs: [...current] }),
        } satisfies WorkerJoinPayload;
      },
      logger: options.logger,
      onJoined: (reply) => this.joined(reply),
      ...(collectStats && { stats: { intervalMs: options.statsInterval, collect: collectStats } }),
    });
    const socket = this.link.socket;
    this.serve(socket, Procedure.BrokerJoinCluster, (data) => this.brokerPush(data));
    this.serve(socket, Procedure.BrokerLeaveCluster, (data) => this.brokerPush(data));
    this.serve(socket, Procedure.WorkerJoinCluster, (data) => this.workerPush(data));
    this.serve(socket, Procedure.WorkerLeaveCluster, (data) => this.workerPush(data));
    this.receive(socket, HandoverProcedure.Switch, 'switch');
    this.receive(socket, HandoverProcedure.Release, 'release');
  }

  private receive(socket: ClientSocket, event: string, kind: 'switch' | 'release'): void {
    void (async () => {
      for await (const data of socket.receiver(event)) {
        try {
          this.handlers.onHandoverSignal(kind, parseHandoverSignal(data).time);
        } catch (error) {
          this.options.logger.warn(`ignored a ${event} signal: ${(error as Error).message}`);
        }
      }
    })();
  }

  /** Reports a finished handover phase to the state server (best effort: it goes ahead on a timeout). */
  ackHandover(time: number, phase: HandoverPhase): void {
    const ack: HandoverAck = { time, phase };
    this.link.socket.invoke(HandoverProcedure.Ack, ack).catch((error: unknown) => {
      this.options.logger.warn(`handover ${phase} acknowledgement for list ${time} failed: ${(error as Error).message}`);
    });
  }

  /**
   * Tells the state server which brokers this worker cannot reach (all of them each time; an empty
   * list clears). A transmit: an original state server has no such procedure and ignores it, and what
   * is lost while the link is down is sent again after the next join.
   */
  reportLinks(unreachable: readonly string[]): void {
    if (!this.link.joined) return;
    const report: LinkReport = { unreachable: [...unreachable] };
    this.link.socket.transmit(LinkProcedure.Report, report);
  }

  /** Whether the link is joined right now. */
  get connected(): boolean {
    return this.link.joined;
  }

  start(): void {
    this.link.start();
  }

  private serve(socket: ClientSocket, procedure: string, handle: (data: unknown) => void): void {
    void (async () => {
      for await (const request of socket.procedure(procedure) as AsyncIterable<PushRequest>) {
        try {
          handle(request.data);
          request.end();
        } catch (error) {
          const err = error as Error;
          this.options.logger.warn(`refused a ${procedure} push: ${err.name}: ${err.message}`);
          request.error(err);
        }
      }
    })();
  }

  /**
   * Whether a push or reply of `term` may be applied (throws StaleTermError when it may not). A newer
   * term resets the time baselines: its leader's times are not comparable with the last leader's.
   */
  private admit(what: string, term: number | undefined): void {
    if (term === undefined) return;
    if (term < this.term) throw new StaleTermError(`${what} of state server term ${term}, older than term ${this.term} already heard`);
    if (term > this.term) {
      if (this.term >= 0) this.options.logger.info({ term, previous: this.term }, `state server term ${term} (was ${this.term}): a new leader`);
      this.term = term;
      this.brokersTime = -1;
      this.workersTime = -1;
    }
  }

  private joined(reply: unknown): void {
    let state;
    try {
      state = parseWorkerJoinReply(reply);
      this.admit(`${Procedure.WorkerJoinCluster} reply`, state.sccTerm);
    } catch (error) {
      this.options.logger.error(`unusable ${Procedure.WorkerJoinCluster} reply: ${(error as Error).name}: ${(error as Error).message}`);
      return;
    }
    const first = !this.hasJoined;
    this.hasJoined = true;
    this.options.logger.info(
      `${first ? 'joined' : 're-joined'} the cluster as ${state.sccSourceWorkerURI ?? '(unknown URI)'}: ${state.sccBrokerURIs.length} brokers, ${state.sccWorkerURIs.length} workers`,
    );
    // The reply is the newest view there is: it becomes the baseline pushes must beat.
    this.brokersTime = state.time;
    this.workersTime = state.time;
    // Our state server, just back, may not have every broker back yet: it says so, and pushes the
    // settled list (coordinated) instead; meanwhile we keep routing as every other worker does.
    this.ours ||= state.sccHandover === true;
    if (state.sccPushFollows === true) {
      this.options.logger.info(`kept the broker list in use (${this.handlers.currentBrokers()?.length ?? 0} brokers): the state server pushes the settled list`);
    } else {
      this.handlers.onBrokers(state.sccBrokerURIs, { source: 'join', time: state.time, coordinated: false, withdrawn: state.sccWithdrawn ?? [], ourStateServer: this.ours });
    }
    this.handlers.onWorkers(state.sccWorkerURIs, state.sccSourceWorkerURI ?? null);
    this.reportLinks(this.handlers.unreachable());
  }

  private brokerPush(data: unknown): void {
    const push = parseBrokerListPush(data);
    this.admit('broker list push', push.sccTerm);
    if (push.time <= this.brokersTime) return;
    this.brokersTime = push.time;
    this.ours ||= push.sccHandover === true;
    this.handlers.onBrokers(push.sccBrokerURIs, {
      source: 'push',
      time: push.time,
      coordinated: push.sccHandover === true,
      withdrawn: push.sccWithdrawn ?? [],
      ourStateServer: this.ours,
    });
  }

  private workerPush(data: unknown): void {
    const push = parseWorkerListPush(data);
    this.admit('worker list push', push.sccTerm);
    if (push.time <= this.workersTime) return;
    this.workersTime = push.time;
    this.handlers.onWorkers(push.sccWorkerURIs, push.sccSourceWorkerURI ?? null);
  }

  /** Announces our departure (best effort, bounded by the ack timeout). */
  async leave(): Promise<void> {
    await this.link.leave(Procedure.WorkerLeaveCluster);
  }

  async close(): Promise<void> {
    await this.link.close();
  }
}
