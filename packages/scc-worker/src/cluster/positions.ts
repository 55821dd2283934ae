/**
 * The receiving side of channel history (docs/history.md): a history channel's messages carry the
 * positions their owner broker gave them, and this stage hands them on in offset order, each once,
 * whichever broker connection or sender they came by (during a handover the old and the new owner
 * relay over two connections). Per channel it keeps the epoch and the last offset handed on:
 *
 * - the next offset is handed on at once, then any held packets it unblocks;
 * - offsets already handed on are duplicates and dropped (a packet may overlap: only its new tail goes);
 * - a later offset means a gap: the packet is held for up to `windowMs` for the gap to fill, then the
 *   gap is counted as missed and delivery goes on;
 * - another epoch means the history was lost and started again: what is held is handed on, and the
 *   channel continues in the new epoch.
 *
 * In steady state a channel's packets come in order over one connection: nothing is held, and the
 * cost is a map lookup per packet.
 */
import type { Position } from '@scc-ts/shared';

/** Messages and the position of the first of them. */
export interface PositionedBatch {
  position: Position;
  messages: unknown[];
}

export interface PositionOrderOptions {
  /** How long a packet after a gap is held, ms. */
  windowMs: number;
  /** Hands on messages in order: `messages[i]` has offset `position.offset + i`. */
  deliver(channel: string, batch: PositionedBatch): void;
  /** Offsets `from`..`to` of `epoch` never came within the window. */
  onGap(channel: string, epoch: string, from: number, to: number): void;
  /** Most packets held per channel before the gap is given up at once (bounds memory). */
  maxHeld?: number;
}

interface ChannelOrder {
  epoch: string;
  /** The last offset handed on. */
  last: number;
  /** Packets ahead of `last + 1`, by the offset of their first message. */
  held: Map<number, unknown[]>;
  timer: NodeJS.Timeout | undefined;
}

const DEFAULT_MAX_HELD = 10_000;

export class PositionOrder {
  private readonly channels = new Map<string, ChannelOrder>();
  private readonly maxHeld: number;

  constructor(private readonly options: PositionOrderOptions) {
    this.maxHeld = options.maxHeld ?? DEFAULT_MAX_HELD;
  }

  /** Takes one positioned packet. */
  accept(channel: string, position: Position, messages: unknown[]): void {
    if (messages.length === 0) return;
    const { epoch, offset } = position;
    let order = this.channels.get(channel);
    if (order === undefined || order.epoch !== epoch) {
      // The first packet seen, or a new epoch: it starts the channel's order here.
      if (order !== undefined) this.flush(channel, order);
      order = { epoch, last: offset - 1, held: new Map(), timer: undefined };
      this.channels.set(channel, order);
    }
    const end = offset + messages.length - 1;
    if (end <= order.last) return;
    if (offset > order.last + 1) {
      order.held.set(offset, messages);
      if (order.held.size > this.maxHeld) this.skipGap(channel, order);
      else order.timer ??= setTimeout(() => this.skipGap(channel, order), this.options.windowMs);
      return;
    }
    this.hand(channel, order, offset, messages);
    this.release(channel, order);
  }

  /** Hands on the part of a packet after `last` (offset ≤ last + 1 ≤ its end). */
  private hand(channel: string, order: ChannelOrder, offset: number, messages: unknown[]): void {
    const skip = order.last + 1 - offset;
    const fresh = skip > 0 ? messages.slice(skip) : messages;
    order.last = offset + messages.length - 1;
    this.options.deliver(channel, { position: { epoch: order.epoch, offset: offset + Math.max(0, skip) }, messages: fresh });
  }

  /** Hands on held packets that now follow in order. */
  private release(channel: string, order: ChannelOrder): void {
    while (order.held.size > 0) {
      let progressed = false;
      for (const [offset, messages] of order.held) {
        if (offset > order.last + 1) continue;
        order.held.delete(offset);
        if (offset + messages.length - 1 > order.last) this.hand(channel, order, offset, messages);
        progressed = true;
      }
      if (!progressed) break;
    }
    if (order.held.size === 0 && order.timer !== undefined) {
      clearTimeout(order.timer);
      order.timer = undefined;
    }
  }

  /** The window ended (or too much is held): the gap before the oldest held packet is missed. */
  private skipGap(channel: string, order: ChannelOrder): void {
    clearTimeout(order.timer);
    order.timer = undefined;
    if (this.channels.get(channel) !== order || order.held.size === 0) return;
    const oldest = Math.min(...order.held.keys());
    this.options.onGap(channel, order.epoch, order.last + 1, oldest - 1);
    order.last = oldest - 1;
    this.release(channel, order);
    if (order.held.size > 0) order.timer = setTimeout(() => this.skipGap(channel, order), this.options.windowMs);
  }

  /** Hands on everything held, in order, gaps counted (an epoch ended). */
  private flush(channel: string, order: ChannelOrder): void {
    while (order.held.size > 0) {
      const oldest = Math.min(...order.held.keys());
      if (oldest > order.last + 1) {
        this.options.onGap(channel, order.epoch, order.last + 1, oldest - 1);
        order.last = oldest - 1;
      }
      this.release(channel, order);
    }
    clearTimeout(order.timer);
    order.timer = undefined;
  }

  /** The channel's last local subscriber left: held packets are handed on and its order forgotten. */
  forgetChannel(channel: string): void {
    const order = this.channels.get(channel);
    if (order === undefined) return;
    this.flush(channel, order);
    this.channels.delete(channel);
  }

  /** Packets held now (all channels). */
  get heldCount(): number {
    let count = 0;
    for (const order of this.channels.values()) count += order.held.size;
    return count;
  }

  /** Stops the timers; held packets are dropped. */
  close(): void {
    for (const order of this.channels.values()) clearTimeout(order.timer);
    this.channels.clear();
  }
}
