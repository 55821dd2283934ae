/**
 * The sending side of the data path: numbers each packet per channel (`seq`, our extension of the
 * `{sender, messages}` packet) and hands it to the router. In at-least-once mode a packet is kept
 * until a broker acknowledges it and re-sent (to whichever broker owns the channel by then) after
 * a failure; receivers drop the duplicates this can cause by `seq`.
 */
import type { PublishPacket } from '@scc-ts/shared';

/** `at-most-once` (default, the original's behaviour) or `at-least-once`. */
export type DeliveryMode = 'at-most-once' | 'at-least-once';
export const DELIVERY_MODES: readonly DeliveryMode[] = ['at-most-once', 'at-least-once'];

export interface PublisherOptions {
  /** This worker's instanceId. */
  sender: string;
  /**
   * Sends one packet to the channel's broker. `strict` (at-least-once): resolves with the broker's
   * URI on its acknowledgement.
   */
  send(channel: string, packet: PublishPacket, strict: boolean): Promise<string | void>;
  /** At-least-once: how long an acknowledged packet is kept in case its broker dies right after, ms. */
  lingerMs: number;
  /** The delivery mode of a channel. */
  modeFor(channel: string): DeliveryMode;
  /** Pause before re-sending a failed packet, ms. */
  retryDelayMs: number;
  /** How long a packet is retried before it is given up as lost, ms. */
  retryTimeoutMs: number;
  /** Most packets awaiting a re-send at once; beyond it packets are given up (bounds memory). */
  maxRetrying: number;
  /** A packet's messages were given up (at-most-once: its one send failed). */
  onLost(channel: string, messageCount: number, error: Error): void;
  /** A packet is being re-sent. */
  onRetry(channel: string, error: Error): void;
}

/** How often idle channel counters are looked for, ms. */
const SWEEP_INTERVAL_MS = 60_000;
/** Sweeps a counter may stay unused before it is forgotten; receivers restart a stream at seq 0. */
const IDLE_SWEEPS = 5;

/** An acknowledged at-least-once packet, kept for `lingerMs`. */
interface Recent {
  at: number;
  uri: string;
  channel: string;
  packet: PublishPacket;
}

interface Counter {
  next: number;
  usedAt: number;
}

export class Publisher {
  private readonly counters = new Map<string, Counter>();
  private readonly options: PublisherOptions;
  private readonly timers = new Set<NodeJS.Timeout>();
  /**
   * Acknowledged at-least-once packets of the last `lingerMs`, oldest first. A broker acknowledges
   * once it has written the relay to its subscribers' sockets; if it is killed a moment later the
   * kernel can still drop what it had not sent, so these are re-sent when their broker goes down.
   */
  private recent: Recent[] = [];
  private recentHead = 0;
  private retrying = 0;
  private tick = 0;
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(options: PublisherOptions) {
    this.options = options;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  private sweep(): void {
    this.tick += 1;
    for (const [channel, counter] of this.counters) {
      if (this.tick - counter.usedAt > IDLE_SWEEPS) this.counters.delete(channel);
    }
  }

  /** Packets waiting for a re-send right now. */
  get retryingCount(): number {
    return this.retrying;
  }

  /** Numbers and sends one packet of this worker's messages on `channel`. */
  publish(channel: string, messages: unknown[]): void {
    let counter = this.counters.get(channel);
    if (!counter) {
      counter = { next: 0, usedAt: this.tick };
      this.counters.set(channel, counter);
    }
    counter.usedAt = this.tick;
    const packet: PublishPacket = { sender: this.options.sender, messages, seq: counter.next++ };
    if (this.options.modeFor(channel) === 'at-least-once') this.attempt(channel, packet, Date.now() + this.options.retryTimeoutMs);
    else this.options.send(channel, packet, false).catch((error: unknown) => this.options.onLost(channel, messages.length, error as Error));
  }

  /** A broker's connection dropped: re-send what it acknowledged in the last `lingerMs` (receivers drop duplicates). */
  brokerDown(uri: string): void {
    this.pruneRecent(Date.now());
    const deadline = Date.now() + this.options.retryTimeoutMs;
    for (let i = this.recentHead; i < this.recent.length; i++) {
      const entry = this.recent[i] as Recent;
      if (entry.uri === uri) this.retryLater(entry.channel, entry.packet, deadline, new Error(`broker ${uri} went down`));
    }
  }

  private pruneRecent(now: number): void {
    const cutoff = now - this.options.lingerMs;
    while (this.recentHead < this.recent.length && (this.recent[this.recentHead] as Recent).at < cutoff) this.recentHead += 1;
    // Compact now and then instead of shifting per packet.
    if (this.recentHead > 1024 && this.recentHead * 2 > this.recent.length) {
      this.recent = this.recent.slice(this.recentHead);
      this.recentHead = 0;
    }
  }

  private attempt(channel: string, packet: PublishPacket, deadline: number): void {
    this.options.send(channel, packet, true).then((uri) => {
      if (this.closed || typeof uri !== 'string') return;
      const now = Date.now();
      this.pruneRecent(now);
      this.recent.push({ at: now, uri, channel, packet });
    }, (error: unknown) => {
      const err = error as Error;
      if (this.closed || Date.now() >= deadline || this.retrying >= this.options.maxRetrying) {
        this.options.onLost(channel, packet.messages.length, err);
        return;
      }
      this.retryLater(channel, packet, deadline, err);
    });
  }

  private retryLater(channel: string, packet: PublishPacket, deadline: number, err: Error): void {
    this.options.onRetry(channel, err);
    this.retrying += 1;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.retrying -= 1;
      this.attempt(channel, packet, deadline);
    }, this.options.retryDelayMs);
    this.timers.add(timer);
  }

  /** Stops re-sending; packets still waiting are given up. Safe to call twice. */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.retrying = 0;
    this.recent = [];
    this.recentHead = 0;
  }
}
