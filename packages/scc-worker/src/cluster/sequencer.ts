/**
 * The receiving side of our packet numbering: per channel and per sending worker, packets carry
 * `seq` 0, 1, 2, … (see PublishPacket.seq). The sequencer delivers each packet once and in order:
 *
 * - the next expected packet is delivered at once, followed by any held packets it unblocks;
 * - a packet from the past is a duplicate (an at-least-once re-send, or an overlap) and is dropped,
 *   unless it was declared lost earlier, in which case it is delivered late rather than never;
 * - a packet from the future means a gap: during a handover the packets before it may still be on
 *   their way through the other broker, so it is held for up to `windowMs`. When the window ends
 *   the gap is declared lost (counted and reported, never silent) and delivery goes on.
 *
 * In steady state every sender's packets reach us over one ordered broker connection, so nothing is
 * ever held and the cost is a map lookup per packet.
 */

/** Why the sequencer dropped or skipped packets. */
export interface SequencerEvents {
  /** Packets `fromSeq`..`toSeq` of `sender` on `channel` never arrived within the window. */
  onLoss(channel: string, sender: string, fromSeq: number, toSeq: number): void;
  /** A packet that had already been delivered arrived again and was dropped. */
  onDuplicate(channel: string, sender: string, seq: number): void;
}

export interface SequencerOptions<T = unknown[]> extends SequencerEvents {
  /** How long a packet after a gap is held waiting for the gap to fill, ms. */
  windowMs: number;
  /** Hands a packet's payload (its messages, by default) on to local subscribers. */
  deliver(channel: string, messages: T): void;
  /** Most packets held per stream before the gap is declared lost at once (bounds memory). */
  maxHeld?: number;
}

/** Lost sequence numbers remembered per stream, so a late re-send is delivered instead of dropped. */
const MAX_MISSING_REMEMBERED = 4096;
const DEFAULT_MAX_HELD = 10_000;

interface Stream<T> {
  /** The seq expected next. */
  next: number;
  /** Packets that arrived ahead of `next`, by seq. */
  held: Map<number, T>;
  /** Seqs declared lost; a late arrival is delivered once and removed. */
  missing: Set<number>;
  timer: NodeJS.Timeout | undefined;
  /** The sweep tick at which the stream last saw a packet. */
  seenAt: number;
}

/** How often idle streams are looked for, ms. */
const SWEEP_INTERVAL_MS = 60_000;
/** Sweeps a stream may stay silent before it is forgotten (a sender that left never speaks again). */
const IDLE_SWEEPS = 5;

export class Sequencer<T = unknown[]> {
  private readonly channels = new Map<string, Map<string, Stream<T>>>();
  private readonly options: SequencerOptions<T>;
  private readonly maxHeld: number;
  private tick = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: SequencerOptions<T>) {
    this.options = options;
    this.maxHeld = options.maxHeld ?? DEFAULT_MAX_HELD;
    // A coarse clock instead of Date.now() per packet: idle streams are rare and need no precision.
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  private sweep(): void {
    this.tick += 1;
    for (const [channel, streams] of this.channels) {
      for (const [sender, stream] of streams) {
        if (stream.held.size === 0 && this.tick - stream.seenAt > IDLE_SWEEPS) streams.delete(sender);
      }
      if (streams.size === 0) this.channels.delete(channel);
    }
  }

  /** Takes one numbered packet from `sender` on `channel`. */
  accept(channel: string, sender: string, seq: number, messages: T): void {
    let streams = this.channels.get(channel);
    if (!streams) {
      streams = new Map();
      this.channels.set(channel, streams);
    }
    let stream = streams.get(sender);
    // The first packet we see from a sender starts its stream: we may have subscribed mid-stream.
    // seq 0 on a stream silent for a whole sweep interval means the sender started the channel's
    // numbering afresh (it forgets a channel after IDLE_SWEEPS idle sweeps), so the stream restarts
    // too; a seq 0 soon after other packets is a re-send and counts as a duplicate.
    if (!stream || (seq === 0 && stream.next > 0 && stream.held.size === 0 && this.tick - stream.seenAt >= 2)) {
      if (stream) this.stop(stream);
      stream = { next: seq, held: new Map(), missing: new Set(), timer: undefined, seenAt: this.tick };
      streams.set(sender, stream);
    }
    stream.seenAt = this.tick;
    if (seq === stream.next) {
      stream.next += 1;
      this.options.deliver(channel, messages);
      this.release(channel, sender, stream);
      return;
    }
    if (seq < stream.next) {
      if (stream.missing.delete(seq)) this.options.deliver(channel, messages);
      else this.options.onDuplicate(channel, sender, seq);
      return;
    }
    if (stream.held.has(seq)) {
      this.options.onDuplicate(channel, sender, seq);
      return;
    }
    stream.held.set(seq, messages);
    if (stream.held.size > this.maxHeld) {
      this.skipGap(channel, sender, stream);
      return;
    }
    stream.timer ??= setTimeout(() => {
      stream.timer = undefined;
      this.skipGap(channel, sender, stream);
    }, this.options.windowMs);
  }

  /** Delivers held packets that follow `next` without a gap. */
  private release(channel: string, sender: string, stream: Stream<T>): void {
    while (stream.held.size > 0) {
      const messages = stream.held.get(stream.next);
      if (messages === undefined) return;
      stream.held.delete(stream.next);
      stream.next += 1;
      this.options.deliver(channel, messages);
    }
    this.stop(stream);
  }

  /** The window ran out: declare the first gap lost and deliver what follows it. */
  private skipGap(channel: string, sender: string, stream: Stream<T>): void {
    if (stream.held.size === 0) return;
    const first = Math.min(...stream.held.keys());
    for (let seq = stream.next; seq < first; seq++) {
      stream.missing.add(seq);
      if (stream.missing.size > MAX_MISSING_REMEMBERED) {
        const oldest = stream.missing.values().next().value as number;
        stream.missing.delete(oldest);
      }
    }
    this.options.onLoss(channel, sender, stream.next, first - 1);
    stream.next = first;
    clearTimeout(stream.timer);
    stream.timer = undefined;
    this.release(channel, sender, stream);
    // Another gap further on gets a window of its own.
    if (stream.held.size > 0) {
      stream.timer = setTimeout(() => {
        stream.timer = undefined;
        this.skipGap(channel, sender, stream);
      }, this.options.windowMs);
    }
  }

  private stop(stream: Stream<T>): void {
    clearTimeout(stream.timer);
    stream.timer = undefined;
  }

  /**
   * Forgets a channel (its last local subscriber left), delivering whatever is held first: a
   * resubscription later starts every stream afresh instead of reporting the pause as a gap.
   */
  forgetChannel(channel: string): void {
    const streams = this.channels.get(channel);
    if (!streams) return;
    this.channels.delete(channel);
    for (const stream of streams.values()) {
      this.stop(stream);
      const seqs = [...stream.held.keys()].sort((a, b) => a - b);
      for (const seq of seqs) this.options.deliver(channel, stream.held.get(seq) as T);
    }
  }

  /** Packets held right now across all streams (for stats and tests). */
  get heldCount(): number {
    let count = 0;
    for (const streams of this.channels.values()) for (const stream of streams.values()) count += stream.held.size;
    return count;
  }

  /** Streams tracked right now. */
  get streamCount(): number {
    let count = 0;
    for (const streams of this.channels.values()) count += streams.size;
    return count;
  }

  /** Stops every timer; held packets are dropped. Safe to call twice. */
  close(): void {
    clearInterval(this.sweeper);
    for (const streams of this.channels.values()) for (const stream of streams.values()) this.stop(stream);
    this.channels.clear();
  }
}
