/**
 * The sending side of the data path, from a local publish to the router: messages are gathered per
 * channel into one `{sender, messages, seq}` packet (batching), each packet is numbered in its
 * channel's stream (`seq`, our extension of the original's packet) and handed to the router once
 * (at-most-once) or until a broker acknowledges it (at-least-once: re-sent after a failure to
 * whichever broker owns the channel by then; receivers drop the duplicates this can cause by seq).
 *
 * Batching (`batchMs`, the original's `pubSubBatchDuration`): with a window, each channel's
 * messages go once per window, the window starting with the first message after a flush. With a 0
 * window it is adaptive (`batchIntervalMs`): the first messages after a quiet spell go at the end
 * of the current event-loop turn, adding no delay; under sustained load flushes come at most once
 * per interval, so each broker connection carries one frame per interval instead of one per turn.
 * Without batching (null) every message is its own packet, sent at once.
 */
import { InvalidChannelError, type Logger, type PublishPacket } from '@scc-ts/shared';
import { ThrottledWarnings, type ClusterStats } from './stats.js';

/** `at-most-once` (default, the original's behaviour) or `at-least-once`. */
export type DeliveryMode = 'at-most-once' | 'at-least-once';
/** Every delivery mode, for validating options. */
export const DELIVERY_MODES: readonly DeliveryMode[] = ['at-most-once', 'at-least-once'];

/** The next stage: the router, as the outbound stage uses it. */
export interface OutboundRoute {
  /**
   * Sends one packet to the channel's broker. `strict` (at-least-once): resolves with the URI of
   * the broker that acknowledged it.
   */
  publish(channel: string, packet: PublishPacket, strict: boolean): Promise<string | void>;
  /** Calls `listener` when a broker's connection drops; returns a remover. */
  onBrokerDown(listener: (uri: string) => void): () => void;
  /** Calls `listener` when publishing leaves a broker the state server withdrew (up, but unreachable from some worker); returns a remover. */
  onBrokerWithdrawn(listener: (uri: string) => void): () => void;
  /** Whether the list published to now withdrew `uri`. */
  isWithdrawn(uri: string): boolean;
}

/** What the outbound stage needs; the at-least-once timings (ms) have defaults. */
export interface OutboundOptions {
  /** This worker's instanceId, the packets' `sender`. */
  sender: string;
  route: OutboundRoute;
  /** The delivery mode of a channel. */
  modeFor(channel: string): DeliveryMode;
  /** Batch window, ms; 0: adaptive (see above); null: no batching. */
  batchMs: number | null;
  /** With a 0 window: the shortest time between two flushes under load, ms (0: every turn). */
  batchIntervalMs: number;
  /** At-least-once: how long a packet is retried before it is given up as lost, ms. */
  retryTimeoutMs: number;
  /** At-least-once: pause before re-sending a failed packet, ms. */
  retryDelayMs?: number;
  /** At-least-once: how long an acknowledged packet is kept in case its broker dies right after, ms. */
  lingerMs?: number;
  /** At-least-once: most packets awaiting a re-send at once; beyond it packets are given up (bounds memory). */
  maxRetrying?: number;
  stats: ClusterStats;
  logger: Logger;
}

/** At-least-once: pause before re-sending a failed packet, ms (the router has routed around a dead broker by then). */
const PUBLISH_RETRY_DELAY_MS = 50;
/**
 * At-least-once: how long an acknowledged packet is kept for a re-send should its broker die or be
 * withdrawn, ms. A broker acknowledges once it has queued the relay, not once the subscriber has it:
 * under load its outbound queue to a worker can hold seconds of traffic, which a kill throws away; and
 * a worker silently cut off from it hears nothing from the cut until the state server withdraws the
 * broker — the link timeout (3 s by default), the scale-back debounce (1 s) and the handover's
 * rounds — so the window covers that with room to spare.
 */
const ACKED_PACKET_LINGER_MS = 10_000;
/** At-least-once: most packets awaiting a re-send at once. */
const MAX_RETRYING_PACKETS = 100_000;
/** Granularity of the idle-counter clock, ms. */
const SWEEP_INTERVAL_MS = 60_000;
/** Sweep intervals a channel's counter may stay unused before it is forgotten; receivers restart a stream at seq 0. */
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
  /** The sweep interval (Date.now() / SWEEP_INTERVAL_MS) of the last use. */
  usedAt: number;
}

/** Batches, numbers and sends this worker's publishes (see above). */
export class Outbound {
  private readonly options: OutboundOptions;
  private readonly route: OutboundRoute;
  private readonly warnings: ThrottledWarnings;
  private readonly retryDelayMs: number;
  private readonly lingerMs: number;
  private readonly maxRetrying: number;
  private buffers = new Map<string, unknown[]>();
  private batchTimer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private lastFlushAt = 0;
  private readonly counters = new Map<string, Counter>();
  /** The sweep interval in which idle counters were last looked for. */
  private sweptAt = 0;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  /**
   * Acknowledged at-least-once packets of the last `lingerMs`, oldest first. A broker acknowledges
   * once it has written the relay to its subscribers' sockets; if it is killed a moment later the
   * kernel can still drop what it had not sent, so these are re-sent when their broker goes down.
   */
  private recent: Recent[] = [];
  private recentHead = 0;
  private retrying = 0;
  private readonly stopWatching: Array<() => void>;
  private closed = false;

  constructor(options: OutboundOptions) {
    this.options = options;
    this.route = options.route;
    this.warnings = new ThrottledWarnings(options.logger);
    this.retryDelayMs = options.retryDelayMs ?? PUBLISH_RETRY_DELAY_MS;
    this.lingerMs = options.lingerMs ?? ACKED_PACKET_LINGER_MS;
    this.maxRetrying = options.maxRetrying ?? MAX_RETRYING_PACKETS;
    this.stopWatching = [options.route.onBrokerDown((uri) => this.brokerDown(uri)), options.route.onBrokerWithdrawn((uri) => this.brokerWithdrawn(uri))];
  }

  /** Takes one locally published message on `channel`. */
  publish(channel: string, message: unknown): void {
    // A raw ArrayBuffer would encode as {} on the broker link (JSON.stringify's view of it); a Buffer keeps its bytes.
    const data = message instanceof ArrayBuffer ? Buffer.from(message) : message;
    const { batchMs } = this.options;
    if (batchMs === null || this.closed) {
      this.send(channel, [data], Date.now());
      return;
    }
    const buffer = this.buffers.get(channel);
    if (buffer) buffer.push(data);
    else this.buffers.set(channel, [data]);
    if (batchMs > 0) {
      this.batchTimer ??= setTimeout(() => this.flush(), batchMs);
      return;
    }
    // A 0 window ends with the current event-loop turn (setImmediate: after the I/O callbacks that published together).
    if (this.immediate || this.batchTimer) return;
    const interval = this.options.batchIntervalMs;
    const wait = interval === 0 ? 0 : this.lastFlushAt + interval - Date.now();
    if (wait <= 0) this.immediate = setImmediate(() => this.flush());
    else this.batchTimer = setTimeout(() => this.flush(), wait);
  }

  /** Sends everything buffered now, one packet per channel. */
  flush(): void {
    const now = Date.now();
    if (this.options.batchIntervalMs > 0) this.lastFlushAt = now;
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    const buffers = this.buffers;
    if (buffers.size === 0) return;
    this.buffers = new Map();
    for (const [channel, messages] of buffers) this.send(channel, messages, now);
  }

  /** Numbers one packet of this worker's messages on `channel` and hands it to the router; `now` in ms. */
  private send(channel: string, messages: unknown[], now: number): void {
    const interval = Math.floor(now / SWEEP_INTERVAL_MS);
    if (interval !== this.sweptAt) this.sweep(interval);
    let counter = this.counters.get(channel);
    if (!counter) {
      counter = { next: 0, usedAt: interval };
      this.counters.set(channel, counter);
    }
    counter.usedAt = interval;
    const packet: PublishPacket = { sender: this.options.sender, messages, seq: counter.next++ };
    if (this.options.modeFor(channel) === 'at-least-once') {
      this.attempt(channel, packet, now + this.options.retryTimeoutMs);
      return;
    }
    this.options.stats.packetsOut += 1;
    this.route.publish(channel, packet, false).catch((error: unknown) => this.lost(channel, messages.length, error as Error));
  }

  /**
   * Forgets the counters of channels idle for IDLE_SWEEPS intervals. Done on the send path, at most
   * once per interval, so an idle worker keeps no timer; a forgotten channel starts again at seq 0.
   */
  private sweep(interval: number): void {
    this.sweptAt = interval;
    for (const [channel, counter] of this.counters) {
      if (interval - counter.usedAt > IDLE_SWEEPS) this.counters.delete(channel);
    }
  }

  /** `resent`: this send already re-sends the packet after a withdrawal (it is not re-sent for one again). */
  private attempt(channel: string, packet: PublishPacket, deadline: number, resent = false): void {
    this.options.stats.packetsOut += 1;
    this.route.publish(channel, packet, true).then(
      (uri) => {
        if (this.closed || typeof uri !== 'string') return;
        // Acknowledged by a broker withdrawn since it was sent: a worker cut off from it missed it.
        if (!resent && this.route.isWithdrawn(uri)) {
          this.options.stats.withdrawalResends += 1;
          this.attempt(channel, packet, deadline, true);
          return;
        }
        const now = Date.now();
        this.pruneRecent(now);
        this.recent.push({ at: now, uri, channel, packet });
      },
      (error: unknown) => {
        const err = error as Error;
        // A refused channel name stays refused: no re-send.
        if (this.closed || err instanceof InvalidChannelError || Date.now() >= deadline || this.retrying >= this.maxRetrying) {
          this.lost(channel, packet.messages.length, err);
          return;
        }
        this.retryLater(channel, packet, deadline);
      },
    );
  }

  private retryLater(channel: string, packet: PublishPacket, deadline: number): void {
    this.options.stats.publishRetries += 1;
    this.retrying += 1;
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      this.retrying -= 1;
      this.attempt(channel, packet, deadline);
    }, this.retryDelayMs);
    this.retryTimers.add(timer);
  }

  private lost(channel: string, count: number, err: Error): void {
    this.options.stats.publishFailures += 1;
    this.options.stats.messagesLost += count;
    this.warnings.warn(`lost:${err.name}`, `publish to ${channel} failed, ${count} messages lost: ${err.name}: ${err.message}`);
  }

  /** A broker's connection dropped: re-send what it acknowledged in the last `lingerMs` (receivers drop duplicates). */
  brokerDown(uri: string): void {
    if (this.closed) return;
    const deadline = Date.now() + this.options.retryTimeoutMs;
    for (const entry of this.recentTo(uri)) this.retryLater(entry.channel, entry.packet, deadline);
  }

  /**
   * Publishing left a broker the state server withdrew: re-send at once (ahead of what is published
   * next, so receivers get them in order) what it acknowledged in the last `lingerMs`; a worker cut off
   * from it never heard them, the others drop the copies by seq.
   */
  brokerWithdrawn(uri: string): void {
    if (this.closed) return;
    const deadline = Date.now() + this.options.retryTimeoutMs;
    const resend = this.recentTo(uri);
    this.options.stats.withdrawalResends += resend.length;
    for (const entry of resend) this.attempt(entry.channel, entry.packet, deadline, true);
  }

  /** The packets `uri` acknowledged within the linger time, oldest first. */
  private recentTo(uri: string): Recent[] {
    this.pruneRecent(Date.now());
    const found: Recent[] = [];
    for (let i = this.recentHead; i < this.recent.length; i++) {
      const entry = this.recent[i] as Recent;
      if (entry.uri === uri) found.push(entry);
    }
    return found;
  }

  private pruneRecent(now: number): void {
    const cutoff = now - this.lingerMs;
    while (this.recentHead < this.recent.length && (this.recent[this.recentHead] as Recent).at < cutoff) this.recentHead += 1;
    // Compact now and then instead of shifting per packet.
    if (this.recentHead > 1024 && this.recentHead * 2 > this.recent.length) {
      this.recent = this.recent.slice(this.recentHead);
      this.recentHead = 0;
    }
  }

  /**
   * Flushes what is buffered, then stops re-sending: packets still waiting are given up. Later
   * publishes go out unbatched, once. Safe to call twice.
   */
  close(): void {
    this.flush();
    if (this.closed) return;
    this.closed = true;
    for (const stop of this.stopWatching) stop();
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    this.retrying = 0;
    this.recent = [];
    this.recentHead = 0;
  }
}
