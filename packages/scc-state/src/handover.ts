/**
 * Acknowledged handover (our extension; see HandoverProcedure). For each broker list pushed to the
 * workers that joined with `sccHandover: true`, the coordinator runs two rounds:
 *
 *   subscribed: every participant has subscribed its channels on their new owners
 *               → `sccHandoverSwitch {time}`: publish to the new owners;
 *   switched:   every participant publishes to the new owners and nothing it sent the old ones is
 *               still unacknowledged → `sccHandoverRelease {time}`: leave the old owners.
 *
 * So no worker publishes to a broker its peers are not subscribed on, whatever the spread of the
 * pushes. A participant that leaves is no longer waited for; a round that takes longer than
 * `timeoutMs` goes ahead anyway (logged) so one stuck worker cannot stop the cluster. A newer list
 * supersedes the handover in progress: its workers move on to the newer one. The wire side:
 * docs/protocol.md, "Acknowledged handover".
 */
import { HandoverProcedure, type HandoverPhase, type Logger } from '@scc-ts/shared';

export interface HandoverCoordinatorOptions {
  /** Sends a signal to one worker socket (fire and forget). */
  signal: (socketId: string, event: string, data: { time: number }) => void;
  /** Longest wait for one round's acknowledgements, ms. */
  timeoutMs: number;
  logger: Logger;
  /** Called when a handover completes or is cut short, for logs and views. */
  onDone?: (time: number, outcome: 'complete' | 'timed out' | 'superseded') => void;
}

/** The handover in progress, for views. */
export interface HandoverProgress {
  /** The broker list's `time`. */
  time: number;
  /** The phase the participants are acknowledging now. */
  phase: HandoverPhase;
  /** When the handover began and when its current phase began, ms since the epoch. */
  startedAt: number;
  phaseStartedAt: number;
  /** Socket ids of the participating workers, and of those not yet acknowledged. */
  participants: string[];
  waiting: string[];
}

interface Round {
  time: number;
  phase: HandoverPhase;
  startedAt: number;
  phaseStartedAt: number;
  participants: Set<string>;
  waiting: Set<string>;
  timer: NodeJS.Timeout;
  timedOut: boolean;
}

export class HandoverCoordinator {
  private round: Round | null = null;
  private readonly options: HandoverCoordinatorOptions;

  constructor(options: HandoverCoordinatorOptions) {
    this.options = options;
  }

  /** A broker list with `time` was pushed to these participating worker sockets. */
  begin(time: number, participants: readonly string[]): void {
    if (this.round) {
      clearTimeout(this.round.timer);
      this.options.onDone?.(this.round.time, 'superseded');
      this.round = null;
    }
    if (participants.length === 0) return;
    const set = new Set(participants);
    const now = Date.now();
    this.round = { time, phase: 'subscribed', startedAt: now, phaseStartedAt: now, participants: set, waiting: new Set(set), timer: this.arm(), timedOut: false };
  }

  /** The handover in progress, or null. */
  progress(): HandoverProgress | null {
    const r = this.round;
    if (!r) return null;
    return { time: r.time, phase: r.phase, startedAt: r.startedAt, phaseStartedAt: r.phaseStartedAt, participants: [...r.participants], waiting: [...r.waiting] };
  }

  private arm(): NodeJS.Timeout {
    return setTimeout(() => {
      const round = this.round;
      if (!round) return;
      round.timedOut = true;
      this.options.logger.warn(
        `handover of broker list ${round.time}: ${round.waiting.size} workers did not acknowledge '${round.phase}' within ${this.options.timeoutMs} ms; going ahead`,
      );
      this.advance(round);
    }, this.options.timeoutMs);
  }

  /** A worker acknowledged a phase; ignored unless it matches the handover in progress. */
  ack(socketId: string, time: number, phase: HandoverPhase): void {
    const round = this.round;
    if (!round || round.time !== time || round.phase !== phase) return;
    round.waiting.delete(socketId);
    if (round.waiting.size === 0) this.advance(round);
  }

  /** A worker socket closed: stop waiting for it. */
  forget(socketId: string): void {
    const round = this.round;
    if (!round || !round.participants.delete(socketId)) return;
    round.waiting.delete(socketId);
    if (round.waiting.size === 0) this.advance(round);
  }

  private advance(round: Round): void {
    clearTimeout(round.timer);
    const event = round.phase === 'subscribed' ? HandoverProcedure.Switch : HandoverProcedure.Release;
    for (const socketId of round.participants) this.options.signal(socketId, event, { time: round.time });
    if (round.phase === 'subscribed') {
      round.phase = 'switched';
      round.phaseStartedAt = Date.now();
      round.waiting = new Set(round.participants);
      round.timer = this.arm();
      if (round.waiting.size === 0) this.advance(round);
      return;
    }
    this.round = null;
    this.options.onDone?.(round.time, round.timedOut ? 'timed out' : 'complete');
  }

  /** Stops the timer. Safe to call twice. */
  close(): void {
    if (this.round) clearTimeout(this.round.timer);
    this.round = null;
  }
}
